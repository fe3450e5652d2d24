"""seed_demo gives a newcomer the framework, the organisations and one sign-in per role, idempotently."""

import pytest
from django.core.management import CommandError, call_command

from assessments import services
from assessments.models import (
    Action,
    Approval,
    Assessment,
    AssessmentEvent,
    AssessmentState,
    AuditAction,
    EvidenceItem,
    IndicatorValue,
    Response,
    ResponseEvidence,
)
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


DEMO_MODELS = [
    User,
    TrustMembership,
    Trust,
    Framework,
    Assessment,
    Response,
    AssessmentEvent,
    Approval,
    EvidenceItem,
    ResponseEvidence,
    IndicatorValue,
    Action,
]


def test_running_twice_changes_nothing(seeded, capsys):
    """Idempotent: same rows, same assessments, passwords untouched."""
    counts = {model.__name__: model.objects.count() for model in DEMO_MODELS}
    passwords = dict(User.objects.values_list("email", "password"))
    states = dict(Assessment.objects.values_list("pk", "state"))
    hashes = dict(Approval.objects.values_list("pk", "content_hash"))
    call_command("seed_demo")
    assert {model.__name__: model.objects.count() for model in DEMO_MODELS} == counts
    assert dict(User.objects.values_list("email", "password")) == passwords
    assert dict(Assessment.objects.values_list("pk", "state")) == states
    assert dict(Approval.objects.values_list("pk", "content_hash")) == hashes


def test_refuses_outside_development(db, settings):
    """Demo accounts with a published password never reach a live service by accident."""
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_demo_assessments_in_every_state(seeded):
    """Draft, awaiting sign-off, returned, approved and reopened are all there to look at."""
    states = set(Assessment.objects.values_list("state", flat=True))
    assert states == set(AssessmentState.values)
    reopened = Assessment.objects.get(revision__gt=1)
    assert reopened.state == AssessmentState.DRAFT
    assert reopened.approvals.filter(revision=reopened.revision - 1).exists()
    assert Assessment.objects.filter(state=AssessmentState.RETURNED).exclude(returned_reason="").exists()


def test_leeds_and_york_has_two_approved_years_and_a_carried_forward_draft(seeded):
    """Carry-forward and year-on-year comparison have something to show."""
    rgd = {a.cycle.label: a for a in Assessment.objects.filter(trust__ods_code="RGD").select_related("cycle")}
    assert {label: a.state for label, a in rgd.items()} == {
        "2024/25": AssessmentState.APPROVED,
        "2025/26": AssessmentState.APPROVED,
        "2026/27": AssessmentState.DRAFT,
    }
    draft = rgd["2026/27"]
    assert draft.carried_forward_from == rgd["2025/26"]
    assert draft.responses.filter(carried_forward=True).exists()
    assert draft.responses.filter(carried_forward=False, rating__isnull=False).exists()
    assert draft.responses.filter(assignee__email="analyst@example.nhs.uk").exists()
    assert draft.indicator_values.exists()
    assert draft.actions.exists()


def test_every_demo_trust_in_both_icbs_has_a_current_assessment(seeded):
    """Each trust of the two demo ICBs has last year approved and this year under way, with people to act."""
    for trust in Trust.objects.filter(icb_memberships__icb__ods_code__in=["QWO", "QYG"]).distinct():
        labels = dict(Assessment.objects.filter(trust=trust).values_list("cycle__label", "state"))
        assert labels.get("2025/26") == AssessmentState.APPROVED, trust
        assert "2026/27" in labels, trust
        roles = set(trust.memberships.values_list("role", flat=True))
        assert {TrustRole.LEAD, TrustRole.EXECUTIVE} <= roles, trust


def test_demo_assessments_are_built_through_the_services(seeded):
    """Audit trails, evidence, ratings and untampered approvals, as if people had done the work."""
    for assessment in Assessment.objects.all():
        actions = set(assessment.events.values_list("action", flat=True))
        assert AuditAction.STARTED in actions
        assert AuditAction.RESPONSE_CHANGED in actions
    for approval in Approval.objects.all():
        assert approval.content_hash == services.content_hash(approval.snapshot)
        assert approval.assessment.events.filter(action=AuditAction.APPROVED, revision=approval.revision).exists()
    assert not Response.objects.filter(rating__isnull=False, rationale="").exists()
    ratings = set(Response.objects.exclude(rating=None).values_list("rating__value", flat=True))
    assert ratings == {1, 2, 3, 4}
    assert EvidenceItem.objects.filter(kind="link").exists()
    assert ResponseEvidence.objects.exists()


def test_prints_the_demo_assessments(seeded):
    """The newcomer learns which trust shows which state."""
    assert "lead.rxg@example.nhs.uk" in seeded
    assert "Awaiting sign-off" in seeded
    assert "Draft (reopened), revision 2" in seeded


def test_demo_icb_has_approvals_over_several_cycles_for_the_comparison(seeded):
    """West Yorkshire has approved assessments in three cycles, including this one, so trends mean something."""
    approved = Approval.objects.filter(assessment__trust__icb_memberships__icb__ods_code="QWO")
    by_cycle = {}
    for label, trust in approved.values_list("assessment__cycle__label", "assessment__trust__ods_code"):
        by_cycle.setdefault(label, set()).add(trust)
    assert len(by_cycle["2024/25"]) >= 2
    assert by_cycle["2025/26"] == {"TAD", "RGD", "RXG"}
    assert by_cycle["2026/27"]
