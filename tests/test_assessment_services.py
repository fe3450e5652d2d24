"""The services behind answering an assessment, tested without the client: start, assign, answer, figures, plan."""

import datetime
from decimal import Decimal

import pytest

from assessments import services
from assessments.models import (
    Action,
    ActionStatus,
    AssessmentEvent,
    AuditAction,
    EvidenceItem,
    EvidenceKind,
    IndicatorValue,
    ResponseStatus,
)
from assessments.services import AssessmentError, EditConflict
from tests.factories import approve_as_it_stands


def make_evidence(trust, title="Supervision policy"):
    return EvidenceItem.objects.create(
        trust=trust,
        kind=EvidenceKind.LINK,
        title=title,
        evidence_date=datetime.date(2025, 11, 3),
        owner="Principal social worker",
        url="https://intranet.example.nhs.uk/policies/supervision",
    )


def answer(response, user, *, rating=None, rationale="", strengths="", gaps="", ready=False, version=None):
    return services.save_response(
        response=response,
        expected_version=response.version if version is None else version,
        edited_by=user,
        rating=rating,
        rationale=rationale,
        strengths=strengths,
        gaps_and_risks=gaps,
        ready=ready,
    )


def level(assessment, value):
    return assessment.framework.rating_levels.get(value=value)


def response_for(assessment, code):
    return assessment.responses.select_related("requirement", "assessment").get(requirement__code=code)


# ---- starting --------------------------------------------------------------------------------------


class TestStart:
    def test_blank_start_has_one_unstarted_response_per_requirement(self, assessment, published_framework):
        """A blank assessment has a not-started response for every requirement of the framework version."""
        codes = sorted(published_framework.requirements.values_list("code", flat=True))
        responses = list(assessment.responses.select_related("requirement"))
        assert sorted(r.requirement.code for r in responses) == codes
        assert {r.status for r in responses} == {ResponseStatus.NOT_STARTED}
        assert not any(r.carried_forward for r in responses)
        assert assessment.framework == published_framework
        assert assessment.events.filter(action=AuditAction.STARTED, after="blank").exists()

    def test_only_the_lead_can_start(self, trust, contributor, cycle, published_framework):
        """A contributor cannot start the trust's assessment."""
        with pytest.raises(AssessmentError, match="social work lead"):
            services.start_assessment(trust=trust, cycle=cycle, started_by=contributor)

    def test_a_cycle_has_one_assessment(self, assessment, trust, lead, cycle):
        """Starting a second assessment for the same cycle is refused."""
        with pytest.raises(AssessmentError, match="already has an assessment"):
            services.start_assessment(trust=trust, cycle=cycle, started_by=lead)


@pytest.fixture
def last_year(trust, lead, previous_cycle, published_framework):
    """Last cycle's assessment: R1 answered with evidence, R2 left blank, one open and one complete action."""
    previous = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
    r1 = response_for(previous, "R1")
    answer(
        r1,
        lead,
        rating=level(previous, 2),
        rationale="The executive portfolio names social work.",
        strengths="Annual report to the board",
        gaps="No social work voice at the People Committee",
        ready=True,
    )
    services.link_evidence(response=r1, item=make_evidence(trust, "Executive portfolios"), linked_by=lead)
    requirements = list(previous.framework.requirements.filter(code__in=["R1", "R3"]))
    services.save_action(
        assessment=previous,
        edited_by=lead,
        title="Add a social work report to the People Committee plan",
        requirements=requirements,
        owner="Director of nursing",
        due_date=datetime.date(2026, 9, 30),
        status=ActionStatus.IN_PROGRESS,
        progress_notes="Agreed in principle",
    )
    services.save_action(
        assessment=previous,
        edited_by=lead,
        title="Publish the supervision policy",
        requirements=requirements[1:],
        owner="Principal social worker",
        due_date=datetime.date(2025, 12, 31),
        status=ActionStatus.COMPLETE,
    )
    return approve_as_it_stands(previous)


class TestCarryForward:
    def test_an_unapproved_draft_is_never_carried_forward(
        self, trust, lead, previous_cycle, cycle, published_framework
    ):
        """Only what an executive approved is copied into next year's assessment."""
        draft = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
        answer(response_for(draft, "R1"), lead, rating=level(draft, 2), rationale="Never approved.")
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        assert assessment.carried_forward_from is None
        assert response_for(assessment, "R1").rating is None

    def test_carry_forward_copies_the_approved_revision_not_later_edits(self, last_year, trust, lead, cycle):
        """After reopening, the unapproved revision-2 edits stay behind; revision 1 comes across."""
        services.reopen(assessment=last_year, reopened_by=lead, reason="Correction")
        r1 = response_for(last_year, "R1")
        answer(r1, lead, rating=level(last_year, 4), rationale="An unapproved change.")
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        assert response_for(assessment, "R1").rationale == "The executive portfolio names social work."

    def test_carried_forward_links_and_actions_are_in_the_history(self, last_year, trust, lead, cycle):
        """The audit trail shows what carry-forward brought across."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        actions = set(assessment.events.values_list("action", flat=True))
        assert {AuditAction.STARTED, AuditAction.EVIDENCE_LINKED, AuditAction.ACTION_ADDED} <= actions

    def test_carries_ratings_rationale_and_evidence_marked_for_review(self, last_year, trust, lead, cycle):
        """Answered requirements come across with rating, text and evidence, marked 'carried forward: review'."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        r1 = response_for(assessment, "R1")
        assert assessment.carried_forward_from == last_year
        assert r1.rating.value == 2
        assert r1.rating.framework == assessment.framework
        assert r1.rationale == "The executive portfolio names social work."
        assert r1.strengths == "Annual report to the board"
        assert r1.gaps_and_risks == "No social work voice at the People Committee"
        assert r1.carried_forward
        assert r1.status == ResponseStatus.IN_PROGRESS
        assert [item.title for item in r1.evidence.all()] == ["Executive portfolios"]

    def test_blank_answers_are_not_marked_for_review(self, last_year, trust, lead, cycle):
        """A requirement left blank last year starts blank, without a review mark."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        r2 = response_for(assessment, "R2")
        assert not r2.carried_forward
        assert r2.status == ResponseStatus.NOT_STARTED
        assert r2.rating is None

    def test_open_actions_are_copied_and_complete_ones_are_not(self, last_year, trust, lead, cycle):
        """Only actions that were not complete carry forward, with their requirements, marked carried forward."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        actions = list(assessment.actions.prefetch_related("requirements"))
        assert [a.title for a in actions] == ["Add a social work report to the People Committee plan"]
        assert actions[0].carried_forward
        assert actions[0].status == ActionStatus.IN_PROGRESS
        assert sorted(r.code for r in actions[0].requirements.all()) == ["R1", "R3"]
        assert {r.framework_id for r in actions[0].requirements.all()} == {assessment.framework_id}

    def test_saving_clears_the_review_mark_even_without_changes(self, last_year, trust, lead, cycle):
        """Saving a carried-forward answer unchanged records the review: the mark goes, the version moves on."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
        r1 = response_for(assessment, "R1")
        saved = answer(
            r1, lead, rating=r1.rating, rationale=r1.rationale, strengths=r1.strengths, gaps=r1.gaps_and_risks
        )
        assert not saved.carried_forward
        assert saved.version == r1.version + 1

    def test_start_blank_ignores_last_year(self, last_year, trust, lead, cycle):
        """Choosing to start blank copies nothing."""
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=False)
        assert assessment.carried_forward_from is None
        assert not assessment.responses.filter(carried_forward=True).exists()
        assert not assessment.actions.exists()


# ---- assigning ---------------------------------------------------------------------------------------


class TestAssign:
    def test_lead_assigns_a_requirement_to_a_contributor(self, assessment, lead, contributor):
        """The assignee is stored and the audit trail names the change."""
        response = services.assign_response(
            response=response_for(assessment, "R3"), assignee=contributor, assigned_by=lead
        )
        assert response.assignee == contributor
        event = assessment.events.get(action=AuditAction.ASSIGNED)
        assert (event.subject, event.before, event.after) == ("R3", "", contributor.full_name)

    def test_lead_can_unassign(self, assessment, lead, contributor):
        """Assigning nobody clears the assignee."""
        response = response_for(assessment, "R3")
        services.assign_response(response=response, assignee=contributor, assigned_by=lead)
        services.assign_response(response=response, assignee=None, assigned_by=lead)
        response.refresh_from_db()
        assert response.assignee is None

    def test_contributor_cannot_assign(self, assessment, contributor):
        """Only the lead assigns requirements."""
        with pytest.raises(AssessmentError):
            services.assign_response(
                response=response_for(assessment, "R3"), assignee=contributor, assigned_by=contributor
            )

    def test_cannot_assign_to_the_executive(self, assessment, lead, executive):
        """Requirements go to contributors and leads only."""
        with pytest.raises(AssessmentError, match="contributors and leads"):
            services.assign_response(response=response_for(assessment, "R3"), assignee=executive, assigned_by=lead)


# ---- answering ----------------------------------------------------------------------------------------


class TestSaveResponse:
    def test_save_stores_the_answer_and_moves_the_version_on(self, assessment, lead):
        """A rated answer with a rationale is in progress, and each changed field is in the audit trail."""
        response = response_for(assessment, "R3")
        saved = answer(response, lead, rating=level(assessment, 3), rationale="Audit shows 85% compliance.")
        assert saved.version == 2
        assert saved.status == ResponseStatus.IN_PROGRESS
        assert saved.updated_by == lead
        fields = set(assessment.events.filter(action=AuditAction.RESPONSE_CHANGED).values_list("field", flat=True))
        assert fields == {"Rating", "Rationale", "Status"}

    def test_ready_answer_is_marked_ready(self, assessment, lead):
        """Ticking ready with a rating and rationale makes the response ready."""
        saved = answer(
            response_for(assessment, "R3"), lead, rating=level(assessment, 4), rationale="Embedded.", ready=True
        )
        assert saved.status == ResponseStatus.READY

    def test_rating_without_rationale_is_refused(self, assessment, lead):
        """Every rating needs a written rationale."""
        with pytest.raises(AssessmentError, match="Explain the rating for R3"):
            answer(response_for(assessment, "R3"), lead, rating=level(assessment, 3), rationale="   ")

    def test_ready_without_rating_is_refused(self, assessment, lead):
        """A response cannot be ready until it is rated."""
        with pytest.raises(AssessmentError, match="Select a rating for R3"):
            answer(response_for(assessment, "R3"), lead, strengths="Good policy", ready=True)

    def test_rating_from_another_framework_version_is_refused(self, assessment, lead):
        """Ratings come from the assessment's own framework version."""
        from requirements.models import Framework, RatingLevel

        other = Framework.objects.create(
            slug="other", title="Other", publisher="Test", version="9", publication_date=datetime.date(2020, 1, 1)
        )
        foreign = RatingLevel.objects.create(framework=other, value=3, label="Largely met", meaning="x")
        with pytest.raises(AssessmentError, match="scale"):
            answer(response_for(assessment, "R3"), lead, rating=foreign, rationale="Because.")

    def test_contributor_cannot_answer_an_unassigned_requirement(self, assessment, contributor):
        """Contributors answer only what the lead assigned to them."""
        with pytest.raises(AssessmentError, match="assigned to you"):
            answer(response_for(assessment, "R3"), contributor, strengths="Policy in place")
        assert response_for(assessment, "R3").strengths == ""

    def test_contributor_answers_an_assigned_requirement(self, assessment, lead, contributor):
        """Once assigned, the contributor can save the answer."""
        response = services.assign_response(
            response=response_for(assessment, "R3"), assignee=contributor, assigned_by=lead
        )
        saved = answer(response, contributor, strengths="Policy in place")
        assert saved.strengths == "Policy in place"
        assert saved.updated_by == contributor

    def test_executive_cannot_answer(self, assessment, executive):
        """The executive sponsor signs off; they do not answer requirements."""
        with pytest.raises(AssessmentError):
            answer(response_for(assessment, "R3"), executive, strengths="Fine")

    def test_submitted_assessment_cannot_be_answered(self, complete_assessment, lead):
        """Editing stops while the assessment is awaiting sign-off."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        with pytest.raises(AssessmentError, match="awaiting sign-off"):
            answer(response_for(complete_assessment, "R3"), lead, strengths="Late addition")

    def test_second_save_from_a_stale_version_is_refused_with_what_changed(self, assessment, lead, contributor):
        """Two people start from version 1; the second save raises EditConflict naming the first person's changes."""
        response = services.assign_response(
            response=response_for(assessment, "R3"), assignee=contributor, assigned_by=lead
        )
        answer(response, contributor, rating=level(assessment, 2), rationale="Audit shows 60% compliance.", version=1)
        with pytest.raises(EditConflict) as caught:
            answer(response, lead, rating=level(assessment, 3), rationale="Mostly in place.", version=1)
        conflict = caught.value
        assert conflict.changed_fields == {
            "Rating": ("", "2 – Partially met"),
            "Rationale": ("", "Audit shows 60% compliance."),
            "Status": ("Not started", "In progress"),
        }
        assert conflict.response.version == 2
        response.refresh_from_db()
        assert response.rationale == "Audit shows 60% compliance."
        assert response.rating.value == 2

    def test_conflict_lists_only_fields_that_end_up_different(self, assessment, lead):
        """A field changed and changed back by the other person is not reported."""
        response = response_for(assessment, "R3")
        answer(response, lead, strengths="Draft", version=1)
        answer(response, lead, strengths="", gaps="Too few supervisors", version=2)
        with pytest.raises(EditConflict) as caught:
            answer(response, lead, strengths="Mine", version=1)
        assert set(caught.value.changed_fields) == {"Gaps and risks", "Status"}

    def test_save_from_the_current_version_after_a_conflict_overwrites_deliberately(self, assessment, lead):
        """Saving again with the version shown in the conflict replaces the other change."""
        response = response_for(assessment, "R3")
        answer(response, lead, strengths="First", version=1)
        with pytest.raises(EditConflict) as caught:
            answer(response, lead, strengths="Second", version=1)
        saved = answer(response, lead, strengths="Second", version=caught.value.response.version)
        assert saved.strengths == "Second"
        assert saved.version == 3


# ---- workforce figures --------------------------------------------------------------------------------


class TestIndicators:
    def test_contributor_saves_figures_and_the_rate_is_derived(self, assessment, contributor):
        """Numerator and denominator are stored; the rate is worked out, to one decimal place."""
        vacancy = assessment.framework.indicators.get(code="vacancy_rate")
        services.save_indicator_values(
            assessment=assessment, values={vacancy.pk: (Decimal("6"), Decimal("48"))}, edited_by=contributor
        )
        value = IndicatorValue.objects.get(assessment=assessment, indicator=vacancy)
        assert (value.numerator, value.denominator) == (Decimal("6"), Decimal("48"))
        assert value.rate == Decimal("12.5")
        event = assessment.events.get(action=AuditAction.INDICATORS_CHANGED)
        assert (event.subject, event.after) == ("Vacancy rate", "6 / 48")

    def test_unchanged_figures_write_no_audit_row(self, assessment, lead):
        """Saving the same figures again changes nothing."""
        headcount = assessment.framework.indicators.get(code="headcount")
        for _ in range(2):
            services.save_indicator_values(
                assessment=assessment, values={headcount.pk: (Decimal("52"), None)}, edited_by=lead
            )
        assert assessment.events.filter(action=AuditAction.INDICATORS_CHANGED).count() == 1

    def test_executive_cannot_enter_figures(self, assessment, executive):
        """Figures are entered by the lead and contributors."""
        headcount = assessment.framework.indicators.get(code="headcount")
        with pytest.raises(AssessmentError):
            services.save_indicator_values(
                assessment=assessment, values={headcount.pk: (Decimal("52"), None)}, edited_by=executive
            )
        assert not IndicatorValue.objects.exists()


# ---- improvement plan ---------------------------------------------------------------------------------


def add_action(assessment, user, **changes):
    values = {
        "title": "Audit supervision in community teams",
        "requirements": list(assessment.framework.requirements.filter(code="R3")),
        "owner": "Principal social worker",
        "due_date": datetime.date(2030, 3, 31),
        "status": ActionStatus.NOT_STARTED,
        "progress_notes": "",
    }
    values.update(changes)
    return services.save_action(assessment=assessment, edited_by=user, **values)


class TestActions:
    def test_contributor_adds_an_action_against_requirements(self, assessment, contributor):
        """An action is stored with its requirements and an audit row."""
        action = add_action(assessment, contributor)
        assert [r.code for r in action.requirements.all()] == ["R3"]
        assert assessment.events.filter(action=AuditAction.ACTION_ADDED, subject=action.title).exists()

    def test_editing_records_each_changed_field(self, assessment, lead):
        """Changing the status and notes writes one audit row for each."""
        action = add_action(assessment, lead)
        already = set(assessment.events.values_list("pk", flat=True))
        add_action(assessment, lead, action=action, status=ActionStatus.IN_PROGRESS, progress_notes="Audit tool agreed")
        changes = assessment.events.filter(action=AuditAction.ACTION_CHANGED).exclude(pk__in=already)
        fields = set(changes.values_list("field", flat=True))
        assert fields == {"Status", "Progress notes"}

    def test_overdue_is_derived_from_the_due_date(self, assessment, lead):
        """An open action past its due date is overdue; a complete one never is."""
        yesterday = datetime.date.today() - datetime.timedelta(days=1)
        late = add_action(assessment, lead, title="Late", due_date=yesterday, status=ActionStatus.IN_PROGRESS)
        done = add_action(assessment, lead, title="Done", due_date=yesterday, status=ActionStatus.COMPLETE)
        future = add_action(assessment, lead, title="Future")
        assert late.status == ActionStatus.IN_PROGRESS  # stored as it was given
        assert (late.is_overdue, late.display_status) == (True, "Overdue")
        assert (done.is_overdue, done.display_status) == (False, "Complete")
        assert (future.is_overdue, future.display_status) == (False, "Not started")

    def test_requirements_must_come_from_the_assessment_framework(self, assessment, lead):
        """An action cannot point at another framework version's requirement."""
        from requirements.models import Framework, Requirement

        other = Framework.objects.create(
            slug="other", title="Other", publisher="Test", version="9", publication_date=datetime.date(2020, 1, 1)
        )
        foreign = Requirement.objects.create(framework=other, code="R3", order=1, title="Other", summary="x")
        with pytest.raises(AssessmentError):
            add_action(assessment, lead, requirements=[foreign])

    def test_only_the_lead_removes_actions(self, assessment, lead, contributor):
        """A contributor cannot remove an action; the lead can, and the removal is audited."""
        action = add_action(assessment, lead)
        with pytest.raises(AssessmentError):
            services.remove_action(action=action, removed_by=contributor)
        services.remove_action(action=action, removed_by=lead)
        assert not Action.objects.exists()
        assert AssessmentEvent.objects.filter(action=AuditAction.ACTION_REMOVED, subject=action.title).exists()
