"""The trust's assessments, starting one, and the overview task list, with pinned query counts."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import services
from assessments.models import ActionStatus, Assessment, Cycle, EvidenceItem, EvidenceKind
from portal.models import TrustRole
from requirements.models import Framework, FrameworkStatus, RatingLevel, Requirement
from tests.factories import TrustMembershipFactory, UserFactory, approve_as_it_stands


def list_url(trust):
    return reverse("assessment-list", args=[trust.ods_code])


def start_url(trust):
    return reverse("assessment-start", args=[trust.ods_code])


def overview_url(assessment):
    return reverse("assessment-overview", args=[assessment.pk])


def approve(assessment, lead, executive):
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I approve this self-assessment.",
    )


def rate(assessment, user, code, value, *, ready=False):
    response = assessment.responses.select_related("requirement", "assessment").get(requirement__code=code)
    return services.save_response(
        response=response,
        expected_version=response.version,
        edited_by=user,
        rating=assessment.framework.rating_levels.get(value=value),
        rationale=f"Rationale for {code}",
        strengths="",
        gaps_and_risks="",
        ready=ready,
    )


# ---- the trust's assessments -----------------------------------------------------------------------


class TestList:
    def test_lead_sees_assessments_with_state_revision_and_deadline(self, client_for, lead, assessment, trust):
        """Each cycle's assessment with its state tag, revision, deadline and a link to it."""
        page = client_for(lead).get(list_url(trust))
        assert page.status_code == 200
        content = page.content.decode()
        assert overview_url(assessment) in content
        assert '<strong class="nhsuk-tag nhsuk-tag--grey">Draft</strong>' in content
        assert "30 June 2026" in content

    def test_past_deadline_and_not_approved_is_overdue(self, client_for, lead, trust, published_framework):
        """A draft past its cycle's deadline is marked overdue; one before it is not."""
        late = Cycle.objects.create(label="2024/25", snapshot_date="2024-03-31", submission_deadline="2024-06-30")
        early = Cycle.objects.create(label="2099/00", snapshot_date="2099-03-31", submission_deadline="2099-06-30")
        services.start_assessment(trust=trust, cycle=late, started_by=lead, carry_forward=False)
        services.start_assessment(trust=trust, cycle=early, started_by=lead, carry_forward=False)
        content = client_for(lead).get(list_url(trust)).content.decode()
        rows = content.split('<tr class="nhsuk-table__row">')[2:]
        late_row = next(row for row in rows if "2024/25" in row)
        early_row = next(row for row in rows if "2099/00" in row)
        assert "Overdue" in late_row
        assert "Overdue" not in early_row

    def test_approved_is_never_overdue(self, client_for, lead, executive, complete_assessment, trust):
        """Approval after the deadline is not overdue."""
        approve(complete_assessment, lead, executive)
        content = client_for(lead).get(list_url(trust)).content.decode()
        assert "Approved</strong>" in content
        assert "Overdue" not in content

    def test_start_button_only_for_the_lead_when_a_cycle_is_free(
        self, client_for, lead, contributor, assessment, trust, previous_cycle
    ):
        """The lead sees "Start an assessment" while a cycle has no assessment; contributors never do."""
        assert "Start an assessment" in client_for(lead).get(list_url(trust)).content.decode()
        assert "Start an assessment" not in client_for(contributor).get(list_url(trust)).content.decode()
        services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        assert "Start an assessment" not in client_for(lead).get(list_url(trust)).content.decode()

    def test_board_reader_sees_only_approved_assessments(self, client_for, board_reader, assessment, trust):
        """Drafts are not listed for board readers."""
        page = client_for(board_reader).get(list_url(trust))
        assert page.status_code == 200
        assert overview_url(assessment) not in page.content.decode()
        assert "No self-assessment has been signed off yet." in page.content.decode()

    def test_board_reader_sees_approved_revisions_of_a_reopened_assessment(
        self, client_for, lead, executive, board_reader, complete_assessment, trust
    ):
        """After reopening, revision 1 stays listed and linked for board readers; the new draft does not."""
        approve(complete_assessment, lead, executive)
        services.reopen(assessment=complete_assessment, reopened_by=lead, reason="Correct the R3 rationale")
        content = client_for(board_reader).get(list_url(trust)).content.decode()
        assert reverse("approval-detail", args=[complete_assessment.pk, 1]) in content
        assert reverse("approval-report-pdf", args=[complete_assessment.pk, 1]) in content
        assert f'href="{overview_url(complete_assessment)}"' not in content
        lead_view = client_for(lead).get(list_url(trust)).content.decode()
        assert f'href="{overview_url(complete_assessment)}"' in lead_view
        assert reverse("approval-detail", args=[complete_assessment.pk, 1]) in lead_view

    @pytest.mark.parametrize("person", ["ics_lead", "outsider", "administrator"])
    def test_people_outside_the_trust_get_404(self, client_for, trust, person, request):
        """The list is the trust's own: ICS leads, other trusts and administrators get 404."""
        assert client_for(request.getfixturevalue(person)).get(list_url(trust)).status_code == 404

    def test_post_is_405(self, client_for, lead, trust):
        """The list only reads."""
        assert client_for(lead).post(list_url(trust)).status_code == 405

    def test_queries_do_not_grow_with_assessments(
        self, client_for, lead, executive, trust, complete_assessment, django_assert_num_queries
    ):
        """The list costs the same with one assessment or several, approved or not."""
        client = client_for(lead)
        approve(complete_assessment, lead, executive)
        with CaptureQueriesContext(connection) as few:
            client.get(list_url(trust))
        for year in range(2020, 2024):
            cycle = Cycle.objects.create(
                label=f"{year}/{str(year + 1)[2:]}", snapshot_date=f"{year}-03-31", submission_deadline=f"{year}-06-30"
            )
            services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=False)
        with django_assert_num_queries(len(few)):
            client.get(list_url(trust))


# ---- starting ----------------------------------------------------------------------------------------


class TestStart:
    def test_lead_chooses_a_free_cycle(self, client_for, lead, trust, cycle, previous_cycle, published_framework):
        """Cycles without an assessment are offered with their deadlines; no carry-forward without a past one."""
        page = client_for(lead).get(start_url(trust))
        assert page.status_code == 200
        content = page.content.decode()
        assert "2026/27 (submit by 30 June 2026)" in content
        assert "2025/26 (submit by 30 June 2025)" in content
        assert "Start from last year" not in content
        assert published_framework.version in content

    def test_lead_starts_blank(self, client_for, lead, trust, cycle, published_framework):
        """Starting makes the assessment and opens its overview."""
        page = client_for(lead).post(start_url(trust), {"cycle": cycle.pk})
        assessment = Assessment.objects.get()
        assert page.status_code == 302
        assert page["Location"] == overview_url(assessment)
        assert assessment.responses.count() == published_framework.requirements.count()
        assert assessment.started_by == lead

    def test_carry_forward_through_the_start_page(
        self, client_for, lead, trust, cycle, previous_cycle, published_framework
    ):
        """Starting from last year's answers shows them on the overview marked "Carried forward: review"."""
        last_year = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        rate(last_year, lead, "R2", 2, ready=True)
        approve_as_it_stands(last_year)
        client = client_for(lead)
        form = client.get(start_url(trust)).content.decode()
        assert "Start from last year&#x27;s answers" in form
        assert "2025/26" not in form.split("How do you want to start?")[0].split("Which cycle")[1]

        page = client.post(start_url(trust), {"cycle": cycle.pk, "start_from": "carry_forward"})
        assessment = Assessment.objects.get(cycle=cycle)
        assert assessment.carried_forward_from == last_year
        overview = client.get(page["Location"]).content.decode()
        assert "started from 2025/26&#x27;s answers" in overview
        assert overview.count("Carried forward: review") == 1
        assert "2 – Partially met" in overview

    def test_start_blank_option_copies_nothing(
        self, client_for, lead, trust, cycle, previous_cycle, published_framework
    ):
        """Choosing "Start blank" ignores last year."""
        last_year = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        rate(last_year, lead, "R2", 2)
        client_for(lead).post(start_url(trust), {"cycle": cycle.pk, "start_from": "blank"})
        assessment = Assessment.objects.get(cycle=cycle)
        assert assessment.carried_forward_from is None
        assert not assessment.responses.filter(carried_forward=True).exists()

    def test_choices_are_required(self, client_for, lead, trust, cycle, previous_cycle, published_framework):
        """Nothing chosen: NHS.UK errors for both questions."""
        approve_as_it_stands(
            services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        )
        page = client_for(lead).post(start_url(trust), {})
        assert page.status_code == 200
        content = page.content.decode()
        assert "Select the cycle to assess" in content
        assert "Select how you want to start the assessment" in content
        assert Assessment.objects.count() == 1

    def test_a_cycle_that_already_has_an_assessment_cannot_be_chosen(self, client_for, lead, trust, assessment, cycle):
        """Posting a taken cycle is refused as an invalid choice."""
        page = client_for(lead).post(start_url(trust), {"cycle": cycle.pk})
        assert page.status_code == 200
        assert Assessment.objects.count() == 1

    def test_nothing_to_start(self, client_for, lead, trust, assessment):
        """With every cycle taken, the page says so instead of showing a form."""
        content = client_for(lead).get(start_url(trust)).content.decode()
        assert "already has an assessment for every cycle" in content
        assert 'name="cycle"' not in content

    @pytest.mark.parametrize("person", ["contributor", "executive", "board_reader", "ics_lead"])
    def test_other_roles_are_forbidden(self, client_for, trust, cycle, published_framework, person, request):
        """Only the lead starts an assessment."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(start_url(trust)).status_code == 403
        assert client.post(start_url(trust), {"cycle": cycle.pk}).status_code == 403
        assert not Assessment.objects.exists()

    def test_outsider_gets_404(self, client_for, outsider, trust, cycle):
        """Another trust's lead gets 404."""
        assert client_for(outsider).post(start_url(trust), {"cycle": cycle.pk}).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, trust):
        """Only GET and POST."""
        assert client_for(lead).put(start_url(trust)).status_code == 405


# ---- the overview --------------------------------------------------------------------------------------


class TestOverview:
    def test_task_list_of_requirements(self, client_for, lead, contributor, assessment):
        """Each requirement links to its answer, with its assignee and status; progress is counted."""
        services.assign_response(
            response=assessment.responses.get(requirement__code="R3"), assignee=contributor, assigned_by=lead
        )
        rate(assessment, lead, "R1", 3, ready=True)
        rate(assessment, lead, "R2", 1)
        page = client_for(lead).get(overview_url(assessment))
        assert page.status_code == 200
        content = page.content.decode()
        assert 'class="nhsuk-task-list"' in content
        assert reverse("response-edit", args=[assessment.pk, "R3"]) in content
        assert "R3: Professional supervision" in content
        assert "Assigned to Connor Contributor" in content
        assert "Not assigned" in content
        assert "Rating: 3 – Largely met" in content
        assert "Rating: 1 – Not met" in content
        assert "Ready</strong>" in content
        assert "In progress</strong>" in content
        assert "Not started</strong>" in content
        assert "1 of 8 requirements ready" in content
        assert reverse("assessment-workforce", args=[assessment.pk]) in content
        assert reverse("action-list", args=[assessment.pk]) in content
        assert assessment.framework.version in content

    def test_lead_gets_submit_library_and_history_links(self, client_for, lead, assessment):
        """The lead's links: submit for sign-off, the evidence library, the history."""
        content = client_for(lead).get(overview_url(assessment)).content.decode()
        assert reverse("assessment-submit", args=[assessment.pk]) in content
        assert reverse("evidence-library", args=[assessment.trust.ods_code]) in content
        assert reverse("assessment-history", args=[assessment.pk]) in content
        assert reverse("assessment-sign-off", args=[assessment.pk]) not in content

    def test_executive_gets_sign_off_when_awaiting(self, client_for, lead, executive, complete_assessment):
        """The executive sponsor is offered "Sign off" once the assessment is submitted."""
        client = client_for(executive)
        assert (
            reverse("assessment-sign-off", args=[complete_assessment.pk])
            not in client.get(overview_url(complete_assessment)).content.decode()
        )
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        content = client.get(overview_url(complete_assessment)).content.decode()
        assert reverse("assessment-sign-off", args=[complete_assessment.pk]) in content
        assert "Awaiting sign-off</strong>" in content
        assert "8 of 8 requirements ready" in content
        assert reverse("assessment-submit", args=[complete_assessment.pk]) not in content

    def test_returned_assessment_shows_the_reason(self, client_for, lead, executive, complete_assessment):
        """A banner quotes the executive sponsor's reason for returning it."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        services.return_assessment(
            assessment=complete_assessment, returned_by=executive, reason="R3 needs the audit figures"
        )
        content = client_for(lead).get(overview_url(complete_assessment)).content.decode()
        assert "Returned by the executive sponsor: R3 needs the audit figures" in content
        assert reverse("assessment-submit", args=[complete_assessment.pk]) in content

    def test_reopened_assessment_says_so(self, client_for, lead, executive, complete_assessment):
        """After reopening, a banner gives the new revision and the reason; revision 1 is linked."""
        approve(complete_assessment, lead, executive)
        services.reopen(assessment=complete_assessment, reopened_by=lead, reason="Correct R3")
        content = client_for(lead).get(overview_url(complete_assessment)).content.decode()
        assert "Reopened to make revision 2: Correct R3" in content
        assert reverse("approval-detail", args=[complete_assessment.pk, 1]) in content

    def test_board_reader_reads_an_approved_assessment(
        self, client_for, lead, executive, board_reader, complete_assessment
    ):
        """Board readers are taken to the approved record, without the evidence library or submit links."""
        approve(complete_assessment, lead, executive)
        page = client_for(board_reader).get(overview_url(complete_assessment), follow=True)
        assert page.redirect_chain[-1][0] == reverse("approval-detail", args=[complete_assessment.pk, 1])
        content = page.content.decode()
        assert "Revision 1, as approved" in content
        assert reverse("evidence-library", args=[complete_assessment.trust.ods_code]) not in content
        assert reverse("assessment-submit", args=[complete_assessment.pk]) not in content

    def test_ics_lead_reads_an_approved_assessment(self, client_for, lead, executive, ics_lead, complete_assessment):
        """ICS leads of the trust's ICB read the approved record."""
        approve(complete_assessment, lead, executive)
        page = client_for(ics_lead).get(overview_url(complete_assessment), follow=True)
        assert page.status_code == 200
        assert "Revision 1, as approved" in page.content.decode()

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead", "outsider", "administrator"])
    def test_draft_is_hidden_from_people_who_may_not_see_it(self, client_for, assessment, person, request):
        """Drafts are 404 for board readers, ICS leads, other trusts and administrators."""
        assert client_for(request.getfixturevalue(person)).get(overview_url(assessment)).status_code == 404

    def test_post_is_405(self, client_for, lead, assessment):
        """The overview only reads."""
        assert client_for(lead).post(overview_url(assessment)).status_code == 405


def make_framework(requirement_count: int) -> Framework:
    framework = Framework.objects.create(
        slug=f"test-{requirement_count}",
        title=f"Test framework with {requirement_count} requirements",
        publisher="Test",
        version="1",
        publication_date=datetime.date(2020, 1, 1),
        status=FrameworkStatus.PUBLISHED,
    )
    for value, label in enumerate(["Not met", "Partially met", "Largely met", "Fully met"], start=1):
        RatingLevel.objects.create(framework=framework, value=value, label=label, meaning=label)
    for order in range(1, requirement_count + 1):
        Requirement.objects.create(
            framework=framework, code=f"R{order}", order=order, title=f"Requirement {order}", summary="Summary"
        )
    return framework


def filled_assessment(trust, lead, cycle, requirement_count: int, people: list) -> Assessment:
    """An assessment with every requirement assigned, rated, linked to evidence and an action."""
    assessment = services.start_assessment(
        trust=trust, cycle=cycle, started_by=lead, carry_forward=False, framework=make_framework(requirement_count)
    )
    for n, response in enumerate(assessment.responses.select_related("requirement", "assessment")):
        services.assign_response(response=response, assignee=people[n % len(people)], assigned_by=lead)
        rate(assessment, lead, response.requirement.code, 1 + n % 4, ready=n % 2 == 0)
        item = EvidenceItem.objects.create(
            trust=trust,
            kind=EvidenceKind.LINK,
            title=f"Evidence {cycle.label} {n}",
            evidence_date=datetime.date(2025, 1, 1),
            owner="PSW",
            url="https://intranet.example.nhs.uk/x",
        )
        services.link_evidence(response=response, item=item, linked_by=lead)
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            title=f"Action {n}",
            requirements=[response.requirement],
            owner="PSW",
            due_date=datetime.date(2020 + n, 1, 1),
            status=ActionStatus.IN_PROGRESS,
        )
    return assessment


@pytest.mark.parametrize(
    "url_name",
    ["assessment-overview", "action-list", "assessment-workforce", "response-edit"],
)
def test_pages_use_the_same_queries_whatever_the_size(client_for, lead, trust, url_name, django_assert_num_queries):
    """A 3-requirement and a 12-requirement assessment, fully answered, cost the same number of queries."""
    people = [lead] + [
        TrustMembershipFactory(trust=trust, role=TrustRole.CONTRIBUTOR, user=UserFactory()).user for _ in range(4)
    ]
    small_cycle = Cycle.objects.create(label="2030/31", snapshot_date="2030-03-31", submission_deadline="2030-06-30")
    large_cycle = Cycle.objects.create(label="2031/32", snapshot_date="2031-03-31", submission_deadline="2031-06-30")
    small = filled_assessment(trust, lead, small_cycle, 3, people)
    large = filled_assessment(trust, lead, large_cycle, 12, people)

    def url(assessment):
        args = [assessment.pk, "R2"] if url_name == "response-edit" else [assessment.pk]
        return reverse(url_name, args=args)

    client = client_for(lead)
    with CaptureQueriesContext(connection) as small_queries:
        assert client.get(url(small)).status_code == 200
    with django_assert_num_queries(len(small_queries)):
        page = client.get(url(large))
    assert page.status_code == 200
    if url_name == "assessment-overview":
        assert "R12: Requirement 12" in page.content.decode()
