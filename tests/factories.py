"""factory_boy factories for the portal's models."""

import datetime

import factory
from factory.django import DjangoModelFactory

from portal.models import (
    ICB,
    ICBMembership,
    Region,
    Trust,
    TrustICBMembership,
    TrustMembership,
    TrustRole,
    User,
)

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.nhs.uk")
    full_name = factory.Faker("name", locale="en_GB")
    job_title = "Social worker"
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class RegionFactory(DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"Y{n:02d}")
    name = factory.Sequence(lambda n: f"Region {n}")


class ICBFactory(DjangoModelFactory):
    class Meta:
        model = ICB

    ods_code = factory.Sequence(lambda n: f"Q{n:02d}")
    name = factory.Sequence(lambda n: f"NHS Example {n} Integrated Care Board")
    region = factory.SubFactory(RegionFactory)
    open_date = datetime.date(2022, 7, 1)


class TrustFactory(DjangoModelFactory):
    class Meta:
        model = Trust

    ods_code = factory.Sequence(lambda n: f"R{n:02d}")
    name = factory.Sequence(lambda n: f"Example {n} Mental Health NHS Foundation Trust")
    region = factory.SubFactory(RegionFactory)
    open_date = datetime.date(2000, 4, 1)


class TrustICBMembershipFactory(DjangoModelFactory):
    class Meta:
        model = TrustICBMembership

    trust = factory.SubFactory(TrustFactory)
    icb = factory.SubFactory(ICBFactory)
    is_host = True
    start_date = datetime.date(2022, 7, 1)


class TrustMembershipFactory(DjangoModelFactory):
    class Meta:
        model = TrustMembership

    user = factory.SubFactory(UserFactory)
    trust = factory.SubFactory(TrustFactory)
    role = TrustRole.CONTRIBUTOR


class ICBMembershipFactory(DjangoModelFactory):
    class Meta:
        model = ICBMembership

    user = factory.SubFactory(UserFactory)
    icb = factory.SubFactory(ICBFactory)


def approve_as_it_stands(assessment):
    """Freeze an approval of the assessment as it is (an approved snapshot, however incomplete).

    For tests of what happens after approval, such as carry-forward, without answering everything.
    """
    from assessments import services
    from assessments.models import Approval, AssessmentState

    snapshot = services.build_snapshot(assessment, sign_off={"name": "E", "role": "R", "statement": "S"})
    Approval.objects.create(
        assessment=assessment,
        revision=assessment.revision,
        approver_name="E",
        approver_role="R",
        statement="S",
        snapshot=snapshot,
        content_hash=services.content_hash(snapshot),
    )
    assessment.state = AssessmentState.APPROVED
    assessment.save(update_fields=["state"])
    return assessment


def confirmed_authenticator(user):
    """The person's authenticator app, set up (as at their first sign-in)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def current_code(device):
    """The 6-digit code the person's app shows now."""
    from django_otp.oath import TOTP

    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def sign_in_with_two_factor(client, user):
    """Sign the test client in as ``user`` with both factors done (password and security code).

    Tests of pages use this; tests/test_two_factor.py goes through the real sign-in steps.
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = confirmed_authenticator(user).persistent_id
    session.save()
    return client
