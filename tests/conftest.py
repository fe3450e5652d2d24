"""The fixed cast of people every test can use.

Two trusts in one ICB (``trust`` and ``neighbour_trust``) and a third in another ICB
(``other_trust``). Each role at ``trust`` has its own person; ``outsider`` leads
``other_trust`` and must see nothing of ``trust``.
"""

import datetime

import pytest
from django.core.cache import caches

from portal.models import TrustRole
from tests.factories import (
    ICBFactory,
    ICBMembershipFactory,
    RegionFactory,
    TrustFactory,
    TrustICBMembershipFactory,
    TrustMembershipFactory,
    UserFactory,
    sign_in_with_two_factor,
)


@pytest.fixture(autouse=True)
def _empty_section_cache():
    """Each test starts with no cached page sections in this process: their keys are row ids, which tests reuse."""
    caches["sections"].clear()
    caches["comparison"].clear()


@pytest.fixture
def region(db):
    return RegionFactory(code="Y61", name="East of England")


@pytest.fixture
def icb(region):
    return ICBFactory(ods_code="QUE", name="NHS Cambridgeshire and Peterborough Integrated Care Board", region=region)


@pytest.fixture
def other_icb(region):
    return ICBFactory(ods_code="QM7", name="NHS Hertfordshire and West Essex Integrated Care Board", region=region)


@pytest.fixture
def trust(icb):
    trust = TrustFactory(ods_code="RT1", name="Cambridgeshire and Peterborough NHS Foundation Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


@pytest.fixture
def neighbour_trust(icb):
    trust = TrustFactory(ods_code="RX1", name="Neighbouring Mental Health NHS Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


@pytest.fixture
def other_trust(other_icb):
    trust = TrustFactory(
        ods_code="RWR", name="Hertfordshire Partnership University NHS Foundation Trust", region=other_icb.region
    )
    TrustICBMembershipFactory(trust=trust, icb=other_icb)
    return trust


def _member(trust, role, email, name):
    return TrustMembershipFactory(trust=trust, role=role, user=UserFactory(email=email, full_name=name)).user


@pytest.fixture
def lead(trust):
    return _member(trust, TrustRole.LEAD, "lead@example.nhs.uk", "Leah Lead")


@pytest.fixture
def contributor(trust):
    return _member(trust, TrustRole.CONTRIBUTOR, "contributor@example.nhs.uk", "Connor Contributor")


@pytest.fixture
def executive(trust):
    return _member(trust, TrustRole.EXECUTIVE, "executive@example.nhs.uk", "Esther Executive")


@pytest.fixture
def board_reader(trust):
    return _member(trust, TrustRole.BOARD_READER, "board@example.nhs.uk", "Bola Board")


@pytest.fixture
def ics_lead(icb):
    return ICBMembershipFactory(icb=icb, user=UserFactory(email="ics@example.nhs.uk", full_name="Isla ICS")).user


@pytest.fixture
def outsider(other_trust):
    return _member(other_trust, TrustRole.LEAD, "outsider@example.nhs.uk", "Otto Outsider")


@pytest.fixture
def administrator(db):
    return UserFactory(email="admin@example.nhs.uk", full_name="Ada Admin", is_staff=True, is_superuser=True)


@pytest.fixture
def client_for(client):
    """Sign the test client in as a person: ``client_for(lead).get(...)``."""

    def sign_in(user):
        return sign_in_with_two_factor(client, user)

    return sign_in


@pytest.fixture
def published_framework(db):
    """The project's own framework file, loaded as the platform administrator would."""
    from django.conf import settings
    from django.core.management import call_command

    from requirements.models import Framework

    for path in sorted((settings.BASE_DIR / "fixtures" / "frameworks").glob("*.toml")):
        call_command("load_framework", str(path), verbosity=0)
    return Framework.objects.current()


@pytest.fixture
def cycle(db):
    from assessments.models import Cycle

    return Cycle.objects.create(
        label="2026/27", snapshot_date=datetime.date(2026, 3, 31), submission_deadline=datetime.date(2026, 6, 30)
    )


@pytest.fixture
def previous_cycle(db):
    from assessments.models import Cycle

    return Cycle.objects.create(
        label="2025/26", snapshot_date=datetime.date(2025, 3, 31), submission_deadline=datetime.date(2025, 6, 30)
    )


@pytest.fixture
def assessment(trust, lead, cycle, published_framework):
    """A blank draft of ``trust``'s 2026/27 assessment, started by the lead."""
    from assessments import services

    return services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=False)


@pytest.fixture
def complete_assessment(assessment, lead):
    """The draft with every requirement rated (3 – Largely met) with a rationale and marked ready."""
    from assessments import services

    level = assessment.framework.rating_levels.get(value=3)
    for response in assessment.responses.select_related("requirement"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=level,
            rationale=f"Evidence for {response.requirement.code} shows arrangements operating with minor gaps.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )
    return assessment
