"""Submit, return, approve and reopen: every transition and every refusal, at service level."""

import datetime

import pytest

from assessments import services
from assessments.models import Approval, AssessmentEvent, AssessmentState, AuditAction
from assessments.services import AssessmentError


def events(assessment, action):
    return list(
        AssessmentEvent.objects.filter(assessment=assessment, action=action)
        .order_by("id")
        .values_list("actor__email", "field", "before", "after", "revision")
    )


def approve(assessment, executive, **overrides):
    values = {
        "approver_name": executive.full_name,
        "approver_role": "Chief Nurse",
        "statement": "I confirm this is a fair reflection of the trust's position.",
    }
    return services.approve(assessment=assessment, approved_by=executive, **{**values, **overrides})


@pytest.fixture
def submitted(complete_assessment, lead):
    return services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)


@pytest.fixture
def approval(submitted, executive):
    return approve(submitted, executive)


# ---- submitting -----------------------------------------------------------------------------


def test_lead_submits_complete_assessment(complete_assessment, lead):
    """Submission moves the assessment to awaiting sign-off and records who and when."""
    assessment = services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.AWAITING_SIGN_OFF
    assert assessment.submitted_by == lead
    assert assessment.submitted_at is not None
    assert events(assessment, AuditAction.SUBMITTED) == [
        ("lead@example.nhs.uk", "State", "Draft", "Awaiting sign-off", 1)
    ]


def test_submitting_incomplete_assessment_lists_missing_codes(assessment, lead):
    """Every unrated requirement is named, and nothing changes."""
    level = assessment.framework.rating_levels.get(value=2)
    responses = list(assessment.responses.select_related("requirement"))
    for response in responses[:-2]:
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=level,
            rationale="Partly in place.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )
    missing_codes = [r.requirement.code for r in responses[-2:]]

    with pytest.raises(AssessmentError) as refusal:
        services.submit_for_sign_off(assessment=assessment, submitted_by=lead)

    assert f"Missing: {', '.join(missing_codes)}." in str(refusal.value)
    assert [r.requirement.code for r in services.missing_for_submission(assessment)] == missing_codes
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.DRAFT
    assert events(assessment, AuditAction.SUBMITTED) == []


@pytest.mark.parametrize("person", ["contributor", "executive", "board_reader", "outsider"])
def test_only_the_lead_can_submit(complete_assessment, person, request):
    """Contributors, executives and anyone else are refused."""
    user = request.getfixturevalue(person)
    with pytest.raises(AssessmentError, match="Only a social work lead can submit"):
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=user)
    complete_assessment.refresh_from_db()
    assert complete_assessment.state == AssessmentState.DRAFT


def test_cannot_submit_twice(submitted, lead):
    """An assessment awaiting sign-off cannot be submitted again."""
    with pytest.raises(AssessmentError, match="awaiting sign-off and cannot be changed"):
        services.submit_for_sign_off(assessment=submitted, submitted_by=lead)
    assert len(events(submitted, AuditAction.SUBMITTED)) == 1


def test_editing_stops_once_submitted(submitted, lead):
    """Answers and the improvement plan are locked while the executive decides."""
    response = submitted.responses.first()
    with pytest.raises(AssessmentError, match="cannot be changed"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=None,
            rationale="",
            strengths="",
            gaps_and_risks="",
            ready=False,
        )
    with pytest.raises(AssessmentError, match="cannot be changed"):
        services.save_action(
            assessment=submitted,
            edited_by=lead,
            title="Late addition",
            requirements=[],
            owner="Someone",
            due_date=datetime.date(2027, 1, 1),
            status="not_started",
        )


# ---- returning ------------------------------------------------------------------------------


def test_executive_returns_with_reason(submitted, executive, lead):
    """Returned means a draft again, with the reason kept for the lead and the audit trail."""
    services.return_assessment(assessment=submitted, returned_by=executive, reason="  R6 needs the section 75 date. ")
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.RETURNED
    assert submitted.is_editable
    assert submitted.returned_reason == "R6 needs the section 75 date."
    assert events(submitted, AuditAction.RETURNED) == [
        ("executive@example.nhs.uk", "State", "Awaiting sign-off", "Returned", 1),
        ("executive@example.nhs.uk", "Reason", "", "R6 needs the section 75 date.", 1),
    ]
    # The lead can submit it again.
    services.submit_for_sign_off(assessment=submitted, submitted_by=lead)
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_returning_without_reason_is_refused(submitted, executive, reason):
    """A return must say why."""
    with pytest.raises(AssessmentError, match="Give a reason for returning"):
        services.return_assessment(assessment=submitted, returned_by=executive, reason=reason)
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF
    assert events(submitted, AuditAction.RETURNED) == []


def test_lead_cannot_return(submitted, lead):
    """Only the executive sponsor returns an assessment."""
    with pytest.raises(AssessmentError, match="Only an executive sponsor can return"):
        services.return_assessment(assessment=submitted, returned_by=lead, reason="Changed my mind")
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF


def test_cannot_return_a_draft(complete_assessment, executive):
    """There is nothing to return before submission."""
    with pytest.raises(AssessmentError, match="awaiting sign-off"):
        services.return_assessment(assessment=complete_assessment, returned_by=executive, reason="Not ready")


# ---- approving ------------------------------------------------------------------------------


def test_executive_approves_and_freezes_a_snapshot(submitted, executive):
    """Approval records the signer and freezes every answer with its content hash."""
    approval = approve(submitted, executive, approver_name="  Esther Executive ")
    submitted.refresh_from_db()
    approval.refresh_from_db()

    assert submitted.state == AssessmentState.APPROVED
    assert (approval.revision, approval.approved_by, approval.approver_name, approval.approver_role) == (
        1,
        executive,
        "Esther Executive",
        "Chief Nurse",
    )
    codes = list(submitted.responses.values_list("requirement__code", flat=True))
    assert [r["code"] for r in approval.snapshot["responses"]] == codes
    assert {r["rating"]["value"] for r in approval.snapshot["responses"]} == {3}
    assert approval.snapshot["sign_off"]["name"] == "Esther Executive"
    assert approval.content_hash == services.content_hash(approval.snapshot)
    assert events(submitted, AuditAction.APPROVED) == [
        ("executive@example.nhs.uk", "State", "Awaiting sign-off", "Approved", 1)
    ]


def test_approved_assessment_cannot_be_edited(approval, lead):
    """What was approved stays put until someone reopens it."""
    response = approval.assessment.responses.first()
    with pytest.raises(AssessmentError, match="approved and cannot be changed"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=None,
            rationale="",
            strengths="",
            gaps_and_risks="",
            ready=False,
        )


def test_lead_cannot_approve(submitted, lead):
    """The social work lead cannot sign off their own assessment."""
    with pytest.raises(AssessmentError, match="Only an executive sponsor can approve"):
        approve(submitted, lead)
    assert not Approval.objects.exists()
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF


def test_cannot_approve_a_draft(complete_assessment, executive):
    """Approval needs a submitted assessment."""
    with pytest.raises(AssessmentError, match="Only an assessment awaiting sign-off can be approved"):
        approve(complete_assessment, executive)
    assert not Approval.objects.exists()


def test_cannot_approve_twice(approval, executive):
    """A second approval of the same revision is refused and the first is untouched."""
    with pytest.raises(AssessmentError, match="awaiting sign-off"):
        approve(approval.assessment, executive)
    assert Approval.objects.count() == 1


@pytest.mark.parametrize("blank", ["approver_name", "approver_role", "statement"])
def test_approval_needs_name_role_and_statement(submitted, executive, blank):
    """The sign-off record is complete or there is no sign-off."""
    with pytest.raises(AssessmentError, match="Give your name, your role and the sign-off statement"):
        approve(submitted, executive, **{blank: "  "})
    assert not Approval.objects.exists()


def test_approval_with_invalid_data_leaves_nothing(submitted, executive):
    """A role too long for the database fails the approval wholly: no snapshot, no state change, no audit."""
    with pytest.raises(Exception, match="too long"):
        approve(submitted, executive, approver_role="Chief Nurse " * 30)
    assert not Approval.objects.exists()
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF
    assert events(submitted, AuditAction.APPROVED) == []


def test_approval_failing_after_the_snapshot_is_stored_leaves_nothing(submitted, executive, monkeypatch):
    """If writing the audit row fails, the snapshot already written and the state change are rolled back."""
    write_event = services._event

    def failing_event(assessment, actor, action, **kwargs):
        if action == AuditAction.APPROVED:
            assert Approval.objects.filter(assessment=assessment).exists()  # the snapshot was written first
            raise RuntimeError("audit store unavailable")
        return write_event(assessment, actor, action, **kwargs)

    monkeypatch.setattr(services, "_event", failing_event)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        approve(submitted, executive)

    assert not Approval.objects.exists()
    submitted.refresh_from_db()
    assert submitted.state == AssessmentState.AWAITING_SIGN_OFF
    assert events(submitted, AuditAction.APPROVED) == []


# ---- reopening ------------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["lead", "executive"])
def test_reopening_starts_revision_two_and_keeps_revision_one(approval, person, request):
    """The lead or the executive reopens; revision 1's approval is left exactly as it was."""
    user = request.getfixturevalue(person)
    assessment = approval.assessment
    frozen = Approval.objects.values("snapshot", "content_hash", "approver_name", "approved_at").get(pk=approval.pk)

    services.reopen(assessment=assessment, reopened_by=user, reason="Correct the vacancy figure")

    assessment.refresh_from_db()
    assert (assessment.state, assessment.revision, assessment.reopened_reason) == (
        AssessmentState.DRAFT,
        2,
        "Correct the vacancy figure",
    )
    assert assessment.is_editable
    assert (
        Approval.objects.values("snapshot", "content_hash", "approver_name", "approved_at").get(pk=approval.pk)
        == frozen
    )
    assert events(assessment, AuditAction.REOPENED) == [
        (user.email, "State", "Approved", "Draft", 2),
        (user.email, "Reason", "", "Correct the vacancy figure", 2),
    ]


def test_revision_two_is_approved_separately(approval, lead, executive):
    """After reopening, a new submission and approval create revision 2 beside revision 1."""
    assessment = approval.assessment
    services.reopen(assessment=assessment, reopened_by=lead, reason="Update R3")
    response = assessment.responses.select_related("requirement").get(requirement__code="R3")
    services.save_response(
        response=response,
        expected_version=response.version,
        edited_by=lead,
        rating=assessment.framework.rating_levels.get(value=4),
        rationale="Supervision audit shows 96% compliance.",
        strengths="",
        gaps_and_risks="",
        ready=True,
    )
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    second = approve(assessment, executive)

    assert second.revision == 2
    ratings = {
        a.revision: {r["code"]: r["rating"]["value"] for r in a.snapshot["responses"]}
        for a in Approval.objects.filter(assessment=assessment)
    }
    assert ratings[1]["R3"] == 3
    assert ratings[2]["R3"] == 4


@pytest.mark.parametrize("person", ["contributor", "board_reader", "outsider"])
def test_others_cannot_reopen(approval, person, request):
    """Only the lead or the executive sponsor reopens."""
    with pytest.raises(AssessmentError, match="can reopen"):
        services.reopen(assessment=approval.assessment, reopened_by=request.getfixturevalue(person), reason="Why not")
    approval.assessment.refresh_from_db()
    assert approval.assessment.state == AssessmentState.APPROVED


def test_cannot_reopen_a_draft(complete_assessment, lead):
    """Only an approved assessment is reopened."""
    with pytest.raises(AssessmentError, match="Only an approved assessment can be reopened"):
        services.reopen(assessment=complete_assessment, reopened_by=lead, reason="Because")


def test_reopening_without_reason_is_refused(approval, lead):
    """A reopening must say why."""
    with pytest.raises(AssessmentError, match="Give a reason for reopening"):
        services.reopen(assessment=approval.assessment, reopened_by=lead, reason=" ")
    approval.assessment.refresh_from_db()
    assert (approval.assessment.state, approval.assessment.revision) == (AssessmentState.APPROVED, 1)
    assert events(approval.assessment, AuditAction.REOPENED) == []


def test_every_state_change_is_in_the_audit_trail_in_order(approval, lead, executive):
    """Submit, approve and reopen each leave their rows, attributed and numbered by revision."""
    services.reopen(assessment=approval.assessment, reopened_by=executive, reason="Correction")
    trail = list(
        AssessmentEvent.objects.filter(
            assessment=approval.assessment,
            action__in=[AuditAction.SUBMITTED, AuditAction.APPROVED, AuditAction.REOPENED],
            field="State",
        )
        .order_by("id")
        .values_list("action", "actor__email", "revision")
    )
    assert trail == [
        (AuditAction.SUBMITTED, lead.email, 1),
        (AuditAction.APPROVED, executive.email, 1),
        (AuditAction.REOPENED, executive.email, 2),
    ]
