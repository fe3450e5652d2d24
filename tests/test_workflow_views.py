"""Sign-off pages for each role: submit, sign off, return, reopen, the audit trail and approved revisions."""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import services
from assessments.models import Approval, AssessmentEvent, AssessmentState, AuditAction, Response
from assessments.views.workflow import HISTORY_PAGE_SIZE
from assessments.workflow_forms import sign_off_statement


def url(name, assessment, *args):
    return reverse(name, args=[assessment.pk, *args])


def overview(assessment):
    return url("assessment-overview", assessment)


def flash(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def submitted(complete_assessment, lead):
    return services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)


@pytest.fixture
def approved(submitted, executive):
    services.approve(
        assessment=submitted,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement=sign_off_statement(submitted),
    )
    submitted.refresh_from_db()
    return submitted


# ---- submit ---------------------------------------------------------------------------------


class TestSubmit:
    def test_lists_what_is_missing_with_links(self, client_for, lead, assessment):
        """An incomplete assessment shows each missing requirement, linked to its answer page."""
        response = client_for(lead).get(url("assessment-submit", assessment))
        assert response.status_code == 200
        content = response.content.decode()
        assert "You cannot submit yet" in content
        for code in assessment.responses.values_list("requirement__code", flat=True):
            assert f'href="{reverse("response-edit", args=[assessment.pk, code])}"' in content
        assert "Select a rating for R3 and explain it" in content
        assert "<button" not in content.split("<main")[1]

    def test_says_which_requirement_lacks_a_rationale(self, client_for, lead, complete_assessment):
        """A rating whose rationale is only blank space is named as needing an explanation."""
        Response.objects.filter(assessment=complete_assessment, requirement__code="R5").update(rationale="   ")
        content = client_for(lead).get(url("assessment-submit", complete_assessment)).content.decode()
        assert "Explain the rating for R5" in content
        assert "R3" not in content.split("You cannot submit yet")[1].split("</ul>")[0]

    def test_complete_assessment_shows_answers_to_check(self, client_for, lead, complete_assessment):
        """Check your answers: every requirement with its rating label and number, and a submit button."""
        response = client_for(lead).get(url("assessment-submit", complete_assessment))
        content = response.content.decode()
        assert response.status_code == 200
        assert "Check your answers before submitting" in content
        for title in complete_assessment.responses.values_list("requirement__title", flat=True):
            assert title in content
        assert content.count("3 – Largely met") == complete_assessment.responses.count()
        assert "Submit for sign-off" in content

    def test_lead_submits(self, client_for, lead, complete_assessment):
        """Submitting moves to awaiting sign-off and says so."""
        response = client_for(lead).post(url("assessment-submit", complete_assessment))
        assert response.status_code == 302
        assert response["Location"] == overview(complete_assessment)
        complete_assessment.refresh_from_db()
        assert complete_assessment.state == AssessmentState.AWAITING_SIGN_OFF
        assert any("Submitted for sign-off" in m for m in flash(response))

    def test_incomplete_submission_is_refused_with_the_list(self, client_for, lead, assessment):
        """Posting an incomplete assessment changes nothing and lists what is missing."""
        response = client_for(lead).post(url("assessment-submit", assessment))
        assert response.status_code == 400
        assert "Select a rating for R1 and explain it" in response.content.decode()
        assessment.refresh_from_db()
        assert assessment.state == AssessmentState.DRAFT

    def test_already_submitted_goes_back_to_the_assessment(self, client_for, lead, submitted):
        """There is nothing to submit while awaiting sign-off."""
        response = client_for(lead).get(url("assessment-submit", submitted))
        assert response.status_code == 302
        assert response["Location"] == overview(submitted)
        assert any("nothing to submit" in m for m in flash(response))

    @pytest.mark.parametrize("person", ["contributor", "executive"])
    def test_other_roles_are_forbidden(self, client_for, complete_assessment, person, request):
        """Only the lead submits."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(url("assessment-submit", complete_assessment)).status_code == 403
        assert client.post(url("assessment-submit", complete_assessment)).status_code == 403
        complete_assessment.refresh_from_db()
        assert complete_assessment.state == AssessmentState.DRAFT

    @pytest.mark.parametrize("person", ["outsider", "board_reader", "ics_lead", "administrator"])
    def test_people_who_cannot_see_the_draft_get_404(self, client_for, complete_assessment, person, request):
        """Outsiders, and those who only read approved assessments, cannot find a draft."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(url("assessment-submit", complete_assessment)).status_code == 404

    def test_wrong_method(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).put(url("assessment-submit", assessment)).status_code == 405

    def test_anonymous_is_sent_to_sign_in(self, client, assessment):
        """Signing in is required."""
        response = client.get(url("assessment-submit", assessment))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("sign-in"))


# ---- sign-off -------------------------------------------------------------------------------


@pytest.fixture
def submitted_with_figures(complete_assessment, lead):
    """Submitted, with a vacancy rate and one overdue and one future action."""
    assessment = complete_assessment
    vacancy = assessment.framework.indicators.get(code="vacancy_rate")
    services.save_indicator_values(
        assessment=assessment, values={vacancy.pk: (Decimal("5"), Decimal("40"))}, edited_by=lead
    )
    for title, due in [("Refresh the supervision policy", "2020-01-31"), ("Recruit two AMHPs", "2099-03-31")]:
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            title=title,
            requirements=[],
            owner="Principal social worker",
            due_date=datetime.date.fromisoformat(due),
            status="in_progress",
        )
    return services.submit_for_sign_off(assessment=assessment, submitted_by=lead)


def approve_data(**overrides):
    return {"approver_name": "Esther Executive", "approver_role": "Chief Nurse", "confirm": "on", **overrides}


class TestSignOff:
    def test_executive_sees_one_page_summary(self, client_for, executive, submitted_with_figures, trust):
        """Ratings with label and number, counts per level, figures, actions and who submitted."""
        executive.job_title = "Chief Nurse"
        executive.save()
        response = client_for(executive).get(url("assessment-sign-off", submitted_with_figures))
        assert response.status_code == 200
        content = response.content.decode()
        count = submitted_with_figures.responses.count()
        assert content.count("3 – Largely met") >= count
        assert "12.5% (5 of 40)" in content
        assert "2 actions, of which 1 is overdue" in content
        assert "Submitted for sign-off by Leah Lead" in content
        assert f"{trust.name}&#x27;s position against the organisational requirements as at 31 March 2026" in content
        assert 'value="Esther Executive"' in content
        assert 'value="Chief Nurse"' in content
        assert "I confirm this statement" in content
        assert f'href="{url("assessment-return", submitted_with_figures)}"' in content

    def test_executive_approves(self, client_for, executive, submitted):
        """Approval stores the sign-off record with the statement shown, then shows what was approved."""
        response = client_for(executive).post(url("assessment-sign-off", submitted), approve_data())
        assert response.status_code == 302
        assert response["Location"] == url("approval-detail", submitted, 1)
        approval = Approval.objects.get()
        assert (approval.approver_name, approval.approver_role) == ("Esther Executive", "Chief Nurse")
        assert approval.statement == sign_off_statement(submitted)
        assert any("Assessment approved" in m for m in flash(response))

    def test_approval_of_a_submission_the_executive_did_not_read_is_refused(
        self, client_for, lead, executive, submitted
    ):
        """If it was returned and resubmitted after the page was opened, approving asks them to read it again."""
        client = client_for(executive)
        page = client.get(url("assessment-sign-off", submitted)).content.decode()
        seen = re.search(r'name="submission" value="([^"]+)"', page).group(1)
        services.return_assessment(assessment=submitted, returned_by=executive, reason="Check R3")
        services.submit_for_sign_off(assessment=submitted, submitted_by=lead)
        response = client.post(url("assessment-sign-off", submitted), approve_data(submission=seen))
        assert response.status_code == 200
        assert "submitted again since you opened this page" in response.content.decode()
        assert not Approval.objects.exists()
        submitted.refresh_from_db()
        fresh = re.search(r'name="submission" value="([^"]+)"', response.content.decode()).group(1)
        assert fresh == submitted.submitted_at.isoformat()
        assert client.post(url("assessment-sign-off", submitted), approve_data(submission=fresh)).status_code == 302

    def test_statement_must_be_confirmed(self, client_for, executive, submitted):
        """Without the tick, nothing is approved and what was typed stays."""
        response = client_for(executive).post(
            url("assessment-sign-off", submitted), approve_data(confirm="", approver_role="Deputy Chief Nurse")
        )
        assert response.status_code == 200
        content = response.content.decode()
        assert "Confirm the sign-off statement to approve the assessment" in content
        assert "nhsuk-error-summary" in content
        assert 'value="Deputy Chief Nurse"' in content
        assert not Approval.objects.exists()

    def test_empty_name_shows_error_and_keeps_other_input(self, client_for, executive, submitted):
        """A blank name is an NHS-style error; the role typed is kept."""
        response = client_for(executive).post(
            url("assessment-sign-off", submitted),
            approve_data(approver_name="  ", approver_role="Chief People Officer"),
        )
        content = response.content.decode()
        assert "Enter your full name" in content
        assert 'value="Chief People Officer"' in content
        assert "<title>Error: " in content
        submitted.refresh_from_db()
        assert submitted.state == AssessmentState.AWAITING_SIGN_OFF

    def test_draft_has_nothing_to_sign_off(self, client_for, executive, complete_assessment):
        """Before submission the executive is sent back to the assessment."""
        response = client_for(executive).post(url("assessment-sign-off", complete_assessment), approve_data())
        assert response.status_code == 302
        assert response["Location"] == overview(complete_assessment)
        assert not Approval.objects.exists()

    @pytest.mark.parametrize("person", ["lead", "contributor"])
    def test_other_roles_are_forbidden(self, client_for, submitted, person, request):
        """Only the executive sponsor signs off."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(url("assessment-sign-off", submitted)).status_code == 403
        assert client.post(url("assessment-sign-off", submitted), approve_data()).status_code == 403
        assert not Approval.objects.exists()

    @pytest.mark.parametrize("person", ["outsider", "ics_lead", "board_reader"])
    def test_outsiders_get_404(self, client_for, submitted, person, request):
        """The assessment awaiting sign-off is invisible to them."""
        assert client_for(request.getfixturevalue(person)).get(url("assessment-sign-off", submitted)).status_code == 404

    def test_wrong_method(self, client_for, executive, submitted):
        """Only GET and POST."""
        assert client_for(executive).delete(url("assessment-sign-off", submitted)).status_code == 405


# ---- return ---------------------------------------------------------------------------------


class TestReturn:
    def test_executive_sees_the_reason_form(self, client_for, executive, submitted):
        """The return page asks why."""
        response = client_for(executive).get(url("assessment-return", submitted))
        assert response.status_code == 200
        assert "Why are you returning the assessment?" in response.content.decode()

    def test_executive_returns_with_reason(self, client_for, executive, submitted):
        """The assessment is a draft again, with the reason for the lead."""
        response = client_for(executive).post(url("assessment-return", submitted), {"reason": "Add the R6 dates."})
        assert response.status_code == 302
        assert response["Location"] == overview(submitted)
        submitted.refresh_from_db()
        assert (submitted.state, submitted.returned_reason) == (AssessmentState.RETURNED, "Add the R6 dates.")
        assert any("returned" in m for m in flash(response))

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_empty_reason_shows_error(self, client_for, executive, submitted, reason):
        """A reason is required, in NHS style."""
        response = client_for(executive).post(url("assessment-return", submitted), {"reason": reason})
        assert response.status_code == 200
        content = response.content.decode()
        assert "Enter a reason for returning the assessment" in content
        assert 'href="#id_reason"' in content
        submitted.refresh_from_db()
        assert submitted.state == AssessmentState.AWAITING_SIGN_OFF

    def test_too_long_reason_keeps_the_text(self, client_for, executive, submitted):
        """An over-long reason is refused and what was typed is kept."""
        text = "Needs work. " * 200
        response = client_for(executive).post(url("assessment-return", submitted), {"reason": text})
        content = response.content.decode()
        assert "The reason must be 2000 characters or fewer" in content
        assert "Needs work. Needs work." in content

    @pytest.mark.parametrize("person", ["lead", "contributor"])
    def test_other_roles_are_forbidden(self, client_for, submitted, person, request):
        """Only the executive sponsor returns."""
        client = client_for(request.getfixturevalue(person))
        assert client.post(url("assessment-return", submitted), {"reason": "No"}).status_code == 403
        submitted.refresh_from_db()
        assert submitted.state == AssessmentState.AWAITING_SIGN_OFF

    def test_outsider_gets_404(self, client_for, outsider, submitted):
        """Another trust cannot find it."""
        assert client_for(outsider).get(url("assessment-return", submitted)).status_code == 404

    def test_wrong_method(self, client_for, executive, submitted):
        """Only GET and POST."""
        assert client_for(executive).put(url("assessment-return", submitted)).status_code == 405


# ---- reopen ---------------------------------------------------------------------------------


class TestReopen:
    def test_explains_that_the_approved_revision_stays(self, client_for, lead, approved):
        """The page says which revision starts and that the approved one stays."""
        content = client_for(lead).get(url("assessment-reopen", approved)).content.decode()
        assert "Reopening starts revision 2" in content
        assert "Revision 1 stays as it was approved by Esther Executive" in content

    @pytest.mark.parametrize("person", ["lead", "executive"])
    def test_lead_or_executive_reopens(self, client_for, approved, person, request):
        """Revision 2 starts as a draft."""
        response = client_for(request.getfixturevalue(person)).post(
            url("assessment-reopen", approved), {"reason": "Correct the vacancy rate"}
        )
        assert response.status_code == 302
        assert response["Location"] == overview(approved)
        approved.refresh_from_db()
        assert (approved.state, approved.revision) == (AssessmentState.DRAFT, 2)
        assert any("Revision 1 stays as it was approved" in m for m in flash(response))

    def test_empty_reason_shows_error(self, client_for, lead, approved):
        """A reason is required, in NHS style."""
        response = client_for(lead).post(url("assessment-reopen", approved), {"reason": ""})
        assert "Enter a reason for reopening the assessment" in response.content.decode()
        approved.refresh_from_db()
        assert (approved.state, approved.revision) == (AssessmentState.APPROVED, 1)

    def test_draft_cannot_be_reopened(self, client_for, lead, complete_assessment):
        """Only approved assessments are reopened."""
        response = client_for(lead).post(url("assessment-reopen", complete_assessment), {"reason": "Why"})
        assert response.status_code == 302
        assert any("Only an approved assessment can be reopened" in m for m in flash(response))

    @pytest.mark.parametrize("person", ["contributor", "board_reader"])
    def test_other_roles_are_forbidden(self, client_for, approved, person, request):
        """Contributors and board readers can see it but not reopen it."""
        client = client_for(request.getfixturevalue(person))
        assert client.post(url("assessment-reopen", approved), {"reason": "Why"}).status_code == 403

    @pytest.mark.parametrize("person", ["outsider", "ics_lead"])
    def test_non_members_get_404(self, client_for, approved, person, request):
        """Outsiders, and ICS leads who may read it, are not part of the trust's workflow."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(url("assessment-reopen", approved)).status_code == 404

    def test_wrong_method(self, client_for, lead, approved):
        """Only GET and POST."""
        assert client_for(lead).patch(url("assessment-reopen", approved)).status_code == 405


# ---- history --------------------------------------------------------------------------------


class TestHistory:
    @pytest.mark.parametrize("person", ["lead", "contributor", "executive"])
    def test_trust_members_read_the_audit_trail(self, client_for, submitted, person, request):
        """Who changed what, newest first."""
        response = client_for(request.getfixturevalue(person)).get(url("assessment-history", submitted))
        assert response.status_code == 200
        content = response.content.decode()
        assert "Submitted for sign-off" in content
        assert "Changed a response: R1" in content
        assert "Leah Lead" in content
        assert content.index("Submitted for sign-off") < content.index("Started the assessment")

    def test_board_reader_is_forbidden(self, client_for, board_reader, approved):
        """Board readers read approved assessments, not the working audit trail."""
        assert client_for(board_reader).get(url("assessment-history", approved)).status_code == 403

    @pytest.mark.parametrize("person", ["outsider", "ics_lead", "administrator"])
    def test_others_get_404(self, client_for, approved, person, request):
        """Not even the ICS lead, who may read the approved assessment."""
        assert client_for(request.getfixturevalue(person)).get(url("assessment-history", approved)).status_code == 404

    def test_wrong_method(self, client_for, lead, assessment):
        """The trail only reads."""
        assert client_for(lead).post(url("assessment-history", assessment)).status_code == 405

    def test_long_trail_is_paginated(self, client_for, lead, assessment):
        """Pages of a fixed size with NHS.UK pagination."""
        AssessmentEvent.objects.bulk_create(
            AssessmentEvent(assessment=assessment, actor=lead, action=AuditAction.ASSIGNED, subject=f"X{n}", revision=1)
            for n in range(HISTORY_PAGE_SIZE + 5)
        )
        client = client_for(lead)
        first = client.get(url("assessment-history", assessment)).content.decode()
        assert "nhsuk-pagination" in first
        assert 'href="?page=2"' in first
        second = client.get(url("assessment-history", assessment) + "?page=2").content.decode()
        assert "Started the assessment" in second
        assert "Started the assessment" not in first

    def test_query_count_does_not_grow_with_the_trail(self, client_for, lead, contributor, assessment):
        """Actors are fetched with their events, not one query per row."""
        client = client_for(lead)

        def queries():
            with CaptureQueriesContext(connection) as context:
                assert client.get(url("assessment-history", assessment)).status_code == 200
            return len(context)

        few = queries()
        AssessmentEvent.objects.bulk_create(
            AssessmentEvent(
                assessment=assessment, actor=actor, action=AuditAction.ASSIGNED, subject=f"R{n}", revision=1
            )
            for n, actor in enumerate([lead, contributor] * 10)
        )
        assert queries() == few


# ---- approved revisions ---------------------------------------------------------------------


class TestApprovalDetail:
    @pytest.mark.parametrize("person", ["lead", "contributor", "executive", "board_reader", "ics_lead"])
    def test_readers_see_the_sign_off_record(self, client_for, approved, person, request):
        """Everyone at the trust, and the ICS lead, reads the approved revision."""
        response = client_for(request.getfixturevalue(person)).get(url("approval-detail", approved, 1))
        assert response.status_code == 200
        content = response.content.decode()
        approval = Approval.objects.get()
        assert "Revision 1, as approved" in content
        assert "Esther Executive" in content
        assert "Chief Nurse" in content
        assert approval.content_hash in content
        assert "the stored copy matches it" in content
        assert content.count("3 – Largely met") >= approved.responses.count()

    @pytest.mark.parametrize("person", ["outsider", "administrator"])
    def test_others_get_404(self, client_for, approved, person, request):
        """No trust, no ICB, no approval."""
        assert client_for(request.getfixturevalue(person)).get(url("approval-detail", approved, 1)).status_code == 404

    def test_unknown_revision_is_404(self, client_for, lead, approved):
        """Only approved revisions exist."""
        assert client_for(lead).get(url("approval-detail", approved, 2)).status_code == 404

    def test_wrong_method(self, client_for, lead, approved):
        """The record only reads."""
        assert client_for(lead).post(url("approval-detail", approved, 1)).status_code == 405

    def test_shows_the_frozen_answers_not_the_live_ones(self, client_for, lead, board_reader, approved):
        """After reopening and editing, revision 1 still reads as approved, even for the board reader."""
        services.reopen(assessment=approved, reopened_by=lead, reason="Fix R2")
        r2 = approved.responses.select_related("requirement").get(requirement__code="R2")
        services.save_response(
            response=r2,
            expected_version=r2.version,
            edited_by=lead,
            rating=approved.framework.rating_levels.get(value=1),
            rationale="Rewritten after approval.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )
        content = client_for(board_reader).get(url("approval-detail", approved, 1)).content.decode()
        assert "Evidence for R2 shows arrangements operating" in content
        assert "Rewritten after approval" not in content
        assert "The assessment has been reopened since this revision was approved" in content

    def test_small_special_category_numbers_are_suppressed_outside_the_trust(
        self, client_for, lead, executive, board_reader, ics_lead, complete_assessment
    ):
        """Ethnicity counts from 1 to 7 are hidden from the ICS lead, not from the trust's board."""
        share = complete_assessment.framework.indicators.get(code="ethnic_minority_share_band_7_and_above")
        services.save_indicator_values(
            assessment=complete_assessment, values={share.pk: (Decimal("3"), Decimal("20"))}, edited_by=lead
        )
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name="Esther Executive",
            approver_role="Chief Nurse",
            statement="I confirm.",
        )
        inside = client_for(board_reader).get(url("approval-detail", complete_assessment, 1)).content.decode()
        outside = client_for(ics_lead).get(url("approval-detail", complete_assessment, 1)).content.decode()
        assert "15.0% (3 of 20)" in inside
        assert "15.0% (3 of 20)" not in outside
        assert "Suppressed (fewer than 8)" in outside

    def test_small_rest_of_a_special_category_group_is_suppressed_outside_the_trust(
        self, client_for, lead, executive, ics_lead, complete_assessment
    ):
        """45 of 50 reveals the other 5, so the ICS lead does not see it either."""
        share = complete_assessment.framework.indicators.get(code="ethnic_minority_share_band_7_and_above")
        services.save_indicator_values(
            assessment=complete_assessment, values={share.pk: (Decimal("45"), Decimal("50"))}, edited_by=lead
        )
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        services.approve(
            assessment=complete_assessment, approved_by=executive, approver_name="E", approver_role="R", statement="S"
        )
        outside = client_for(ics_lead).get(url("approval-detail", complete_assessment, 1)).content.decode()
        assert "(45 of 50)" not in outside
        assert "Suppressed (fewer than 8)" in outside

    def test_reopen_button_only_for_lead_and_executive_on_the_current_revision(
        self, client_for, lead, contributor, approved
    ):
        """The lead may reopen from the record; a contributor may not."""
        reopen = url("assessment-reopen", approved)
        assert reopen in client_for(lead).get(url("approval-detail", approved, 1)).content.decode()
        assert reopen not in client_for(contributor).get(url("approval-detail", approved, 1)).content.decode()
