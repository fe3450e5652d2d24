"""Trust data is read through visible_to(user): positive and negative pairs."""

import datetime

import pytest

from assessments.models import Assessment, AssessmentState, Cycle
from portal.models import Trust
from requirements.models import Framework, FrameworkStatus


def test_member_sees_own_trust(lead, trust):
    """A trust's people see their trust."""
    assert trust in Trust.objects.visible_to(lead)


def test_member_does_not_see_other_trust(lead, other_trust, neighbour_trust):
    """...and no other, not even one in the same ICB."""
    visible = Trust.objects.visible_to(lead)
    assert other_trust not in visible
    assert neighbour_trust not in visible


def test_ics_lead_sees_trusts_in_their_icb(ics_lead, trust, neighbour_trust):
    """ICS leads see every trust in their ICBs."""
    assert set(Trust.objects.visible_to(ics_lead)) == {trust, neighbour_trust}


def test_ics_lead_does_not_see_trusts_elsewhere(ics_lead, other_trust):
    """...and none outside them."""
    assert other_trust not in Trust.objects.visible_to(ics_lead)


def test_ics_lead_no_longer_sees_a_trust_that_left_their_icb(ics_lead, trust, icb):
    """Visibility follows the membership's dates: a trust that left the ICB drops out."""
    trust.icb_memberships.filter(icb=icb).update(end_date=datetime.date(2024, 3, 31))
    assert trust not in Trust.objects.visible_to(ics_lead)


def test_ics_lead_does_not_see_a_trust_joining_later(ics_lead, other_trust, icb):
    """A membership starting in the future gives no access yet."""
    from tests.factories import TrustICBMembershipFactory

    TrustICBMembershipFactory(trust=other_trust, icb=icb, is_host=False, start_date=datetime.date(2099, 4, 1))
    assert other_trust not in Trust.objects.visible_to(ics_lead)


def test_administrator_sees_no_trust_data(administrator, trust):
    """Platform administrators have no routine access."""
    assert not Trust.objects.visible_to(administrator).exists()


def test_anonymous_sees_nothing(trust):
    """Signed-out visitors see no trust."""
    from django.contrib.auth.models import AnonymousUser

    assert not Trust.objects.visible_to(AnonymousUser()).exists()


@pytest.fixture
def assessments(trust, other_trust):
    framework = Framework.objects.create(
        slug="f",
        title="F",
        publisher="P",
        version="1",
        publication_date=datetime.date(2026, 1, 1),
        status=FrameworkStatus.PUBLISHED,
    )
    last = Cycle.objects.create(label="2025/26", snapshot_date="2025-03-31", submission_deadline="2025-06-30")
    this = Cycle.objects.create(label="2026/27", snapshot_date="2026-03-31", submission_deadline="2026-06-30")
    return {
        "approved": Assessment.objects.create(
            trust=trust, cycle=last, framework=framework, state=AssessmentState.APPROVED
        ),
        "draft": Assessment.objects.create(trust=trust, cycle=this, framework=framework),
        "elsewhere": Assessment.objects.create(
            trust=other_trust, cycle=this, framework=framework, state=AssessmentState.APPROVED
        ),
    }


@pytest.mark.parametrize("person", ["lead", "contributor", "executive"])
def test_working_roles_see_drafts_and_approved(assessments, person, request):
    """Leads, contributors and executives see their trust's assessments in every state."""
    user = request.getfixturevalue(person)
    assert set(Assessment.objects.visible_to(user)) == {assessments["approved"], assessments["draft"]}


def test_board_reader_sees_approved_only(assessments, board_reader):
    """Board readers see what was signed off, never drafts."""
    assert list(Assessment.objects.visible_to(board_reader)) == [assessments["approved"]]


def test_ics_lead_sees_approved_only(assessments, ics_lead):
    """ICS leads never see drafts."""
    assert list(Assessment.objects.visible_to(ics_lead)) == [assessments["approved"]]


def test_outsider_sees_only_own_trust_assessments(assessments, outsider):
    """Another trust's lead sees their own trust's assessment and nothing of ours."""
    assert list(Assessment.objects.visible_to(outsider)) == [assessments["elsewhere"]]


def test_ics_lead_sees_past_approved_assessment_of_a_trust_that_has_since_left(assessments, ics_lead, trust, icb):
    """Past assessments roll up to the ICB the trust belonged to at the cycle's snapshot date."""
    trust.icb_memberships.filter(icb=icb).update(end_date=datetime.date(2025, 12, 31))
    assert list(Assessment.objects.visible_to(ics_lead)) == [assessments["approved"]]


def test_ics_lead_does_not_see_assessment_from_before_the_trust_joined(assessments, ics_lead, trust, icb):
    """A cycle whose snapshot date falls before the membership started is not the ICB's."""
    trust.icb_memberships.filter(icb=icb).update(start_date=datetime.date(2025, 4, 1))
    assert not Assessment.objects.visible_to(ics_lead).exists()
