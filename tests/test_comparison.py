"""The ICS comparison selectors: built from approved revisions only, by the ICB the trust was in at the time.

``assess`` builds an assessment quickly (responses and figures straight into the database) and,
unless asked not to, approves it by freezing ``services.build_snapshot`` into an Approval row, as
``services.approve`` does. One test goes through the services end to end.
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from assessments import comparison, services
from assessments.comparison import build_comparison, peer_context, sort_rows
from assessments.models import (
    Approval,
    Assessment,
    AssessmentState,
    Cycle,
    IndicatorValue,
    Response,
    ResponseStatus,
)
from assessments.workflow_forms import sign_off_statement
from portal.models import TrustRole
from requirements.models import Framework, FrameworkStatus, IndicatorDefinition, RatingLevel, Requirement
from tests.factories import ICBFactory, TrustFactory, TrustICBMembershipFactory, TrustMembershipFactory, UserFactory


def assess(trust, cycle, ratings, *, framework=None, figures=None, state=AssessmentState.APPROVED):
    """An assessment of ``trust`` for ``cycle`` rated ``ratings`` (R1, R2, ... in order, or a dict by code).

    Approved (a frozen snapshot, revision 1) unless another ``state`` is given; then the ratings
    are only in the live responses. ``figures`` maps indicator codes to (numerator, denominator).
    """
    framework = framework or Framework.objects.current()
    requirements = list(framework.requirements.order_by("order"))
    if not isinstance(ratings, dict):
        ratings = {r.code: value for r, value in zip(requirements, ratings, strict=False)}
    levels = {level.value: level for level in framework.rating_levels.all()}
    assessment = Assessment.objects.create(trust=trust, cycle=cycle, framework=framework, state=state)
    Response.objects.bulk_create(
        Response(
            assessment=assessment,
            requirement=r,
            rating=levels.get(ratings.get(r.code)),
            rationale=f"Why {r.code} is rated as it is." if r.code in ratings else "",
            status=ResponseStatus.READY if r.code in ratings else ResponseStatus.NOT_STARTED,
        )
        for r in requirements
    )
    indicators = {i.code: i for i in framework.indicators.all()}
    IndicatorValue.objects.bulk_create(
        IndicatorValue(
            assessment=assessment,
            indicator=indicators[code],
            numerator=Decimal(numerator),
            denominator=None if denominator is None else Decimal(denominator),
        )
        for code, (numerator, denominator) in (figures or {}).items()
    )
    if state == AssessmentState.APPROVED:
        freeze(assessment)
    return assessment


def freeze(assessment, *, approved_at=None):
    """Approve the assessment as it stands, exactly as services.approve freezes it."""
    approved_at = approved_at or timezone.now()
    sign_off = {"name": "Esther Executive", "role": "Chief Nurse", "statement": "Approved.", "approved_at": ""}
    sign_off["approved_at"] = approved_at.isoformat()
    snapshot = services.build_snapshot(assessment, sign_off=sign_off)
    Approval.objects.create(
        assessment=assessment,
        revision=assessment.revision,
        approver_name=sign_off["name"],
        approver_role=sign_off["role"],
        statement=sign_off["statement"],
        approved_at=approved_at,
        snapshot=snapshot,
        content_hash=services.content_hash(snapshot),
    )
    Assessment.objects.filter(pk=assessment.pk).update(state=AssessmentState.APPROVED)
    assessment.state = AssessmentState.APPROVED
    return assessment


def rerate(assessment, ratings: dict[str, int]):
    """Change live ratings (as a reopened draft would) without approving them."""
    for code, value in ratings.items():
        Response.objects.filter(assessment=assessment, requirement__code=code).update(
            rating=RatingLevel.objects.get(framework=assessment.framework, value=value)
        )


def reopen(assessment):
    Assessment.objects.filter(pk=assessment.pk).update(state=AssessmentState.DRAFT, revision=assessment.revision + 1)
    assessment.refresh_from_db()
    return assessment


def row_for(result, trust):
    return next(row for row in result.rows if row.trust_id == trust.pk)


def ratings_of(result, trust):
    return {cell.code: cell.value for cell in row_for(result, trust).cells}


@pytest.fixture
def framework(published_framework):
    return published_framework


@pytest.fixture
def third_trust(icb):
    trust = TrustFactory(ods_code="RY9", name="Third Partnership NHS Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


@pytest.fixture
def fourth_trust(icb):
    trust = TrustFactory(ods_code="RZ8", name="Fourth Care NHS Foundation Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


def newer_version(framework):
    """A later version of ``framework`` with the same requirements and scale."""
    newer = Framework.objects.create(
        slug=framework.slug,
        title=framework.title,
        publisher=framework.publisher,
        version="2027.1",
        publication_date=datetime.date(2027, 4, 1),
        status=FrameworkStatus.PUBLISHED,
    )
    for requirement in framework.requirements.all():
        Requirement.objects.create(
            framework=newer, code=requirement.code, order=requirement.order, title=requirement.title, summary="."
        )
    for level in framework.rating_levels.all():
        RatingLevel.objects.create(framework=newer, value=level.value, label=level.label, meaning=".")
    return newer


def outside_trust(icb):
    """Another trust in ``icb`` (an ICB other than the one compared)."""
    trust = TrustFactory(region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


@pytest.fixture
def past_cycle(db):
    """A cycle whose deadline has passed."""
    return Cycle.objects.create(
        label="2024/25", snapshot_date=datetime.date(2024, 3, 31), submission_deadline=datetime.date(2024, 6, 28)
    )


@pytest.fixture
def open_cycle(db):
    """A cycle whose deadline is still ahead."""
    today = timezone.localdate()
    return Cycle.objects.create(
        label="2099/00", snapshot_date=today - datetime.timedelta(days=30), submission_deadline=today.replace(year=2099)
    )


# ---- the heatmap and medians -------------------------------------------------------------------


class TestHeatmap:
    def test_cells_are_approved_ratings_with_label_and_number(self, icb, trust, neighbour_trust, cycle, framework):
        """Each cell holds the trust's approved rating as '3 – Largely met', linked to its approved revision."""
        approved = assess(trust, cycle, [1, 2, 3, 4, 1, 2, 3, 4])
        result = build_comparison(icb=icb, cycle=cycle)
        row = row_for(result, trust)
        assert [c.text for c in row.cells[:4]] == [
            "1 – Not met",
            "2 – Partially met",
            "3 – Largely met",
            "4 – Fully met",
        ]
        assert row.cells[2].url == f"/assessments/{approved.pk}/revisions/1/#requirement-R3"
        assert row.report_url == f"/assessments/{approved.pk}/revisions/1/report.pdf"
        assert [c.css for c in row.cells[:4]] == ["app-heat--1", "app-heat--2", "app-heat--3", "app-heat--4"]

    def test_medians_match_hand_computed_values(
        self, icb, trust, neighbour_trust, third_trust, fourth_trust, cycle, framework
    ):
        """Medians per requirement: R1 of 1,2,2,4 is 2; R2 of 2,3,3,4 is 3; R3 of 1,2,3,4 is 2.5."""
        assess(trust, cycle, {"R1": 1, "R2": 2, "R3": 1})
        assess(neighbour_trust, cycle, {"R1": 2, "R2": 3, "R3": 2})
        assess(third_trust, cycle, {"R1": 2, "R2": 3, "R3": 3})
        assess(fourth_trust, cycle, {"R1": 4, "R2": 4, "R3": 4})
        result = build_comparison(icb=icb, cycle=cycle)
        assert result.medians["R1"].value == 2
        assert result.medians["R1"].text == "2 – Partially met"
        assert result.medians["R2"].text == "3 – Largely met"
        assert result.medians["R3"].value == 2.5
        assert result.medians["R3"].text == "2.5 – between Partially met and Largely met"
        assert result.medians["R3"].count == 4

    def test_national_median_includes_trusts_outside_the_icb(
        self, icb, other_icb, trust, neighbour_trust, other_trust, cycle, framework
    ):
        """The national median row counts every approved assessment in the cycle, in any ICB."""
        assess(trust, cycle, {"R1": 1})
        assess(neighbour_trust, cycle, {"R1": 1})
        assess(other_trust, cycle, {"R1": 4})
        for value in (4, 1):
            assess(outside_trust(other_icb), cycle, {"R1": value})
        result = build_comparison(icb=icb, cycle=cycle)
        assert result.medians["R1"].value == 1
        assert result.national_medians["R1"].value == 1
        assert result.national_medians["R1"].count == 5
        assert not result.national_medians["R1"].withheld
        assert other_trust.pk not in {row.trust_id for row in result.rows}

    def test_national_median_withheld_with_fewer_than_three_trusts_outside_the_icb(
        self, icb, trust, other_trust, cycle, framework
    ):
        """One approved trust outside the ICB: its rating would follow from the national median, so none is shown."""
        assess(trust, cycle, {"R1": 2})
        assess(other_trust, cycle, {"R1": 4})
        national = build_comparison(icb=icb, cycle=cycle).national_medians["R1"]
        assert (national.value, national.text, national.number) == (None, "Too few to show", "")  # not 3: (2 + 4) / 2
        assert national.withheld

    def test_national_median_needs_three_outside_the_icb_not_three_in_all(
        self, icb, other_icb, trust, neighbour_trust, third_trust, other_trust, cycle, framework
    ):
        """Three in the ICB and two outside is still too few: the ICS lead knows the ICB's own ratings."""
        for inside in (trust, neighbour_trust, third_trust):
            assess(inside, cycle, {"R1": 1})
        assess(other_trust, cycle, {"R1": 4})
        assess(outside_trust(other_icb), cycle, {"R1": 4})
        assert build_comparison(icb=icb, cycle=cycle).national_medians["R1"].value is None
        assess(outside_trust(other_icb), cycle, {"R1": 4})
        assert build_comparison(icb=icb, cycle=cycle).national_medians["R1"].value == 2.5  # 1, 1, 1, 4, 4, 4

    def test_trust_in_the_icb_at_another_time_is_not_outside_it(
        self, icb, other_icb, trust, other_trust, cycle, framework
    ):
        """A trust that joined the ICB after the snapshot date (the lead can open it today) is not counted outside."""
        assess(trust, cycle, {"R1": 2})
        assess(other_trust, cycle, {"R1": 4})
        assess(outside_trust(other_icb), cycle, {"R1": 4})
        joined = outside_trust(other_icb)
        TrustICBMembershipFactory(trust=joined, icb=icb, is_host=False, start_date=datetime.date(2026, 9, 1))
        assess(joined, cycle, {"R1": 4})
        result = build_comparison(icb=icb, cycle=cycle)
        assert joined.pk not in {row.trust_id for row in result.rows}
        assert result.national_medians["R1"].value is None

    def test_summary_pack_context_withholds_the_national_median_too(self, icb, trust, other_trust, cycle, framework):
        """The People Board pack gets the same withheld national median and a footnote explaining it."""
        assess(trust, cycle, {"R1": 2})
        assess(other_trust, cycle, {"R1": 4})
        context = comparison.summary_pack_context(icb=icb, cycle=cycle)
        assert all(m.value is None and m.withheld for m in context["national_medians"].values())
        assert "4 – Fully met" not in {m.text for m in context["national_medians"].values()}
        assert any("at least 3" in note and "outside this system" in note for note in context["notes"])

    def test_rating_labels_come_from_the_frozen_snapshot(self, icb, trust, cycle, framework):
        """Relabelling a level after approval does not change what the comparison shows."""
        assess(trust, cycle, [3] * 8)
        RatingLevel.objects.filter(framework=framework, value=3).update(label="Mostly met")
        assert row_for(build_comparison(icb=icb, cycle=cycle), trust).cells[0].text == "3 – Largely met"


class TestOnlyApprovedData:
    def test_draft_ratings_never_appear(self, icb, trust, neighbour_trust, cycle, framework):
        """A draft's live ratings feed no cell, median or distribution."""
        assess(trust, cycle, [2] * 8)
        assess(neighbour_trust, cycle, [4] * 8, state=AssessmentState.DRAFT)
        result = build_comparison(icb=icb, cycle=cycle)
        row = row_for(result, neighbour_trust)
        assert row.status == comparison.DRAFT
        assert row.approval is None
        assert {c.text for c in row.cells} == {"Not approved"}
        assert result.medians["R1"].value == 2
        assert result.medians["R1"].count == 1
        assert all(count == 0 for level, count in result.distributions[0].counts if level.value == 4)

    @pytest.mark.parametrize("state", [AssessmentState.AWAITING_SIGN_OFF, AssessmentState.RETURNED])
    def test_awaiting_and_returned_do_not_contribute(self, icb, trust, cycle, framework, state):
        """Assessments awaiting sign-off or returned are shown by state only, never by content."""
        assess(trust, cycle, [4] * 8, state=state)
        result = build_comparison(icb=icb, cycle=cycle)
        row = row_for(result, trust)
        assert row.approval is None
        assert row.status == (comparison.AWAITING_SIGN_OFF if state == "awaiting_sign_off" else comparison.DRAFT)
        assert result.approved_rows == []
        assert result.medians == {}

    def test_reopened_assessment_shows_its_latest_approved_revision(self, icb, trust, cycle, framework):
        """After a correction is approved the new revision counts; a further draft revision never does."""
        assessment = assess(trust, cycle, {"R1": 2, "R2": 2})
        reopen(assessment)
        rerate(assessment, {"R1": 3})
        freeze(assessment)
        reopen(assessment)
        rerate(assessment, {"R1": 1, "R2": 1})
        result = build_comparison(icb=icb, cycle=cycle)
        row = row_for(result, trust)
        assert row.approval.revision == 2
        assert ratings_of(result, trust)["R1"] == 3
        assert ratings_of(result, trust)["R2"] == 2
        assert row.status == comparison.APPROVED
        assert row.revision_in_progress == 3

    def test_whole_path_through_the_services(self, icb, trust, lead, executive, complete_assessment, framework):
        """Submitted and approved through the services, the assessment appears with its ratings."""
        assert build_comparison(icb=icb, cycle=complete_assessment.cycle).medians == {}
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        assert row_for(build_comparison(icb=icb, cycle=complete_assessment.cycle), trust).approval is None
        services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name="Esther Executive",
            approver_role="Chief Nurse",
            statement=sign_off_statement(complete_assessment),
        )
        result = build_comparison(icb=icb, cycle=complete_assessment.cycle)
        assert {c.text for c in row_for(result, trust).cells} == {"3 – Largely met"}


# ---- who is in the ICB for a cycle ------------------------------------------------------------


class TestMembershipByDate:
    def test_trust_that_left_before_the_snapshot_date_is_absent(self, icb, trust, cycle, framework):
        """A trust whose membership ended before the cycle's snapshot date is not in that cycle."""
        gone = TrustFactory(name="Gone Before NHS Trust")
        TrustICBMembershipFactory(trust=gone, icb=icb, end_date=datetime.date(2026, 3, 30))
        assess(gone, cycle, [4] * 8)
        assess(trust, cycle, [2] * 8)
        result = build_comparison(icb=icb, cycle=cycle)
        assert gone.pk not in {row.trust_id for row in result.rows}
        assert result.medians["R1"].text == "2 – Partially met"
        assert result.medians["R1"].count == 1

    def test_trust_that_joined_is_present_from_its_start_date(self, icb, cycle, previous_cycle, framework):
        """A trust that joined after last year's snapshot date is in this year's comparison only."""
        joined = TrustFactory(name="Newly Joined NHS Trust")
        TrustICBMembershipFactory(trust=joined, icb=icb, start_date=datetime.date(2025, 4, 1))
        assess(joined, previous_cycle, [2] * 8)
        assess(joined, cycle, [3] * 8)
        assert joined.pk in {row.trust_id for row in build_comparison(icb=icb, cycle=cycle).rows}
        assert joined.pk not in {row.trust_id for row in build_comparison(icb=icb, cycle=previous_cycle).rows}

    def test_trust_serving_two_icbs_appears_in_each(self, icb, other_icb, trust, cycle, framework):
        """A trust with memberships of two ICBs on the snapshot date appears in both comparisons."""
        TrustICBMembershipFactory(trust=trust, icb=other_icb, is_host=False)
        assess(trust, cycle, [3] * 8)
        for system in (icb, other_icb):
            assert ratings_of(build_comparison(icb=system, cycle=cycle), trust)["R1"] == 3

    def test_merged_trust_rolls_up_to_the_icb_it_was_in_then(self, icb, other_icb, cycle, previous_cycle, framework):
        """A trust that moved ICB counts in the old ICB for earlier cycles and the new one after."""
        mover = TrustFactory(name="Moving NHS Trust")
        TrustICBMembershipFactory(trust=mover, icb=icb, end_date=datetime.date(2025, 12, 31))
        TrustICBMembershipFactory(trust=mover, icb=other_icb, start_date=datetime.date(2026, 1, 1))
        assess(mover, previous_cycle, [2] * 8)
        assess(mover, cycle, [3] * 8)
        assert ratings_of(build_comparison(icb=icb, cycle=previous_cycle), mover)["R1"] == 2
        assert mover.pk not in {r.trust_id for r in build_comparison(icb=icb, cycle=cycle).rows}
        assert ratings_of(build_comparison(icb=other_icb, cycle=cycle), mover)["R1"] == 3
        assert mover.pk not in {r.trust_id for r in build_comparison(icb=other_icb, cycle=previous_cycle).rows}

    def test_trust_closed_before_the_snapshot_without_an_assessment_is_left_out(self, icb, cycle, framework):
        """A closed trust with no assessment for the cycle is not listed as 'not started'."""
        closed = TrustFactory(name="Closed NHS Trust", close_date=datetime.date(2025, 9, 30))
        TrustICBMembershipFactory(trust=closed, icb=icb)
        assert closed.pk not in {r.trust_id for r in build_comparison(icb=icb, cycle=cycle).rows}


# ---- status, distributions, trends, summary -------------------------------------------------------


class TestStatusTracker:
    def test_states_and_overdue_after_the_deadline(
        self, icb, trust, neighbour_trust, third_trust, fourth_trust, past_cycle, framework
    ):
        """Not started, draft, awaiting sign-off and approved; all but approved are overdue after the deadline."""
        assess(trust, past_cycle, [3] * 8)
        assess(neighbour_trust, past_cycle, [3] * 8, state=AssessmentState.DRAFT)
        assess(third_trust, past_cycle, [3] * 8, state=AssessmentState.AWAITING_SIGN_OFF)
        result = build_comparison(icb=icb, cycle=past_cycle)
        status = {row.name: (row.status_label, row.overdue) for row in result.rows}
        assert status == {
            trust.name: ("Approved", False),
            neighbour_trust.name: ("Draft", True),
            third_trust.name: ("Awaiting sign-off", True),
            fourth_trust.name: ("Not started", True),
        }
        assert [row.name for row in result.rows] == sorted(status, key=str.lower)

    def test_nothing_is_overdue_before_the_deadline(self, icb, trust, neighbour_trust, open_cycle, framework):
        """Before the deadline, trusts without an approved assessment are not overdue."""
        assess(trust, open_cycle, [3] * 8, state=AssessmentState.DRAFT)
        result = build_comparison(icb=icb, cycle=open_cycle)
        assert not any(row.overdue for row in result.rows)

    def test_default_cycle_is_the_latest_with_an_approval_in_the_icb(
        self, icb, trust, other_trust, cycle, previous_cycle, framework
    ):
        """With no cycle asked for, the latest cycle in which a trust of this ICB has an approval."""
        assess(trust, previous_cycle, [3] * 8)
        assess(trust, cycle, [3] * 8, state=AssessmentState.DRAFT)
        assess(other_trust, cycle, [3] * 8)
        assert build_comparison(icb=icb).cycle == previous_cycle

    def test_cycle_with_nothing_approved_points_to_the_latest_that_has(
        self, icb, trust, neighbour_trust, cycle, previous_cycle, framework
    ):
        """A late cycle with no approvals says so, says all are overdue, and names the latest approved cycle."""
        assess(trust, previous_cycle, [3] * 8)
        assess(trust, cycle, [3] * 8, state=AssessmentState.DRAFT)
        result = build_comparison(icb=icb, cycle=cycle)
        assert result.summary[0] == (
            "No trust in this system has had a 2026/27 assessment approved yet, so there are no ratings; "
            "all 2 are overdue."
        )
        assert result.latest_approved == previous_cycle
        assert "The latest cycle with approved assessments is 2025/26." in result.summary


class TestDistributionsAndTrends:
    def test_distribution_counts_trusts_at_each_level(self, icb, trust, neighbour_trust, third_trust, cycle, framework):
        """Per requirement, how many trusts at each level, and how many have nothing approved."""
        assess(trust, cycle, {"R1": 2})
        assess(neighbour_trust, cycle, {"R1": 2})
        result = build_comparison(icb=icb, cycle=cycle)
        first = result.distributions[0]
        assert first.requirement.code == "R1"
        assert [(level.value, count) for level, count in first.counts] == [(1, 0), (2, 2), (3, 0), (4, 0)]
        assert first.not_approved == 1

    def test_trends_across_cycles_and_the_summary_of_movement(
        self, icb, trust, neighbour_trust, cycle, previous_cycle, framework
    ):
        """Each requirement's distribution by cycle; the summary counts requirements whose median rose."""
        assess(trust, previous_cycle, {"R1": 1, "R2": 3})
        assess(neighbour_trust, previous_cycle, {"R1": 1, "R2": 3})
        assess(trust, cycle, {"R1": 3, "R2": 2})
        assess(neighbour_trust, cycle, {"R1": 3, "R2": 2})
        result = build_comparison(icb=icb, cycle=cycle)
        r1 = result.trends[0]
        assert [(p.cycle_label, p.counts[1], p.counts[3], p.median.value) for p in r1.points] == [
            ("2025/26", 2, 0, 1),
            ("2026/27", 0, 2, 3),
        ]
        assert not any(p.version_changed for p in r1.points)
        assert "Since 2025/26: 1 requirement improved in median rating, 1 fell and 0 stayed the same" in " ".join(
            result.summary
        )

    def test_framework_version_change_is_marked(self, icb, trust, cycle, previous_cycle, framework):
        """A cycle assessed against a new framework version is marked on the trend and in the notes."""
        assess(trust, previous_cycle, [2] * 8)
        newer = Framework.objects.create(
            slug=framework.slug,
            title=framework.title,
            publisher=framework.publisher,
            version="2027.1",
            publication_date=datetime.date(2027, 4, 1),
            status=FrameworkStatus.PUBLISHED,
        )
        for requirement in framework.requirements.all():
            Requirement.objects.create(
                framework=newer, code=requirement.code, order=requirement.order, title=requirement.title, summary="."
            )
        for level in framework.rating_levels.all():
            RatingLevel.objects.create(framework=newer, value=level.value, label=level.label, meaning=".")
        assess(trust, cycle, [3] * 8, framework=newer)
        result = build_comparison(icb=icb, cycle=cycle)
        assert [p.version_changed for p in result.trends[0].points] == [False, True]
        assert "framework version changed" in " ".join(result.summary)
        assert any("framework version changed" in note for note in comparison.notes(result))

    def test_no_version_change_when_only_the_mix_of_approved_trusts_changes(
        self, icb, trust, neighbour_trust, cycle, previous_cycle, framework
    ):
        """A cycle using only a version already seen is not a version change, whoever has been approved."""
        newer = newer_version(framework)
        assess(trust, previous_cycle, [2] * 8, framework=framework)
        assess(neighbour_trust, previous_cycle, [2] * 8, framework=newer)
        assess(trust, cycle, [3] * 8, framework=framework)  # v1 again; the neighbour not approved yet
        result = build_comparison(icb=icb, cycle=cycle)
        assert [p.version_changed for p in result.trends[0].points] == [False, False]
        assert not any("framework version changed" in note for note in comparison.notes(result))

    def test_version_change_is_marked_once_when_the_new_version_first_appears(
        self, icb, trust, neighbour_trust, past_cycle, cycle, previous_cycle, framework
    ):
        """v1; then v1 and v2 (the change); then v2 alone, already seen: marked in the middle cycle only."""
        newer = newer_version(framework)
        assess(trust, past_cycle, [2] * 8, framework=framework)
        assess(trust, previous_cycle, [2] * 8, framework=framework)
        assess(neighbour_trust, previous_cycle, [2] * 8, framework=newer)
        assess(trust, cycle, [3] * 8, framework=newer)
        points = build_comparison(icb=icb, cycle=cycle).trends[0].points
        assert [(p.cycle_label, p.version_changed) for p in points] == [
            ("2024/25", False),
            ("2025/26", True),
            ("2026/27", False),
        ]

    def test_summary_answers_weakest_and_late(self, icb, trust, neighbour_trust, third_trust, past_cycle, framework):
        """The plain-English summary names the lowest-rated requirement and who is overdue."""
        assess(trust, past_cycle, [3, 3, 1, 3, 3, 3, 3, 3])
        assess(neighbour_trust, past_cycle, [3, 3, 2, 3, 3, 3, 3, 3])
        result = build_comparison(icb=icb, cycle=past_cycle)
        weakest, status, *_ = result.summary
        assert weakest == "Lowest-rated requirement across the system: R3 Professional supervision (median 1.5 – " + (
            "between Not met and Partially met)."
        )
        assert status == (
            f"1 of 3 trusts has not had a 2024/25 assessment approved; 1 is overdue ({third_trust.name})."
        )


class TestSorting:
    def test_sort_by_requirement_puts_unapproved_last_either_way(
        self, icb, trust, neighbour_trust, third_trust, cycle, framework
    ):
        """Sorting by R3 orders by rating (ties by name); trusts with nothing approved stay at the end."""
        assess(trust, cycle, {"R3": 3})
        assess(neighbour_trust, cycle, {"R3": 1})
        result = build_comparison(icb=icb, cycle=cycle)
        ascending = [row.name for row in sort_rows(result.rows, "R3", "asc")]
        descending = [row.name for row in sort_rows(result.rows, "R3", "desc")]
        assert ascending == [neighbour_trust.name, trust.name, third_trust.name]
        assert descending == [trust.name, neighbour_trust.name, third_trust.name]

    def test_sort_by_profile_and_name(self, icb, trust, neighbour_trust, cycle, framework):
        """Profile sorts by the mean rating; name sorts alphabetically, either way."""
        assess(trust, cycle, [4, 4, 4, 4, 1, 1, 1, 1])
        assess(neighbour_trust, cycle, [3] * 8)
        result = build_comparison(icb=icb, cycle=cycle)
        assert [r.name for r in sort_rows(result.rows, "profile", "asc")] == [trust.name, neighbour_trust.name]
        assert [r.name for r in sort_rows(result.rows, "name", "desc")] == [neighbour_trust.name, trust.name]
        assert [(level.value, count) for level, count in row_for(result, trust).profile] == [(4, 4), (1, 4)]


# ---- workforce figures and suppression ----------------------------------------------------------


class TestWorkforce:
    def test_rates_are_computed_from_numerators_and_denominators(self, icb, trust, neighbour_trust, cycle, framework):
        """Each trust's rate, and the rate across the approved trusts from the summed counts."""
        assess(trust, cycle, [3] * 8, figures={"vacancy_rate": (10, 40), "headcount": (120, None)})
        assess(neighbour_trust, cycle, [3] * 8, figures={"vacancy_rate": (5, 60), "headcount": (80, None)})
        rows = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.rows}
        vacancy = rows["vacancy_rate"]
        assert [f.text for f in vacancy.figures] == ["25%", "8.3%"]  # by trust name: Cambridgeshire, Neighbouring
        assert vacancy.figures[0].detail == "10 of 40"
        assert vacancy.total.text == "15%"
        assert vacancy.total.detail == "15 of 100"
        assert rows["headcount"].total.text == "200"

    @pytest.mark.parametrize(
        ("numerator", "denominator", "suppressed"),
        [(1, 40, True), (7, 40, True), (8, 40, False), (0, 40, False), (5, 6, True), (20, 7, True)],
    )
    def test_small_special_category_counts_are_suppressed(
        self, icb, trust, cycle, framework, numerator, denominator, suppressed
    ):
        """Ethnicity counts from 1 to 7 (numerator or denominator) show as '*', with the rate they give."""
        if numerator > denominator:
            numerator, denominator = denominator, numerator
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (numerator, denominator)})
        rows = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.all_rows}
        figure = rows["ethnic_minority_share"].figures[0]
        assert figure.suppressed is suppressed
        assert (figure.text == "*") is suppressed
        if suppressed:
            assert (figure.rate, figure.numerator, figure.detail) == (None, None, "")

    def test_small_counts_that_are_not_special_category_are_shown(self, icb, trust, cycle, framework):
        """Suppression applies to special category data only: three AMHPs are shown as 3."""
        assert not IndicatorDefinition.objects.get(framework=framework, code="amhps").special_category
        assess(trust, cycle, [3] * 8, figures={"amhps": (3, None)})
        rows = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.rows}
        assert rows["amhps"].figures[0].text == "3"

    def test_total_is_suppressed_when_it_would_reveal_a_small_count(
        self, icb, trust, neighbour_trust, cycle, framework
    ):
        """If one trust's figure is suppressed, the total is too: subtraction would give it away."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (3, 50)})
        assess(neighbour_trust, cycle, [3] * 8, figures={"ethnic_minority_share": (20, 90)})
        row = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.rows}["ethnic_minority_share"]
        assert [f.text for f in row.figures] == ["*", "22.2%"]
        assert row.total.suppressed
        assert row.total.text == "*"

    @pytest.mark.parametrize(
        ("numerator", "denominator", "suppressed"),
        [(45, 50, True), (43, 50, True), (42, 50, False), (50, 50, False), (93, 100, True), (92, 100, False)],
    )
    def test_small_complement_of_a_special_category_count_is_suppressed(
        self, icb, trust, cycle, framework, numerator, denominator, suppressed
    ):
        """45 of 50 from ethnic minorities says 5 are not: a complement from 1 to 7 is suppressed too."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (numerator, denominator)})
        rows = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.all_rows}
        figure, total = rows["ethnic_minority_share"].figures[0], rows["ethnic_minority_share"].total
        assert (figure.suppressed, total.suppressed) == (suppressed, suppressed)
        if suppressed:
            assert (figure.text, figure.rate, figure.numerator, figure.denominator, figure.detail) == (
                "*",
                None,
                None,
                None,
                "",
            )

    def test_total_is_suppressed_when_a_trusts_complement_is_small(self, icb, trust, neighbour_trust, cycle, framework):
        """A trust at 45 of 50 is '*', and so is the total that would give its figure back by subtraction."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (45, 50)})
        assess(neighbour_trust, cycle, [3] * 8, figures={"ethnic_minority_share": (20, 90)})
        row = {row.code: row for row in build_comparison(icb=icb, cycle=cycle).workforce.rows}["ethnic_minority_share"]
        assert [f.text for f in row.figures] == ["*", "22.2%"]
        assert row.total.text == "*"

    def test_notes_explain_the_complement_rule(self, icb, trust, cycle, framework):
        """The footnote every rendering carries says the rest of the group is suppressed too."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (45, 50)})
        text = " ".join(comparison.notes(build_comparison(icb=icb, cycle=cycle)))
        assert "the rest of the group" in text


# ---- peer context ----------------------------------------------------------------------------------


class TestPeerContext:
    def test_own_rating_against_icb_and_national_medians(
        self, icb, trust, neighbour_trust, third_trust, fourth_trust, other_trust, cycle, framework
    ):
        """The trust's rating beside the median of the other approved assessments in its ICB and in England."""
        own = assess(trust, cycle, {"R1": 1})
        assess(neighbour_trust, cycle, {"R1": 3})
        assess(third_trust, cycle, {"R1": 4})
        assess(fourth_trust, cycle, {"R1": 2})
        assess(other_trust, cycle, {"R1": 4})
        rows = peer_context(assessment_or_approval=own.approvals.get())
        r1 = rows[0]
        assert r1.own == "1 – Not met"
        assert [(m.group, m.median.text) for m in r1.icbs] == [(icb.name, "3 – Largely met")]  # 3, 4 and 2
        assert r1.national.median.text == "3.5 – between Largely met and Fully met"  # 3, 4, 2 and 4

    def test_median_of_fewer_than_three_trusts_is_not_shown(self, icb, trust, neighbour_trust, cycle, framework):
        """With only two approved trusts, the other trust's rating could be worked out: no median."""
        own = assess(trust, cycle, {"R1": 2}, state=AssessmentState.DRAFT)
        rerate(own, {"R1": 2})
        assess(neighbour_trust, cycle, {"R1": 3})
        rows = peer_context(assessment_or_approval=own)
        assert rows[0].own == "2 – Partially met"
        assert rows[0].icbs[0].median is None
        assert rows[0].national.median is None

    def test_only_members_of_the_trust_get_peer_context(self, icb, trust, neighbour_trust, ics_lead, cycle, framework):
        """ICS leads and outsiders get no peer panel; members of the trust do."""
        own = assess(trust, cycle, {"R1": 2})
        board = TrustMembershipFactory(trust=trust, role=TrustRole.BOARD_READER, user=UserFactory()).user
        approval = own.approvals.get()
        assert comparison.peer_context_for(board, approval=approval)["show_peer_context"] is True
        assert comparison.peer_context_for(ics_lead, approval=approval)["show_peer_context"] is False

    def test_other_icbs_medians_are_their_own(self, icb, trust, neighbour_trust, cycle, framework):
        """A trust in two ICBs sees a median for each, each from that ICB's trusts only."""
        second = ICBFactory(name="Second Integrated Care Board")
        TrustICBMembershipFactory(trust=trust, icb=second, is_host=False)
        others = []
        for n in range(3):
            other = TrustFactory(name=f"Second ICB Trust {n}")
            TrustICBMembershipFactory(trust=other, icb=second)
            others.append(assess(other, cycle, {"R1": 4}))
        own = assess(trust, cycle, {"R1": 4})
        assess(neighbour_trust, cycle, {"R1": 1})
        rows = peer_context(assessment_or_approval=own)
        medians = {m.group: m.median for m in rows[0].icbs}
        assert medians[second.name].text == "4 – Fully met"
        assert medians[icb.name] is None  # only one other approved in the first ICB

    def test_own_trust_is_left_out_of_the_count_and_the_median(
        self, icb, trust, neighbour_trust, third_trust, cycle, framework
    ):
        """Own rating plus two others is too few: with the own rating known, the median would give both away."""
        own = assess(trust, cycle, {"R1": 1})
        assess(neighbour_trust, cycle, {"R1": 4})
        assess(third_trust, cycle, {"R1": 4})
        r1 = peer_context(assessment_or_approval=own.approvals.get())[0]
        assert r1.icbs[0].median is None
        assert r1.national.median is None

    def test_median_of_three_others_does_not_move_with_the_own_rating(
        self, icb, trust, neighbour_trust, third_trust, fourth_trust, cycle, framework
    ):
        """Three others at 4, 4 and 2 give 4 whether the trust itself is rated 1 or not yet approved."""
        own = assess(trust, cycle, {"R1": 1})
        for other, value in ((neighbour_trust, 4), (third_trust, 4), (fourth_trust, 2)):
            assess(other, cycle, {"R1": value})
        approved = peer_context(assessment_or_approval=own.approvals.get())[0]
        assert approved.icbs[0].median.value == 4  # 3 if the own 1 were counted
        assert approved.national.median.value == 4

    def test_group_size_is_not_given(self, icb, trust, neighbour_trust, third_trust, fourth_trust, cycle, framework):
        """The peer medians carry no count of trusts, so successive views cannot be subtracted."""
        own = assess(trust, cycle, {"R1": 1})
        for other in (neighbour_trust, third_trust, fourth_trust):
            assess(other, cycle, {"R1": 3})
        r1 = peer_context(assessment_or_approval=own)[0]
        assert (r1.icbs[0].median.count, r1.national.median.count) == (0, 0)
