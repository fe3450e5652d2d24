"""seed_demo gives a newcomer the framework, the organisations and one sign-in per role, idempotently."""

import pytest
from django.core.management import CommandError, call_command

from portal.management.commands.seed_demo import DEMO_PASSWORD
from portal.models import ICB, ICBMembership, Trust, TrustMembership, TrustRole, User
from requirements.models import Framework


@pytest.fixture
def seeded(db, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    return capsys.readouterr().out


def test_creates_one_sign_in_per_role_with_the_demo_password(seeded):
    """Every role has a demo person who can sign in with the published password."""
    roles = set(TrustMembership.objects.values_list("role", flat=True))
    assert roles == set(TrustRole.values)
    assert ICBMembership.objects.filter(user__email="ics@example.nhs.uk").exists()
    assert User.objects.get(email="admin@example.nhs.uk").is_staff
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD), user.email


def test_loads_framework_and_two_icbs_of_real_trusts(seeded):
    """The published framework and the real organisations are there."""
    assert Framework.objects.current() is not None
    for code in ["QWO", "QYG"]:
        assert Trust.objects.filter(icb_memberships__icb__ods_code=code).count() >= 2
    assert ICB.objects.count() == 42


def test_prints_the_sign_ins(seeded):
    """The command tells the newcomer how to sign in."""
    assert "lead@example.nhs.uk" in seeded
    assert DEMO_PASSWORD in seeded


def test_running_twice_changes_nothing(seeded, capsys):
    """Idempotent: same rows, passwords untouched."""
    counts = (User.objects.count(), TrustMembership.objects.count(), Trust.objects.count(), Framework.objects.count())
    passwords = dict(User.objects.values_list("email", "password"))
    call_command("seed_demo")
    assert (
        User.objects.count(),
        TrustMembership.objects.count(),
        Trust.objects.count(),
        Framework.objects.count(),
    ) == counts
    assert dict(User.objects.values_list("email", "password")) == passwords


def test_refuses_outside_development(db, settings):
    """Demo accounts with a published password never reach a live service by accident."""
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")
    assert not User.objects.exists()
