"""The ICS comparison: the trusts of an ICB side by side, built from approved revisions only.

Ratings and workforce figures come from ``Approval.snapshot`` (the latest approved revision of
each assessment), never from live responses, so drafts, returned assessments and those
awaiting sign-off contribute nothing. Assessment rows are read for their state alone, for the
status tracker. A trust is in an ICB's comparison for a cycle when one of its memberships of
the ICB was in effect on the cycle's snapshot date: a trust serving several ICBs appears in
each, and a trust that has since merged or moved still counts where it was at the time.

``build_comparison`` runs a fixed number of queries however many trusts and cycles there are
(see ``_load``); everything after that is plain Python over the fetched rows. The page, the
CSV and Excel exports, the analysts' command and the People Board summary pack all read the
same ``Comparison``.

What is cached (in the cache every app server shares, ``CACHES["default"]``) is keyed by the
data it was made from, so a change to that data is a new key, never a stale answer: the
ratings of a cycle's latest approvals (for the peer context) by ``approvals_version``, and
the comparison page's rendered chooser and sections by ``comparison_version``.
"""

from __future__ import annotations

import datetime
import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, Func, JSONField, Max, OuterRef, Subquery
from django.db.models.fields.json import KeyTransform
from django.urls import reverse
from django.utils import timezone

from assessments.models import Approval, Assessment, AssessmentState, Cycle
from assessments.suppression import reveals_small_count
from portal.models import ICB, TrustICBMembership
from portal.prepared import Prepared

# Special category figures (ethnicity) with counts from 1 to 7 are not shown outside the trust (DOMAIN §6):
# nor is a figure whose denominator, or the rest of whose denominator (45 of 50 says 5 are not), is that small.
SUPPRESSED_TEXT = "*"
SUPPRESSED_NOTE = "* fewer than 8, not shown"
SUPPRESSION_RULE = (
    "Ethnicity is special category data: outside the trust, a figure is not shown when the count, the group it "
    "is out of, or the rest of the group (for example 5 of 50 not from an ethnic minority, when 45 are) is from "
    "1 to 7; nor is any rate or total that would reveal it."
)
# A median of other trusts' ratings is shown only when at least this many approved assessments the
# reader cannot already see make it up, so that no single trust's rating can be worked out from it:
# for a trust's peer context, trusts other than itself; for the ICS lead's national median, trusts
# outside the ICB (the lead sees every rating inside it).
MIN_PEER_GROUP = 3
TOO_FEW_TEXT = "Too few to show"
# Heatmap palette steps, light to dark NHS blues (see static/scss/portal.scss and exports.py).
PALETTE_STEPS = 4

NOT_STARTED = "not_started"
DRAFT = "draft"
AWAITING_SIGN_OFF = "awaiting_sign_off"
APPROVED = "approved"
STATUS_LABELS = {
    NOT_STARTED: "Not started",
    DRAFT: "Draft",
    AWAITING_SIGN_OFF: "Awaiting sign-off",
    APPROVED: "Approved",
}
SORTS = ("name", "profile")  # and any requirement code


# ---- small value types ----------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """A point on the rating scale, with its step in the sequential palette."""

    value: int
    label: str
    step: int

    @property
    def text(self) -> str:
        # Label and number together, everywhere: never colour alone.
        return f"{self.value} – {self.label}"


@dataclass(frozen=True)
class RequirementColumn:
    code: str
    title: str

    @property
    def text(self) -> str:
        return f"{self.code} {self.title}"


@dataclass(frozen=True)
class Median:
    """The median rating of a group of approved assessments, as a number and in words.

    ``withheld``: there are ratings, but too few that the reader cannot already see for the
    median to be shown (``value`` is None and ``text`` is "Too few to show").
    """

    value: float | None
    count: int
    text: str
    withheld: bool = False

    @property
    def number(self) -> str:
        return "" if self.value is None else f"{self.value:g}"


@dataclass(frozen=True)
class ApprovedRevision:
    """What the comparison reads from one approval: its ratings and figures, nothing else."""

    pk: int
    assessment_id: int
    trust_id: int
    cycle_id: int
    revision: int
    approved_at: datetime.datetime
    framework: str  # slug and version: a change between cycles is marked on the trends
    framework_version: str
    ratings: dict[str, int]
    titles: dict[str, str]
    levels: dict[int, str]
    indicators: list[dict]

    @property
    def detail_url(self) -> str:
        return reverse("approval-detail", args=[self.assessment_id, self.revision])

    @property
    def report_url(self) -> str:
        return reverse("approval-report-pdf", args=[self.assessment_id, self.revision])


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: a trust's approved rating for one requirement."""

    code: str
    value: int | None
    text: str
    css: str
    url: str = ""
    label: str = ""


@dataclass
class TrustRow:
    """One trust in the ICB for the cycle: its status, and its approved ratings if it has any."""

    trust_id: int
    ods_code: str
    name: str
    status: str
    overdue: bool
    approval: ApprovedRevision | None
    revision_in_progress: int | None = None  # a newer revision being corrected after approval
    cells: list[Cell] = field(default_factory=list)
    profile: list[tuple[Level, int]] = field(default_factory=list)  # requirements at each level, highest first
    detail_url: str = ""
    report_url: str = ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def profile_key(self) -> float | None:
        values = [cell.value for cell in self.cells if cell.value is not None]
        return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class Distribution:
    """How many of the ICB's trusts sit at each level of one requirement."""

    requirement: RequirementColumn
    counts: list[tuple[Level, int]]
    not_approved: int
    median: Median


@dataclass(frozen=True)
class TrendPoint:
    cycle_label: str
    counts: dict[int, int]
    approved: int
    in_icb: int
    median: Median
    frameworks: tuple[str, ...]
    version_changed: bool

    @property
    def count_row(self) -> list[int]:
        """The counts in rating order, lowest first, for tables."""
        return [count for _, count in sorted(self.counts.items())]


@dataclass(frozen=True)
class Trend:
    requirement: RequirementColumn
    points: list[TrendPoint]


@dataclass(frozen=True)
class Figure:
    """A workforce figure as shown outside the trust: small special-category counts suppressed."""

    text: str
    detail: str = ""
    suppressed: bool = False
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    rate: Decimal | None = None


@dataclass(frozen=True)
class WorkforceRow:
    code: str
    label: str
    unit: str
    special_category: bool
    is_rate: bool
    figures: list[Figure]
    total: Figure

    @property
    def figures_and_total(self) -> list[Figure]:
        return [*self.figures, self.total]

    @property
    def all_missing(self) -> bool:
        return all(f.numerator is None and not f.suppressed for f in self.figures)


@dataclass(frozen=True)
class Workforce:
    trusts: list[TrustRow]
    all_rows: list[WorkforceRow]

    @property
    def rows(self) -> list[WorkforceRow]:
        """The figures at least one approved trust gave (the page lists the others by name)."""
        return [row for row in self.all_rows if not row.all_missing]

    @property
    def not_given(self) -> list[WorkforceRow]:
        return [row for row in self.all_rows if row.all_missing]

    @property
    def any_suppressed(self) -> bool:
        return any(f.suppressed for row in self.all_rows for f in [*row.figures, row.total])


@dataclass(frozen=True)
class CycleStatus:
    """Where a later cycle stands, for the summary: how many approved, how many overdue."""

    cycle: Cycle
    in_icb: int
    approved: int
    overdue: int


@dataclass
class Comparison:
    icb: ICB
    cycle: Cycle | None
    cycles: list[Cycle]
    levels: list[Level]
    requirements: list[RequirementColumn]
    rows: list[TrustRow]
    medians: dict[str, Median]
    national_medians: dict[str, Median]
    distributions: list[Distribution]
    trends: list[Trend]
    workforce: Workforce
    summary: list[str]
    later: CycleStatus | None
    generated_at: datetime.datetime
    latest_approved: Cycle | None = None  # the default cycle, when the chosen one has nothing approved

    @property
    def approved_rows(self) -> list[TrustRow]:
        return [row for row in self.rows if row.approval is not None]

    @property
    def overdue_rows(self) -> list[TrustRow]:
        return [row for row in self.rows if row.overdue]

    @property
    def median_row(self) -> list[Median]:
        return [self.medians[r.code] for r in self.requirements]

    @property
    def national_median_row(self) -> list[Median]:
        return [self.national_medians[r.code] for r in self.requirements] if self.national_medians else []

    @property
    def national_withheld(self) -> bool:
        """Whether any national median is withheld for too few approved assessments outside the ICB."""
        return any(m.withheld for m in self.national_medians.values())

    @property
    def national_median_note(self) -> str:
        return national_median_note()

    @property
    def version_changes(self) -> bool:
        return any(point.version_changed for trend in self.trends[:1] for point in trend.points)


# ---- formatting ------------------------------------------------------------------------------


def rating_text(value: int, labels: dict[int, str]) -> str:
    label = labels.get(value)
    return f"{value} – {label}" if label else str(value)


def median_of(values: list[int], labels: dict[int, str]) -> Median:
    if not values:
        return Median(None, 0, "No approved assessments")
    value = float(statistics.median(values))
    if value.is_integer():
        text = rating_text(int(value), labels)
    else:
        low, high = int(value), int(value) + 1
        text = f"{value:g} – between {labels.get(low, low)} and {labels.get(high, high)}"
    return Median(value, len(values), text)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _rate(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator * 100 / denominator).quantize(Decimal("0.1"))


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def figure(indicator: dict | None, *, is_rate: bool, unit: str, inside_trust: bool = False) -> Figure:
    """A snapshot indicator as a figure; outside the trust, special-category figures revealing 1 to 7 are suppressed."""
    if indicator is None or indicator.get("numerator") is None:
        return Figure("Not given")
    numerator = _decimal(indicator["numerator"])
    denominator = _decimal(indicator.get("denominator"))
    if not inside_trust and indicator.get("special_category") and reveals_small_count(numerator, denominator):
        # The rate goes too: with the other figure it would give the small count away.
        return Figure(SUPPRESSED_TEXT, suppressed=True)
    return _shown(numerator, denominator, is_rate=is_rate, unit=unit)


def _shown(numerator: Decimal, denominator: Decimal | None, *, is_rate: bool, unit: str) -> Figure:
    if is_rate and denominator:
        rate = _rate(numerator, denominator)
        return Figure(
            f"{_number(rate)}%",
            f"{_number(numerator)} of {_number(denominator)}",
            numerator=numerator,
            denominator=denominator,
            rate=rate,
        )
    if is_rate:
        return Figure(_number(numerator), "no denominator given", numerator=numerator)
    suffix = " WTE" if unit == "wte" else ""
    return Figure(f"{_number(numerator)}{suffix}", numerator=numerator, denominator=denominator)


# ---- loading: a fixed number of queries -------------------------------------------------------


def _responses():
    """The snapshot's responses cut down to code, title and rating.

    On PostgreSQL the rationale, evidence and the rest never leave the database, which keeps
    the comparison's cost from growing with what trusts wrote; elsewhere the whole list is read.
    """
    if connection.vendor == "postgresql":
        return Func(
            F("snapshot"),
            template="(SELECT jsonb_agg(jsonb_build_object('code', r.value->'code', 'title', r.value->'title', "
            "'rating', r.value->'rating') ORDER BY r.ordinality) "
            "FROM jsonb_array_elements(%(expressions)s->'responses') WITH ORDINALITY AS r)",
            output_field=JSONField(),
        )
    return KeyTransform("responses", "snapshot")


def latest_approvals(approvals) -> list[ApprovedRevision]:
    """The latest approved revision of each assessment in ``approvals``: its ratings, scale and framework.

    One query. Workforce figures are read separately, for the one cycle that shows them
    (``load_indicators``).
    """
    newer = Approval.objects.filter(assessment=OuterRef("assessment"), revision__gt=OuterRef("revision"))
    rows = (
        approvals.filter(~Exists(newer))
        .order_by("assessment_id")
        .values(
            "pk",
            "assessment_id",
            "revision",
            "approved_at",
            "assessment__trust_id",
            "assessment__cycle_id",
            "snapshot__framework",
            "snapshot__rating_levels",
            responses=_responses(),
        )
    )
    return [_approved(row) for row in rows]


def load_indicators(approvals: list[ApprovedRevision]) -> None:
    """Fill in the frozen workforce figures of these approvals. One query."""
    if not approvals:
        return
    by_pk = {approval.pk: approval for approval in approvals}
    for pk, indicators in Approval.objects.filter(pk__in=by_pk).values_list("pk", "snapshot__indicators"):
        by_pk[pk].indicators[:] = indicators or []


def _approved(row: dict) -> ApprovedRevision:
    framework = row["snapshot__framework"] or {}
    responses = row["responses"] or []
    return ApprovedRevision(
        pk=row["pk"],
        assessment_id=row["assessment_id"],
        trust_id=row["assessment__trust_id"],
        cycle_id=row["assessment__cycle_id"],
        revision=row["revision"],
        approved_at=row["approved_at"],
        framework=f"{framework.get('slug', '')} {framework.get('version', '')}",
        framework_version=str(framework.get("version", "")),
        ratings={r["code"]: r["rating"]["value"] for r in responses if r.get("rating")},
        titles={r["code"]: r["title"] for r in responses},
        levels={level["value"]: level["label"] for level in row["snapshot__rating_levels"] or []},
        indicators=[],
    )


@dataclass
class _Data:
    cycles: list[Cycle]
    memberships: list[TrustICBMembership]
    states: dict[tuple[int, int], tuple[str, int]]  # (trust, cycle) -> (state, revision)
    approvals: dict[tuple[int, int], ApprovedRevision]  # (trust, cycle) -> latest approved revision


def _load(icb: ICB, cycles: list[Cycle] | None = None) -> _Data:
    """Four queries (three if the cycles are given): cycles, the ICB's memberships, assessment states, approvals.

    ``build_comparison`` adds one for the chosen cycle's workforce figures and one for the national medians.
    """
    cycles = sorted(cycles, key=lambda c: c.label) if cycles is not None else list(Cycle.objects.order_by("label"))
    memberships = list(TrustICBMembership.objects.filter(icb=icb).select_related("trust").order_by("trust__name"))
    trust_ids = Subquery(TrustICBMembership.objects.filter(icb=icb).values("trust_id"))
    states = {
        (trust_id, cycle_id): (state, revision)
        for trust_id, cycle_id, state, revision in Assessment.objects.filter(trust_id__in=trust_ids).values_list(
            "trust_id", "cycle_id", "state", "revision"
        )
    }
    approvals = {
        (approval.trust_id, approval.cycle_id): approval
        for approval in latest_approvals(Approval.objects.filter(assessment__trust_id__in=trust_ids))
    }
    return _Data(cycles, memberships, states, approvals)


def comparison_version(icb: ICB, cycles: list[Cycle]) -> str:
    """A digest of everything ``build_comparison`` reads for ``icb`` with these ``cycles``: a cache key part.

    The ICB, the cycles, the ICB's memberships (with each trust's code, name and closing date)
    and the state and revision of each of those trusts' assessments, every approval (its count
    and latest id: the snapshots behind the ratings, here and in the national medians) and
    today's date (what is overdue). Any change to them changes the digest. One query.
    """
    rows = _VERSION_ROWS.rows(icb_id=icb.pk)
    parts = (
        (icb.pk, icb.ods_code, icb.name),
        [(c.pk, c.label, c.snapshot_date, c.submission_deadline) for c in cycles],
        rows,
        timezone.localdate(),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# comparison_version's query, compiled once per process (portal.prepared): compiling it costs about
# 1 ms of CPU, which the comparison page would otherwise pay on every view, four times running it.
_VERSION_ROWS = Prepared(
    lambda icb_id: (
        TrustICBMembership.objects.filter(icb_id=icb_id)
        .annotate(
            approvals=Subquery(
                Approval.objects.order_by().values(total=Func(F("pk"), function="COUNT")).values("total")
            ),
            latest_approval=Subquery(Approval.objects.order_by("-pk").values("pk")[:1]),
        )
        .order_by("pk", "trust__assessments__pk")
        .values_list(
            "pk",
            "trust_id",
            "start_date",
            "end_date",
            "trust__ods_code",
            "trust__name",
            "trust__close_date",
            "trust__assessments__pk",
            "trust__assessments__cycle_id",
            "trust__assessments__state",
            "trust__assessments__revision",
            "approvals",
            "latest_approval",
        )
    )
)


def _national_approvals(cycle: Cycle) -> list[ApprovedRevision]:
    return latest_approvals(Approval.objects.filter(assessment__cycle=cycle))


def trusts_in_icb_on(memberships: list[TrustICBMembership], day: datetime.date, *, assessed: set[int]):
    """The trusts whose membership was in effect on ``day``, by name, each once.

    A trust that had closed by then is left out, unless it still has an assessment for the cycle.
    """
    trusts = {}
    for m in memberships:
        if m.start_date <= day and (m.end_date is None or m.end_date >= day):
            closed = m.trust.close_date is not None and m.trust.close_date <= day
            if not closed or m.trust_id in assessed:
                trusts[m.trust_id] = m.trust
    return sorted(trusts.values(), key=lambda t: (t.name.lower(), t.ods_code))


# ---- building the comparison ---------------------------------------------------------------


def build_comparison(
    *, icb: ICB, cycle: Cycle | str | None = None, cycles: list[Cycle] | None = None, national: bool = True
) -> Comparison:
    """Everything an ICS lead sees for one ICB and cycle, from approved revisions only.

    ``cycle`` may be a Cycle, its label, or None for the latest cycle in which any trust in
    the ICB has an approved assessment (or the latest cycle, if none has). ``cycles``, if the
    caller has already fetched every cycle, saves a query. ``national`` adds the national
    median of each requirement (one more query).
    """
    data = _load(icb, cycles)
    today = timezone.localdate()
    chosen = _choose_cycle(data, cycle)
    if chosen is None:
        return _empty(icb, data.cycles)

    rows_by_cycle = {c.pk: status_tracker(data, c, today) for c in data.cycles if c.label <= chosen.label}
    rows = rows_by_cycle[chosen.pk]
    approved = [row.approval for row in rows if row.approval]
    load_indicators(approved)
    history = [a for c_rows in rows_by_cycle.values() for row in c_rows if (a := row.approval)]
    labels = _labels(approved or history)
    levels = scale(labels)
    requirements = _requirements(approved) or _requirements(_latest_cycle_approvals(rows_by_cycle, data.cycles))
    heatmap(rows, requirements, levels)
    medians = {
        r.code: median_of([a.ratings[r.code] for a in approved if r.code in a.ratings], labels) for r in requirements
    }
    national_medians = {}
    if national:
        everyone = _national_approvals(chosen)
        in_icb = {m.trust_id for m in data.memberships}
        national_medians = {r.code: _national_median(r.code, everyone, in_icb, labels) for r in requirements}
    cycles_so_far = [c for c in data.cycles if c.pk in rows_by_cycle]
    trend_list = trends(requirements, cycles_so_far, rows_by_cycle, labels)
    comparison = Comparison(
        icb=icb,
        cycle=chosen,
        cycles=data.cycles,
        levels=levels,
        requirements=requirements,
        rows=rows,
        medians=medians,
        national_medians=national_medians,
        distributions=distributions(requirements, levels, rows, medians),
        trends=trend_list,
        workforce=workforce_table(rows),
        summary=[],
        later=_later(data, chosen, today),
        generated_at=timezone.now(),
    )
    if not approved:
        fallback = _choose_cycle(data, None)
        if (
            fallback is not None
            and fallback.pk != chosen.pk
            and any(
                (trust.pk, fallback.pk) in data.approvals
                for trust in trusts_in_icb_on(data.memberships, fallback.snapshot_date, assessed=set())
            )
        ):
            comparison.latest_approved = fallback
    comparison.summary = summary_lines(comparison)
    return comparison


def _national_median(code: str, approvals: list[ApprovedRevision], in_icb: set[int], labels: dict[int, str]) -> Median:
    """The median of every approved rating of ``code`` in England, withheld unless enough come from outside the ICB.

    The ICS lead sees every rating inside the ICB, so with fewer than ``MIN_PEER_GROUP`` from
    outside it the median would give those away (2 inside and 1 outside: twice the median less
    the other is the outside trust's rating). ``in_icb`` is every trust with any membership of
    the ICB, at any time: a trust that joined after the snapshot date is visible to the lead too.
    """
    rated = [a for a in approvals if code in a.ratings]
    if sum(a.trust_id not in in_icb for a in rated) < MIN_PEER_GROUP:
        return Median(None, len(rated), TOO_FEW_TEXT, withheld=True)
    return median_of([a.ratings[code] for a in rated], labels)


def _empty(icb: ICB, cycles: list[Cycle]) -> Comparison:
    return Comparison(
        icb=icb,
        cycle=None,
        cycles=cycles,
        levels=[],
        requirements=[],
        rows=[],
        medians={},
        national_medians={},
        distributions=[],
        trends=[],
        workforce=Workforce([], []),
        summary=[],
        later=None,
        generated_at=timezone.now(),
    )


def _choose_cycle(data: _Data, cycle: Cycle | str | None) -> Cycle | None:
    if isinstance(cycle, Cycle):
        return next((c for c in data.cycles if c.pk == cycle.pk), cycle)
    if isinstance(cycle, str):
        return next((c for c in data.cycles if c.label == cycle), None)
    for candidate in reversed(data.cycles):
        members = {t.pk for t in trusts_in_icb_on(data.memberships, candidate.snapshot_date, assessed=set())}
        if any((trust_id, candidate.pk) in data.approvals for trust_id in members):
            return candidate
    return data.cycles[-1] if data.cycles else None


def status_tracker(data: _Data, cycle: Cycle, today: datetime.date) -> list[TrustRow]:
    """Every trust in the ICB for the cycle, by name: its state (from the assessment row only) and approval."""
    assessed = {trust_id for (trust_id, cycle_id) in data.states if cycle_id == cycle.pk}
    rows = []
    for trust in trusts_in_icb_on(data.memberships, cycle.snapshot_date, assessed=assessed):
        state, revision = data.states.get((trust.pk, cycle.pk), (None, None))
        approval = data.approvals.get((trust.pk, cycle.pk))
        if approval is not None:
            status = APPROVED
        elif state is None:
            status = NOT_STARTED
        elif state == AssessmentState.AWAITING_SIGN_OFF:
            status = AWAITING_SIGN_OFF
        else:
            # Returned is a draft again; what the executive wrote stays inside the trust.
            status = DRAFT
        row = TrustRow(
            trust_id=trust.pk,
            ods_code=trust.ods_code,
            name=trust.name,
            status=status,
            overdue=status != APPROVED and today > cycle.submission_deadline,
            approval=approval,
            revision_in_progress=revision if approval and state != AssessmentState.APPROVED else None,
        )
        if approval is not None:
            row.detail_url = approval.detail_url
            row.report_url = approval.report_url
        rows.append(row)
    return rows


def _labels(approvals: list[ApprovedRevision]) -> dict[int, str]:
    labels: dict[int, str] = {}
    for approval in sorted(approvals, key=lambda a: a.approved_at):
        labels.update(approval.levels)  # the newest wording wins
    return dict(sorted(labels.items()))


def scale(labels: dict[int, str]) -> list[Level]:
    """The rating scale with a palette step for each level, however many levels there are."""
    values = sorted(labels)
    if len(values) == 1:
        return [Level(values[0], labels[values[0]], PALETTE_STEPS)]
    return [
        Level(value, labels[value], 1 + round(index * (PALETTE_STEPS - 1) / (len(values) - 1)))
        for index, value in enumerate(values)
    ]


def _requirements(approvals: list[ApprovedRevision]) -> list[RequirementColumn]:
    """The requirements rated in these approvals, newest wording first, in framework order."""
    columns: dict[str, str] = {}
    for approval in sorted(approvals, key=lambda a: a.approved_at, reverse=True):
        for code, title in approval.titles.items():
            columns.setdefault(code, title)
    return [RequirementColumn(code, title) for code, title in columns.items()]


def _latest_cycle_approvals(rows_by_cycle, cycles) -> list[ApprovedRevision]:
    for c in reversed(cycles):
        approved = [row.approval for row in rows_by_cycle.get(c.pk, []) if row.approval]
        if approved:
            return approved
    return []


def heatmap(rows: list[TrustRow], requirements: list[RequirementColumn], levels: list[Level]) -> None:
    """Fill each row's cells: the rating label and number with its palette class, or a distinct mark."""
    steps = {level.value: level for level in levels}
    labels = {level.value: level.label for level in levels}
    for row in rows:
        row.cells = []
        row.profile = []
        if row.approval is None:
            row.cells = [Cell(r.code, None, "Not approved", "app-heat--none") for r in requirements]
            continue
        counts: dict[int, int] = defaultdict(int)
        for requirement in requirements:
            value = row.approval.ratings.get(requirement.code)
            if value is None:
                row.cells.append(Cell(requirement.code, None, "Not in this version", "app-heat--absent"))
                continue
            counts[value] += 1
            level = steps.get(value)
            row.cells.append(
                Cell(
                    requirement.code,
                    value,
                    rating_text(value, labels),
                    f"app-heat--{level.step if level else PALETTE_STEPS}",
                    f"{row.detail_url}#requirement-{requirement.code}",
                    labels.get(value, ""),
                )
            )
        row.profile = [(level, counts[level.value]) for level in reversed(levels) if counts[level.value]]


def sort_rows(rows: list[TrustRow], sort: str, direction: str) -> list[TrustRow]:
    """Rows sorted by trust name, a requirement's rating or the overall profile; never ranked.

    Trusts without an approved assessment stay at the end whichever way the column is sorted.
    The profile sorts by the mean of the trust's ratings; ties fall back to the trust's name.
    """
    reverse = direction == "desc"
    by_name = sorted(rows, key=lambda row: (row.name.lower(), row.ods_code))
    if sort == "name":
        return list(reversed(by_name)) if reverse else by_name

    def key(row: TrustRow):
        if sort == "profile":
            return row.profile_key
        return next((cell.value for cell in row.cells if cell.code == sort), None)

    rated = [row for row in by_name if key(row) is not None]
    unrated = [row for row in by_name if key(row) is None]
    return sorted(rated, key=key, reverse=reverse) + unrated


def distributions(
    requirements: list[RequirementColumn], levels: list[Level], rows: list[TrustRow], medians: dict[str, Median]
) -> list[Distribution]:
    result = []
    not_approved = sum(row.approval is None for row in rows)
    for requirement in requirements:
        values = [row.approval.ratings.get(requirement.code) for row in rows if row.approval]
        result.append(
            Distribution(
                requirement=requirement,
                counts=[(level, values.count(level.value)) for level in levels],
                not_approved=not_approved,
                median=medians[requirement.code],
            )
        )
    return result


def trends(
    requirements: list[RequirementColumn],
    cycles: list[Cycle],
    rows_by_cycle: dict[int, list[TrustRow]],
    labels: dict[int, str],
) -> list[Trend]:
    """For each requirement, the ICB's distribution in every cycle so far, marking framework version changes.

    A cycle is marked (once, on every requirement's point for it) when one of its approvals used a
    framework version that no approval in an earlier cycle used; a cycle that only uses versions
    already seen is not, whichever trusts happen to be approved. Cycles before the ICB's first
    approved assessment are left out.
    """
    points_by_code: dict[str, list[TrendPoint]] = {r.code: [] for r in requirements}
    seen: set[str] = set()  # every framework version approved in the cycles before
    started = False
    for c in cycles:
        rows = rows_by_cycle[c.pk]
        approvals = [row.approval for row in rows if row.approval]
        if not approvals and not started:
            continue
        started = True
        frameworks = tuple(sorted({a.framework for a in approvals}))
        # A change is a version never approved in an earlier cycle, not a different mix of trusts.
        changed = bool(seen) and not set(frameworks) <= seen
        seen.update(frameworks)
        for requirement in requirements:
            values = [a.ratings[requirement.code] for a in approvals if requirement.code in a.ratings]
            points_by_code[requirement.code].append(
                TrendPoint(
                    cycle_label=c.label,
                    counts={value: values.count(value) for value in labels},
                    approved=len(values),
                    in_icb=len(rows),
                    median=median_of(values, labels),
                    frameworks=frameworks,
                    version_changed=changed,
                )
            )
    return [Trend(r, points_by_code[r.code]) for r in requirements]


def workforce_table(rows: list[TrustRow]) -> Workforce:
    """Approved trusts' workforce figures side by side, with the total across them.

    Rates are computed from numerators and denominators. Special-category figures are suppressed
    when the count, its denominator or the rest of the denominator is from 1 to 7, and so is the
    total of any figure where a trust's value is suppressed: otherwise the small number could be
    worked out by subtraction.
    """
    approved = [row for row in rows if row.approval]
    definitions: dict[str, dict] = {}
    for row in sorted(approved, key=lambda r: r.approval.approved_at, reverse=True):
        for indicator in row.approval.indicators:
            definitions.setdefault(indicator["code"], indicator)
    table = []
    indexed = [{i["code"]: i for i in row.approval.indicators} for row in approved]
    for code, definition in definitions.items():
        by_code = [figures.get(code) for figures in indexed]
        is_rate = definition["unit"] == "percentage" or any(i and i.get("denominator") for i in by_code)
        figures = [figure(i, is_rate=is_rate, unit=definition["unit"]) for i in by_code]
        table.append(
            WorkforceRow(
                code=code,
                label=definition["label"],
                unit=definition["unit"],
                special_category=bool(definition.get("special_category")),
                is_rate=is_rate,
                figures=figures,
                total=_total(figures, is_rate=is_rate, unit=definition["unit"], special=definition["special_category"]),
            )
        )
    return Workforce(approved, table)


def _total(figures: list[Figure], *, is_rate: bool, unit: str, special: bool) -> Figure:
    if any(f.suppressed for f in figures):
        return Figure(SUPPRESSED_TEXT, suppressed=True)
    given = [f for f in figures if f.numerator is not None and (not is_rate or f.denominator)]
    if not given:
        return Figure("Not given")
    numerator = sum((f.numerator for f in given), Decimal(0))
    denominator = sum((f.denominator for f in given), Decimal(0)) if is_rate else None
    if special and reveals_small_count(numerator, denominator):
        return Figure(SUPPRESSED_TEXT, suppressed=True)
    return _shown(numerator, denominator, is_rate=is_rate, unit=unit)


def _later(data: _Data, chosen: Cycle, today: datetime.date) -> CycleStatus | None:
    """The newest cycle after the chosen one, if any: is it under way, and who is late?"""
    later = [c for c in data.cycles if c.label > chosen.label]
    if not later:
        return None
    newest = later[-1]
    rows = status_tracker(data, newest, today)
    return CycleStatus(
        cycle=newest,
        in_icb=len(rows),
        approved=sum(row.status == APPROVED for row in rows),
        overdue=sum(row.overdue for row in rows),
    )


# ---- the plain-English summary -------------------------------------------------------------


def _date(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _trusts(count: int) -> str:
    return f"{count} trust{'s' if count != 1 else ''}"


def _names(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def summary_lines(comparison: Comparison) -> list[str]:
    """Where are our trusts weakest, who is late, and has it improved since last year?"""
    cycle, rows = comparison.cycle, comparison.rows
    lines = []
    approved = comparison.approved_rows
    rated = {code: m for code, m in comparison.medians.items() if m.value is not None}
    if rated:
        lowest = min(m.value for m in rated.values())
        weakest = [r for r in comparison.requirements if r.code in rated and rated[r.code].value == lowest]
        median_text = rated[weakest[0].code].text
        if len(weakest) == 1:
            lines.append(f"Lowest-rated requirement across the system: {weakest[0].text} (median {median_text}).")
        else:
            names = [r.text for r in weakest] if len(weakest) == 2 else [r.code for r in weakest]
            lines.append(f"Lowest-rated requirements across the system: {_names(names)} (each median {median_text}).")

    waiting = len(rows) - len(approved)
    overdue = comparison.overdue_rows
    if not rows:
        lines.append(f"No mental health trusts were recorded in this system on {_date(cycle.snapshot_date)}.")
    elif waiting == 0:
        every = "The trust has" if len(rows) == 1 else f"All {len(rows)} trusts have"
        lines.append(f"{every} had their {cycle.label} assessment approved.")
    else:
        if not approved:
            line = f"No trust in this system has had a {cycle.label} assessment approved yet, so there are no ratings"
        else:
            verb = "has" if waiting == 1 else "have"
            line = f"{waiting} of {_trusts(len(rows))} {verb} not had a {cycle.label} assessment approved"
        if len(overdue) == len(rows) and len(rows) > 1:
            line += f"; all {len(rows)} are overdue"
        elif overdue:
            verb = "is" if len(overdue) == 1 else "are"
            line += f"; {len(overdue)} {verb} overdue ({_names([r.name for r in overdue])})"
        else:
            line += f"; the deadline is {_date(cycle.submission_deadline)}"
        lines.append(line + ".")
    if not approved and comparison.latest_approved is not None:
        lines.append(f"The latest cycle with approved assessments is {comparison.latest_approved.label}.")

    lines.extend(_movement(comparison))
    if comparison.later is not None:
        later = comparison.later
        line = f"{later.cycle.label}: {later.approved} of {_trusts(later.in_icb)} approved"
        if later.overdue:
            line += f", {later.overdue} overdue"
        lines.append(line + ".")
    return lines


def _movement(comparison: Comparison) -> list[str]:
    if not comparison.trends or comparison.cycle is None:
        return []
    points = comparison.trends[0].points
    if not points or points[-1].cycle_label != comparison.cycle.label or points[-1].approved == 0:
        return []
    earlier = [i for i, p in enumerate(points[:-1]) if p.approved]
    if not earlier:
        return ["There is no earlier approved cycle in this system to compare with."]
    before_index = earlier[-1]
    before_label = points[before_index].cycle_label
    improved = worse = same = 0
    changed_version = False
    for trend in comparison.trends:
        if len(trend.points) <= before_index:
            continue
        now, then = trend.points[-1].median.value, trend.points[before_index].median.value
        changed_version |= any(p.version_changed for p in trend.points[before_index + 1 :])
        if now is None or then is None:
            continue
        if now > then:
            improved += 1
        elif now < then:
            worse += 1
        else:
            same += 1

    def requirements(n):
        return f"{n} requirement{'s' if n != 1 else ''}"

    line = (
        f"Since {before_label}: {requirements(improved)} improved in median rating, "
        f"{worse} fell and {same} stayed the same"
    )
    now_count, then_count = points[-1].approved, points[before_index].approved
    line += f" (from {then_count} approved assessment{'s' if then_count != 1 else ''} to {now_count})"
    if changed_version:
        line += "; the framework version changed in between, so compare with care"
    return [line + "."]


# ---- the summary pack ------------------------------------------------------------------------


def summary_pack_context(*, icb: ICB, cycle: Cycle | str | None = None) -> dict:
    """What the People Board summary pack needs, from the same comparison the page shows.

    The pack is rendered with the board report machinery (cover, page header and footer,
    tagged PDF). Every figure here is from approved revisions, with small numbers suppressed;
    a national median with fewer than ``MIN_PEER_GROUP`` approved assessments outside the ICB is
    withheld (``Median.withheld``, text "Too few to show"), and ``notes`` says so.
    """
    comparison = build_comparison(icb=icb, cycle=cycle)
    return {
        "comparison": comparison,
        "icb": comparison.icb,
        "cycle": comparison.cycle,
        "title": f"Social work organisational requirements: {comparison.icb.name}, {comparison.cycle}",
        "summary": comparison.summary,
        "status_rows": comparison.rows,
        "levels": comparison.levels,
        "requirements": comparison.requirements,
        "heatmap_rows": comparison.rows,
        "medians": comparison.medians,
        "national_medians": comparison.national_medians,
        "national_withheld": comparison.national_withheld,
        "min_peer_group": MIN_PEER_GROUP,
        "distributions": comparison.distributions,
        "trends": comparison.trends,
        "workforce": comparison.workforce,
        "notes": notes(comparison),
        "generated_at": comparison.generated_at,
    }


def national_median_note() -> str:
    return (
        "The national median is of every approved assessment in England for the cycle, this system's included. "
        f"It is shown only when at least {MIN_PEER_GROUP} of them are from trusts outside this system; otherwise "
        f"\u201c{TOO_FEW_TEXT}\u201d, so that no other system's trust can be worked out from it."
    )


def notes(comparison: Comparison) -> list[str]:
    """The footnotes every rendering of the comparison carries."""
    items = [
        "Ratings are the trusts' own, from the latest revision their executive approved. Drafts, returned "
        "assessments and those awaiting sign-off are not included.",
        "Trusts are those in the system on the cycle's snapshot date; a trust serving several systems appears in each.",
        "Ratings are shown as a number and a label. Trusts are listed by name: this is not a league table.",
        f"Workforce figures: {SUPPRESSED_NOTE}. {SUPPRESSION_RULE}",
    ]
    if comparison.national_medians:
        items.append(national_median_note())
    if any(p.version_changed for t in comparison.trends for p in t.points):
        items.append("The framework version changed between cycles: compare ratings across the change with care.")
    return items


# ---- peer context for a trust's own pages ----------------------------------------------------


@dataclass(frozen=True)
class PeerMedian:
    """A peer group's median for the trust's own pages: None when too few other trusts make it up.

    ``median.count`` is always 0: the size of the group is never given (see ``peer_context``).
    """

    group: str
    median: Median | None


@dataclass(frozen=True)
class PeerRow:
    code: str
    title: str
    own: str | None
    icbs: list[PeerMedian]
    national: PeerMedian


def peer_context(
    *,
    assessment_or_approval: Assessment | Approval,
    own: list[tuple[str, str, dict | None]] | None = None,
    labels: dict[int, str] | None = None,
) -> list[PeerRow]:
    """For each requirement, the trust's own rating against the median of its peers in each of its ICBs and in England.

    Medians are of the latest approved revisions of *other* trusts in the same cycle: the trust's
    own rating is left out of both the median and the count, and a median is only shown when at
    least ``MIN_PEER_GROUP`` other trusts make it up. With the own rating in, a group of the trust
    and two others would give both others away (the trust knows its own rating).

    The size of the group is not given, not even rounded: each median's ``count`` is 0 and the
    panel says only "at least 3". An exact size, seen before and after one more trust's approval,
    would tell the reader that the median moved because of that trust and so bound its rating;
    a rounded size still changes at its boundaries and would do the same there. No other trust is
    named.

    ``own`` (code, title and rating of each requirement, in order) and ``labels`` (the rating
    scale) may be passed by a caller that has them already; otherwise they are read here (two
    queries for a live assessment). Then three: the approvals' version, the other trusts' ratings
    from the cache (``cycle_ratings``; one more to read them when it does not have them) and the
    trust's ICBs.
    """
    if isinstance(assessment_or_approval, Approval):
        approval = assessment_or_approval
        assessment = approval.assessment
        if own is None:
            own = [(r["code"], r["title"], r["rating"]) for r in approval.snapshot["responses"]]
        if labels is None:
            labels = {level["value"]: level["label"] for level in approval.snapshot["rating_levels"]}
    else:
        assessment = assessment_or_approval
        if own is None:
            own = own_ratings(assessment.responses.select_related("requirement", "rating"))
        if labels is None:
            labels = dict(assessment.framework.rating_levels.values_list("value", "label"))
    cycle = assessment.cycle
    others = [(trust_id, ratings) for trust_id, ratings in cycle_ratings(cycle) if trust_id != assessment.trust_id]
    groups = _peer_groups(assessment.trust_id, cycle.snapshot_date)
    rows = []
    for code, title, rating in own:
        national_values = [ratings[code] for _, ratings in others if code in ratings]
        icb_medians = []
        for name, members in groups:
            values = [ratings[code] for trust_id, ratings in others if trust_id in members and code in ratings]
            icb_medians.append(PeerMedian(name, _peer_median(values, labels)))
        rows.append(
            PeerRow(
                code=code,
                title=title,
                own=rating_text(rating["value"], {rating["value"]: rating["label"]}) if rating else None,
                icbs=icb_medians,
                national=PeerMedian("England", _peer_median(national_values, labels)),
            )
        )
    return rows


def own_ratings(responses) -> list[tuple[str, str, dict | None]]:
    """A live assessment's responses (with requirement and rating) as the peer context reads them."""
    return [
        (
            r.requirement.code,
            r.requirement.title,
            {"value": r.rating.value, "label": r.rating.label} if r.rating else None,
        )
        for r in responses
    ]


# Bumped when what a cached value holds changes shape, so that no server reads another's old form.
CACHE_FORMAT = 1
# The keys name the data each value was made from; the timeout only keeps the table small.
CACHE_TIMEOUT = 60 * 60


def approvals_version() -> str:
    """Changes whenever an approval is added or removed anywhere (an approval is never changed). One query."""
    totals = Approval.objects.aggregate(count=Count("pk"), last=Max("pk"))
    return f"{totals['count']}-{totals['last'] or 0}"


def cycle_ratings(cycle: Cycle, version: str | None = None) -> list[tuple[int, dict[str, int]]]:
    """Each trust's ratings in the latest approved revision of its ``cycle`` assessment, as (trust id, ratings).

    From the cache, keyed by ``approvals_version`` (one query for it, unless given, and one for
    the cache); on a miss, read from the snapshots and stored (one query more, and the store).
    """
    key = f"comparison:cycle-ratings:{CACHE_FORMAT}:{cycle.pk}:{version or approvals_version()}"
    ratings = cache.get(key)
    if ratings is None:
        ratings = [(a.trust_id, a.ratings) for a in _national_approvals(cycle)]
        cache.set(key, ratings, CACHE_TIMEOUT)
    return ratings


def _peer_median(values: list[int], labels: dict[int, str]) -> Median | None:
    """Other trusts' median, or None with fewer than ``MIN_PEER_GROUP`` of them; the count is not carried."""
    if len(values) < MIN_PEER_GROUP:
        return None
    median = median_of(values, labels)
    return Median(median.value, 0, median.text)


def _peer_groups(trust_id: int, day: datetime.date) -> list[tuple[str, set[int]]]:
    """The trust's ICBs on ``day``, each with the trusts in it then. One query."""
    own_icbs = TrustICBMembership.objects.effective_on(day).filter(trust_id=trust_id).values("icb_id")
    groups: dict[int, tuple[str, set[int]]] = {}
    for icb_id, name, member in (
        TrustICBMembership.objects.effective_on(day)
        .filter(icb_id__in=Subquery(own_icbs))
        .values_list("icb_id", "icb__name", "trust_id")
        .order_by("icb__name")
    ):
        groups.setdefault(icb_id, (name, set()))[1].add(member)
    return list(groups.values())


def peer_context_for(
    user,
    *,
    assessment: Assessment | None = None,
    approval: Approval | None = None,
    is_member: bool | None = None,
    own: list[tuple[str, str, dict | None]] | None = None,
    labels: dict[int, str] | None = None,
) -> dict:
    """Template context for the peer context panel: only for members of the trust, else empty.

    ``is_member`` (whether ``user`` belongs to the trust), ``own`` and ``labels`` (see
    ``peer_context``) save their queries when the caller knows them already.
    """
    subject = approval or assessment
    if subject is None or not user.is_authenticated:
        return {"show_peer_context": False}
    trust_id = (approval.assessment if approval else assessment).trust_id
    if is_member is None:
        is_member = user.trust_memberships.filter(trust_id=trust_id).exists()
    if not is_member:
        return {"show_peer_context": False}
    rows = peer_context(assessment_or_approval=subject, own=own, labels=labels)
    cycle = (approval.assessment if approval else assessment).cycle
    return {
        "show_peer_context": True,
        "peer_rows": rows,
        "peer_icbs": [m.group for m in rows[0].icbs] if rows else [],
        "peer_cycle": cycle,
        "peer_minimum": MIN_PEER_GROUP,
        "peer_any_shown": any(m.median for row in rows for m in [*row.icbs, row.national]),
    }


# ---- charts: geometry for the inline SVGs ----------------------------------------------------
# The templates draw these with presentation attributes and classes from the static stylesheet
# (the Content-Security-Policy allows no style attributes). Each chart has a text alternative
# and a table of the same data beside it.


def svg_number(value: float) -> str:
    """A coordinate as SVG wants it: '12.5', never localised, and cheap for the template to print."""
    return format(round(value, 1), "g")


@dataclass(frozen=True)
class Bar:
    x: float | str
    y: float | str
    width: float | str
    height: float | str
    css: str
    label: str  # the count, written beside the bar
    label_x: float | str
    label_y: float | str
    title: str
    shown: bool = True

    def __post_init__(self):
        object.__setattr__(self, "shown", float(self.width) > 0)
        for name in ("x", "y", "width", "height", "label_x", "label_y"):
            object.__setattr__(self, name, svg_number(getattr(self, name)))


@dataclass(frozen=True)
class Text:
    x: float | str
    y: float | str
    text: str
    anchor: str = "start"
    css: str = ""

    def __post_init__(self):
        object.__setattr__(self, "x", svg_number(self.x))
        object.__setattr__(self, "y", svg_number(self.y))


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    title: str
    description: str
    texts: list[Text]
    bars: list[Bar] = field(default_factory=list)
    lines: list[tuple[float, float, float, float, str]] = field(default_factory=list)  # x1, y1, x2, y2, css
    polyline: str = ""
    circles: list[Bar] = field(default_factory=list)  # x, y: centre; width: radius


def _line(x1, y1, x2, y2, css) -> tuple[str, str, str, str, str]:
    return (svg_number(x1), svg_number(y1), svg_number(x2), svg_number(y2), css)


def distribution_chart(comparison: Comparison) -> Chart | None:
    """A grid of bars: requirements down, rating levels across, each bar the number of trusts.

    The level is told by the column (headed with its number and label) and the count is written
    beside each bar, so the colour only repeats what the text says.
    """
    if not comparison.distributions:
        return None
    code_width, column, head, row_height = 44, 96, 44, 30
    bar_max = column - 34
    trusts = max(len(comparison.rows), 1)
    columns = [(level.text.split(" – ", 1), f"app-fill--{level.step}") for level in comparison.levels]
    show_not_approved = any(d.not_approved for d in comparison.distributions)
    if show_not_approved:
        columns.append((["–", "Not approved"], "app-fill--none"))
    width = code_width + column * len(columns)
    texts = []
    for index, ((number, label), _) in enumerate(columns):
        x = code_width + column * index
        texts.append(Text(x, 16, number, css="app-chart__strong"))
        texts.append(Text(x, 33, label, css="app-chart__small"))
    bars, lines, parts = [], [], []
    for row_index, distribution in enumerate(comparison.distributions):
        y = head + row_height * row_index
        code = distribution.requirement.code
        texts.append(Text(0, y + 20, code, css="app-chart__strong"))
        counts = [count for _, count in distribution.counts]
        if show_not_approved:
            counts.append(distribution.not_approved)
        for index, count in enumerate(counts):
            x = code_width + column * index
            length = round(bar_max * count / trusts, 1)
            level_text = comparison.levels[index].text if index < len(comparison.levels) else "Not approved"
            bars.append(
                Bar(
                    x=x,
                    y=y + 7,
                    width=length,
                    height=16,
                    css=columns[index][1],
                    label=str(count),
                    label_x=round(x + length + (4 if length else 0), 1),
                    label_y=y + 20,
                    title=f"{code}: {count} of {len(comparison.rows)} trusts at {level_text}",
                )
            )
        lines.append(_line(0, y + row_height, width, y + row_height, "app-chart__rule"))
        spread = ", ".join(f"{count} at {level.text}" for level, count in distribution.counts if count)
        parts.append(f"{code}: {spread or 'none approved'}; median {distribution.median.text}")
    height = head + row_height * len(comparison.distributions) + 2
    description = (
        f"Of {len(comparison.rows)} trusts, {len(comparison.approved_rows)} have an approved assessment. "
        + ". ".join(parts)
        + "."
    )
    return Chart(
        width=width,
        height=height,
        title=f"How many trusts sit at each rating level, by requirement, {comparison.cycle}",
        description=description,
        texts=texts,
        bars=bars,
        lines=lines,
    )


def trend_charts(comparison: Comparison) -> list[tuple[Trend, Chart]]:
    """One small chart per requirement: trusts at each level in each cycle, the median joined up."""
    if not comparison.trends or not comparison.levels:
        return []
    levels = comparison.levels
    left, right, top, bottom, width, height = 118, 16, 18, 58, 440, 220
    plot_bottom = height - bottom
    biggest = max((p.in_icb for t in comparison.trends for p in t.points), default=1) or 1

    def y_for(value: float) -> float:
        if len(levels) == 1:
            return (top + plot_bottom) / 2
        low, high = levels[0].value, levels[-1].value
        return round(plot_bottom - (value - low) * (plot_bottom - top) / (high - low), 1)

    charts = []
    for trend in comparison.trends:
        points = trend.points
        slot = (width - left - right) / max(len(points), 1)
        texts = [Text(left - 8, y_for(level.value) + 4, level.text, anchor="end") for level in levels]
        lines = [
            _line(left, y_for(level.value), width - right, y_for(level.value), "app-chart__grid") for level in levels
        ]
        circles, median_points, parts = [], [], []
        for index, point in enumerate(points):
            x = round(left + slot * (index + 0.5), 1)
            texts.append(Text(x, plot_bottom + 34, point.cycle_label, anchor="middle"))
            texts.append(Text(x, plot_bottom + 50, f"{point.approved} of {point.in_icb}", anchor="middle"))
            if point.version_changed:
                boundary = round(left + slot * index, 1)
                lines.append(_line(boundary, top - 14, boundary, plot_bottom + 18, "app-chart__version"))
                texts.append(Text(boundary + 4, top - 6, "new framework version", css="app-chart__small"))
            for level in levels:
                count = point.counts.get(level.value, 0)
                if not count:
                    continue
                # Big enough to hold its count: the number is written inside, in a colour that reads on the fill.
                radius = round(9 + 6 * (count / biggest) ** 0.5, 1)
                circles.append(
                    Bar(
                        x=x,
                        y=y_for(level.value),
                        width=radius,
                        height=radius,
                        css=f"app-fill--{level.step} app-on--{level.step}",
                        label=str(count),
                        label_x=x,
                        label_y=y_for(level.value) + 4.5,
                        title=f"{point.cycle_label}: {count} trust{'s' if count != 1 else ''} at {level.text}",
                    )
                )
            if point.median.value is not None:
                median_points.append(f"{svg_number(x)},{svg_number(y_for(point.median.value))}")
            spread = ", ".join(f"{point.counts[v.value]} at {v.text}" for v in levels if point.counts.get(v.value))
            change = " (new framework version)" if point.version_changed else ""
            parts.append(
                f"{point.cycle_label}{change}: {spread or 'no approved assessments'}"
                + (f"; median {point.median.text}" if point.median.value is not None else "")
            )
        charts.append(
            (
                trend,
                Chart(
                    width=width,
                    height=height,
                    title=f"{trend.requirement.text}: trusts at each level by cycle",
                    description=". ".join(parts) + ".",
                    texts=texts,
                    lines=lines,
                    polyline=" ".join(median_points),
                    circles=circles,
                ),
            )
        )
    return charts
