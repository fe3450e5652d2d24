"""Answering a requirement: who can edit, who can only read, validation, assignment and concurrent edits."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from assessments import services
from assessments.models import ActionStatus, EvidenceItem, EvidenceKind, ResponseStatus
from tests.factories import approve_as_it_stands, sign_in_with_two_factor


def response_url(assessment, code="R3"):
    return reverse("response-edit", args=[assessment.pk, code])


def assign_url(assessment, code="R3"):
    return reverse("response-assign", args=[assessment.pk, code])


def level_pk(assessment, value):
    return assessment.framework.rating_levels.get(value=value).pk


def response_for(assessment, code="R3"):
    return assessment.responses.select_related("requirement", "rating", "assessment").get(requirement__code=code)


def version_on(page) -> str:
    return re.search(r'name="version" value="(\d+)"', page.content.decode()).group(1)


def assign(assessment, lead, person, code="R3"):
    return services.assign_response(response=response_for(assessment, code), assignee=person, assigned_by=lead)


@pytest.fixture
def approved_assessment(complete_assessment, lead, executive):
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    services.approve(
        assessment=complete_assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I approve this self-assessment.",
    )
    return complete_assessment


class TestEditPage:
    def test_lead_sees_the_form_with_the_rating_scale(self, client_for, lead, assessment):
        """Each rating option shows its number and label, with the level's meaning as its hint."""
        page = client_for(lead).get(response_url(assessment))
        assert page.status_code == 200
        content = page.content.decode()
        assert "R3: Professional supervision" in content
        assert "3 – Largely met" in content
        assert "Arrangements are in place and operating, with evidence; only minor gaps remain." in content
        assert 'class="nhsuk-hint nhsuk-radios__hint"' in content
        assert "What good looks like and typical evidence" in content
        assert 'name="version" value="1"' in content

    def test_lead_saves_an_answer(self, client_for, lead, assessment):
        """A valid answer is saved and the lead goes back to the task list."""
        page = client_for(lead).post(
            response_url(assessment),
            {
                "rating": level_pk(assessment, 3),
                "rationale": "The audit shows 85% compliance.",
                "strengths": "Trained supervisors",
                "gaps_and_risks": "AMHP supervision is ad hoc",
                "ready": "on",
                "version": "1",
            },
        )
        assert page.status_code == 302
        assert page["Location"] == reverse("assessment-overview", args=[assessment.pk])
        response = response_for(assessment)
        assert response.rating.value == 3
        assert response.gaps_and_risks == "AMHP supervision is ad hoc"
        assert response.status == ResponseStatus.READY

    def test_assigned_contributor_can_answer(self, client_for, lead, contributor, assessment):
        """A contributor edits the requirements assigned to them."""
        assign(assessment, lead, contributor)
        client = client_for(contributor)
        assert 'name="version"' in client.get(response_url(assessment)).content.decode()
        page = client.post(response_url(assessment), {"strengths": "Policy agreed", "version": "1"})
        assert page.status_code == 302
        assert response_for(assessment).strengths == "Policy agreed"

    def test_unassigned_contributor_reads_but_cannot_save(self, client_for, lead, contributor, assessment):
        """Another contributor's requirement is read-only: the page shows it, a POST is forbidden."""
        client = client_for(contributor)
        page = client.get(response_url(assessment))
        assert page.status_code == 200
        assert 'name="version"' not in page.content.decode()
        assert client.post(response_url(assessment), {"strengths": "Sneaky", "version": "1"}).status_code == 403
        assert response_for(assessment).strengths == ""

    def test_executive_reads_the_answer(self, client_for, lead, executive, assessment):
        """The executive sponsor sees the answer as a summary list, without a form."""
        services.save_response(
            response=response_for(assessment),
            expected_version=1,
            edited_by=lead,
            rating=assessment.framework.rating_levels.get(value=2),
            rationale="Supervision is patchy.",
            strengths="",
            gaps_and_risks="",
            ready=False,
        )
        client = client_for(executive)
        page = client.get(response_url(assessment))
        content = page.content.decode()
        assert page.status_code == 200
        assert "2 – Partially met" in content
        assert "Supervision is patchy." in content
        assert "<form" not in content.split('id="maincontent"')[1]
        assert client.post(response_url(assessment), {"strengths": "x", "version": "1"}).status_code == 403

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead"])
    def test_board_reader_and_ics_lead_cannot_see_a_draft(self, client_for, assessment, person, request):
        """Drafts are hidden from board readers and ICS leads: 404."""
        user = request.getfixturevalue(person)
        assert client_for(user).get(response_url(assessment)).status_code == 404

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead"])
    def test_board_reader_and_ics_lead_read_an_approved_answer(self, client_for, approved_assessment, person, request):
        """Once approved, board readers and ICS leads read the approved record, never the live answer."""
        user = request.getfixturevalue(person)
        client = client_for(user)
        page = client.get(response_url(approved_assessment), follow=True)
        assert page.redirect_chain[-1][0] == reverse("approval-detail", args=[approved_assessment.pk, 1])
        assert "3 – Largely met" in page.content.decode()
        assert 'name="version"' not in page.content.decode()
        assert client.post(response_url(approved_assessment), {"version": "1"}).status_code in {302, 403}
        approved_assessment.refresh_from_db()
        assert approved_assessment.responses.filter(version=1).count() == 0  # nothing saved by them

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead cannot learn the response exists."""
        assert client_for(outsider).get(response_url(assessment)).status_code == 404
        assert client_for(outsider).post(response_url(assessment), {"version": "1"}).status_code == 404

    def test_unknown_requirement_gets_404(self, client_for, lead, assessment):
        """A code that is not in the framework version is not found."""
        assert client_for(lead).get(response_url(assessment, "R99")).status_code == 404

    def test_unknown_requirement_is_403_for_a_member_without_the_right_and_404_for_an_outsider(
        self, client_for, contributor, outsider, assessment
    ):
        """Assigning is for leads: a contributor gets 403 whatever the code; an outsider learns nothing."""
        for code in ("R1", "R99"):
            url = reverse("response-assign", args=[assessment.pk, code])
            assert client_for(contributor).get(url).status_code == 403
            assert client_for(outsider).get(url).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).delete(response_url(assessment)).status_code == 405

    def test_anonymous_is_sent_to_sign_in(self, client, assessment):
        """Signing in is required."""
        page = client.get(response_url(assessment))
        assert page.status_code == 302
        assert page["Location"].startswith(reverse("sign-in"))


class TestValidation:
    def test_rating_without_rationale_keeps_everything_typed(self, client_for, lead, assessment):
        """'Explain the rating for R3', with the rating, strengths and gaps still in the form."""
        page = client_for(lead).post(
            response_url(assessment),
            {
                "rating": level_pk(assessment, 2),
                "rationale": "  ",
                "strengths": "Trained supervisors & a policy",
                "gaps_and_risks": "No audit yet",
                "version": "1",
            },
        )
        assert page.status_code == 200
        content = page.content.decode()
        assert "Explain the rating for R3" in content
        assert 'href="#id_rationale"' in content  # the error summary links to the field
        assert "Trained supervisors &amp; a policy</textarea>" in content
        assert "No audit yet</textarea>" in content
        assert re.search(rf'value="{level_pk(assessment, 2)}"[^>]*checked', content)
        assert response_for(assessment).version == 1

    def test_ready_without_rating(self, client_for, lead, assessment):
        """'Select a rating for R3' when marked ready without a rating; the text stays."""
        page = client_for(lead).post(
            response_url(assessment), {"rationale": "Half written", "ready": "on", "version": "1"}
        )
        content = page.content.decode()
        assert "Select a rating for R3" in content
        assert "Half written</textarea>" in content
        assert 'href="#id_rating_0"' in content

    def test_rating_not_on_the_scale(self, client_for, lead, assessment):
        """A made-up rating is refused with the NHS.UK message."""
        page = client_for(lead).post(response_url(assessment), {"rating": "999999", "rationale": "x", "version": "1"})
        assert "Select a rating for R3" in page.content.decode()


class TestNotEditable:
    def test_submitted_assessment_is_read_only(self, client_for, lead, complete_assessment):
        """While awaiting sign-off the lead sees the answer without a form."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        page = client_for(lead).get(response_url(complete_assessment))
        assert page.status_code == 200
        content = page.content.decode()
        assert 'name="version"' not in content
        assert "awaiting sign-off, so it cannot be changed" in content

    def test_save_after_submission_is_refused_and_keeps_the_text(self, client_for, lead, complete_assessment):
        """A save that arrives after submission is refused with a message; what was typed stays on the page."""
        client = client_for(lead)
        version = version_on(client.get(response_url(complete_assessment)))
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        page = client.post(
            response_url(complete_assessment), {"rationale": "A late thought", "strengths": "x", "version": version}
        )
        assert page.status_code == 409
        content = page.content.decode()
        assert "This assessment is awaiting sign-off and cannot be changed." in content
        assert "A late thought</textarea>" in content
        assert response_for(complete_assessment).rationale.startswith("Evidence for R3")


class TestConcurrentEdits:
    def test_second_save_is_refused_with_the_other_persons_change(self, lead, contributor, assessment):
        """Two people open R3; the first save wins, the second is refused, told what changed and keeps its text."""
        assign(assessment, lead, contributor)
        connor, leah = Client(), Client()
        sign_in_with_two_factor(connor, contributor)
        sign_in_with_two_factor(leah, lead)
        connor_version = version_on(connor.get(response_url(assessment)))
        leah_version = version_on(leah.get(response_url(assessment)))

        first = connor.post(
            response_url(assessment),
            {"rating": level_pk(assessment, 2), "rationale": "Audit shows 60% compliance.", "version": connor_version},
        )
        assert first.status_code == 302

        second = leah.post(
            response_url(assessment),
            {
                "rating": level_pk(assessment, 3),
                "rationale": "Leah's view: mostly in place.",
                "strengths": "Supervisor training",
                "version": leah_version,
            },
        )
        assert second.status_code == 409
        content = second.content.decode()
        time = timezone.localtime(response_for(assessment).updated_at).strftime("%H:%M")
        assert f"Connor Contributor saved changes to R3 at {time} while you were editing" in content
        assert "There is a problem" in content
        assert "2 – Partially met" in content  # the rating now saved
        assert "Audit shows 60% compliance." in content  # the rationale now saved
        assert "Leah&#x27;s view: mostly in place.</textarea>" in content  # her own text kept
        assert "Supervisor training</textarea>" in content
        assert 'name="version" value="2"' in content

        response = response_for(assessment)
        assert response.rationale == "Audit shows 60% compliance."
        assert response.rating.value == 2
        assert response.version == 2

    def test_saving_again_after_a_conflict_overwrites_deliberately(self, lead, contributor, assessment):
        """The refreshed version on the conflict page lets the second person save on purpose."""
        assign(assessment, lead, contributor)
        connor, leah = Client(), Client()
        sign_in_with_two_factor(connor, contributor)
        sign_in_with_two_factor(leah, lead)
        leah.get(response_url(assessment))
        connor.post(response_url(assessment), {"strengths": "Connor's", "version": "1"})
        conflict = leah.post(response_url(assessment), {"strengths": "Leah's", "version": "1"})
        assert conflict.status_code == 409
        again = leah.post(response_url(assessment), {"strengths": "Leah's", "version": version_on(conflict)})
        assert again.status_code == 302
        assert response_for(assessment).strengths == "Leah's"


class TestCarriedForward:
    def test_saving_through_the_page_clears_the_review_mark(
        self, client_for, lead, trust, cycle, previous_cycle, published_framework
    ):
        """A carried-forward answer shows 'Carried forward: review' until it is saved."""
        last_year = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        services.save_response(
            response=response_for(last_year),
            expected_version=1,
            edited_by=lead,
            rating=last_year.framework.rating_levels.get(value=2),
            rationale="Last year's rationale",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )
        approve_as_it_stands(last_year)
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        client = client_for(lead)
        page = client.get(response_url(assessment))
        assert "Carried forward: review" in page.content.decode()
        assert "Last year&#x27;s rationale</textarea>" in page.content.decode()
        client.post(
            response_url(assessment),
            {"rating": level_pk(assessment, 2), "rationale": "Last year's rationale", "version": version_on(page)},
        )
        assert not response_for(assessment).carried_forward
        assert "Carried forward: review" not in client.get(response_url(assessment)).content.decode()


class TestLinkedEvidenceAndActions:
    def test_page_lists_linked_evidence_and_actions(self, client_for, lead, trust, assessment):
        """Linked evidence (title, date) and actions against the requirement appear below the answer."""
        item = EvidenceItem.objects.create(
            trust=trust,
            kind=EvidenceKind.LINK,
            title="Supervision audit 2025",
            evidence_date=datetime.date(2025, 11, 3),
            owner="PSW",
            url="https://intranet.example.nhs.uk/audit",
        )
        services.link_evidence(response=response_for(assessment), item=item, linked_by=lead)
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            title="Re-audit supervision",
            requirements=list(assessment.framework.requirements.filter(code="R3")),
            owner="PSW",
            due_date=datetime.date(2030, 1, 31),
            status=ActionStatus.NOT_STARTED,
        )
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            title="Board report",
            requirements=list(assessment.framework.requirements.filter(code="R1")),
            owner="PSW",
            due_date=datetime.date(2030, 1, 31),
            status=ActionStatus.NOT_STARTED,
        )
        content = client_for(lead).get(response_url(assessment)).content.decode()
        assert "Supervision audit 2025" in content
        assert "3 November 2025" in content
        assert "Re-audit supervision" in content
        assert "Board report" not in content
        assert f"{reverse('action-add', args=[assessment.pk])}?requirement=R3" in content

    def test_queries_do_not_grow_with_evidence_and_actions(
        self, client_for, lead, trust, assessment, django_assert_num_queries
    ):
        """The response page uses a fixed number of queries, however much is linked."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def link_more(count, start):
            for n in range(start, start + count):
                item = EvidenceItem.objects.create(
                    trust=trust,
                    kind=EvidenceKind.LINK,
                    title=f"Evidence {n}",
                    evidence_date=datetime.date(2025, 1, 1),
                    owner="PSW",
                    url="https://intranet.example.nhs.uk/x",
                )
                services.link_evidence(response=response_for(assessment), item=item, linked_by=lead)
                services.save_action(
                    assessment=assessment,
                    edited_by=lead,
                    title=f"Action {n}",
                    requirements=list(assessment.framework.requirements.filter(code__in=["R3", "R4"])),
                    owner="PSW",
                    due_date=datetime.date(2030, 1, 31),
                    status=ActionStatus.IN_PROGRESS,
                )

        client = client_for(lead)
        link_more(1, 0)
        with CaptureQueriesContext(connection) as few:
            client.get(response_url(assessment))
        link_more(6, 1)
        with django_assert_num_queries(len(few)):
            page = client.get(response_url(assessment))
        assert "Evidence 6" in page.content.decode()
        assert "Action 6" in page.content.decode()


class TestAssign:
    def test_lead_sees_contributors_and_leads_to_choose_from(
        self, client_for, lead, contributor, executive, assessment
    ):
        """The choices are the trust's contributors and leads, and "Not assigned"."""
        content = client_for(lead).get(assign_url(assessment)).content.decode()
        assert "Connor Contributor (contributor)" in content
        assert "Leah Lead (social work lead)" in content
        assert "Not assigned" in content
        assert executive.full_name not in content

    def test_lead_assigns_to_a_contributor(self, client_for, lead, contributor, assessment):
        """Choosing a contributor assigns the requirement and shows it on the task list."""
        client = client_for(lead)
        page = client.post(assign_url(assessment), {"assignee": str(contributor.pk)})
        assert page.status_code == 302
        assert response_for(assessment).assignee == contributor
        overview = client.get(page["Location"]).content.decode()
        assert "Assigned to Connor Contributor" in overview
        assert "R3 assigned to Connor Contributor" in overview

    def test_lead_unassigns(self, client_for, lead, contributor, assessment):
        """'Not assigned' clears the assignee."""
        assign(assessment, lead, contributor)
        client_for(lead).post(assign_url(assessment), {"assignee": "none"})
        assert response_for(assessment).assignee is None

    def test_someone_outside_the_choices_is_refused(self, client_for, lead, executive, assessment):
        """Only offered people can be chosen; the error is shown on the page."""
        page = client_for(lead).post(assign_url(assessment), {"assignee": str(executive.pk)})
        assert page.status_code == 200
        assert "Select one of the trust&#x27;s contributors or leads" in page.content.decode()
        assert response_for(assessment).assignee is None

    def test_nothing_chosen(self, client_for, lead, assessment):
        """Submitting without a choice asks for one."""
        page = client_for(lead).post(assign_url(assessment), {})
        assert "Select who should answer this requirement" in page.content.decode()

    @pytest.mark.parametrize("person", ["contributor", "executive"])
    def test_other_roles_are_forbidden(self, client_for, assessment, person, request):
        """Only the lead assigns."""
        user = request.getfixturevalue(person)
        assert client_for(user).get(assign_url(assessment)).status_code == 403

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead gets 404."""
        assert client_for(outsider).get(assign_url(assessment)).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).put(assign_url(assessment)).status_code == 405

    def test_cannot_assign_once_submitted(self, client_for, lead, contributor, complete_assessment):
        """Assignment stops with editing: the page says why, with 403."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        page = client_for(lead).post(assign_url(complete_assessment), {"assignee": str(contributor.pk)})
        assert page.status_code == 403
        assert "This assessment cannot be changed" in page.content.decode()
        assert response_for(complete_assessment).assignee is None
