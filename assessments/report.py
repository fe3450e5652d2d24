"""The board report: one plain dataclass, rendered as an HTML preview and as an A4 PDF.

``build_report`` turns a frozen snapshot (``services.build_snapshot``) into a ``BoardReport``
without touching the database, so an approved report is the same every time it is built.
``report_for_approval`` and ``report_for_draft`` gather what it needs: the snapshot, the
previous approved cycle's snapshot and the indicator definitions. ``render_pdf`` lays the
report out with WeasyPrint through ``templates/reports/board_report_pdf.html``; the preview
page (``templates/reports/board_report_preview.html``) includes the same section partials.

The renderer fetches nothing but the project's own static files (``StaticFilesFetcher``):
no ``file://``, no network, whatever the text of the assessment says.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from assessments.models import Approval
from assessments.services import build_snapshot, content_hash
from assessments.suppression import reveals_small_count
from requirements.models import IndicatorDefinition as IndicatorDefinitionModel

# ---- what the report says -------------------------------------------------------------------

# DOMAIN §10. Kept here rather than in the framework: these are the terms the report itself uses.
GLOSSARY = (
    (
        "AMHP",
        "Approved Mental Health Professional: a role under the Mental Health Act 1983, mostly held by social workers.",
    ),
    ("ASYE", "Assessed and Supported Year in Employment, for newly qualified social workers."),
    ("BAF", "Board Assurance Framework."),
    ("BIA", "Best Interests Assessor, under the Mental Capacity Act 2005."),
    ("ICB", "Integrated care board: the statutory NHS body of an integrated care system."),
    ("ICS", "Integrated care system."),
    ("ODS code", "The NHS organisation code."),
    ("PSW", "Principal social worker."),
    ("Section 75", "A partnership agreement between an NHS body and a local authority under the NHS Act 2006."),
    ("WTE", "Whole-time equivalent."),
    ("WRES", "Workforce Race Equality Standard."),
)

# NHS identity colours for the rating scale, lowest to highest. A scale with another number of
# levels takes evenly spaced colours from this list; the label and number always go with them.
RATING_COLOURS = ("#d5281b", "#ffb81c", "#78be20", "#007f3b")
NOT_RATED_COLOUR = "#aeb7bd"
# Names for the same colours in CSS class names (the preview's Content-Security-Policy forbids inline styles).
TONES = {"#d5281b": "red", "#ffb81c": "yellow", "#78be20": "light-green", "#007f3b": "green", NOT_RATED_COLOUR: "grey"}

# Special category figures (ethnicity) with counts from 1 to 7 are suppressed outside the trust
# (DOMAIN §6). A board paper is published and read by the ICS, so the report always suppresses.

ACTION_SUMMARY_WORDS = (
    ("complete", "complete"),
    ("in_progress", "in progress"),
    ("not_started", "not started"),
    ("overdue", "overdue"),
)

ASKS = {
    "approval": "approve the self-assessment and the improvement plan",
    "assurance": "note the self-assessment and the improvement plan, and confirm the proposed level of assurance",
    "discussion": "discuss the self-assessment and the improvement plan",
    "information": "note the self-assessment and the improvement plan for information",
}


@dataclass(frozen=True)
class Rating:
    value: int
    label: str

    def __str__(self) -> str:
        # Label and number together, everywhere: never colour alone (DOMAIN §4).
        return f"{self.value} – {self.label}"


@dataclass(frozen=True)
class LevelCount:
    """How many requirements sit at one rating level (or are not rated yet, when ``value`` is None)."""

    value: int | None
    label: str
    meaning: str
    count: int
    colour: str

    @property
    def text(self) -> str:
        return f"{self.value} – {self.label}" if self.value is not None else self.label

    @property
    def tone(self) -> str:
        return TONES[self.colour]


@dataclass(frozen=True)
class ChartBar:
    text: str
    count: int
    colour: str
    y: int
    width: int
    text_y: int
    count_x: int
    count_text: str


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of requirements by rating level, laid out for inline SVG."""

    title: str
    description: str
    bars: tuple[ChartBar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int

    @property
    def label_x(self) -> int:
        return self.label_width - 12


@dataclass(frozen=True)
class Movement:
    previous_cycle: str | None
    improved: int = 0
    same: int = 0
    declined: int = 0
    new: int = 0
    framework_changed: bool = False

    @property
    def has_previous(self) -> bool:
        return self.previous_cycle is not None


@dataclass(frozen=True)
class Evidence:
    title: str
    version: int | None
    date: datetime.date
    owner: str
    is_link: bool


@dataclass(frozen=True)
class Action:
    title: str
    requirements: tuple[str, ...]
    owner: str
    due_date: datetime.date
    status: str  # complete, overdue, in_progress, not_started
    status_label: str
    progress_notes: str


@dataclass(frozen=True)
class RequirementSection:
    code: str
    title: str
    rating: Rating | None
    previous_rating: Rating | None
    direction: str  # improved, same, declined, new, not_rated
    direction_label: str
    colour: str
    rationale: str
    strengths: str
    gaps_and_risks: str
    evidence: tuple[Evidence, ...]
    actions: tuple[Action, ...]

    @property
    def anchor(self) -> str:
        return f"requirement-{self.code}"

    @property
    def tone(self) -> str:
        return TONES[self.colour]


@dataclass(frozen=True)
class Figure:
    code: str
    label: str
    text: str
    suppressed: bool


@dataclass(frozen=True)
class IndicatorDefinition:
    code: str
    label: str
    definition: str
    how_counted: str
    data_source: str


@dataclass(frozen=True)
class CoverSheet:
    meeting: str
    meeting_date: datetime.date | None
    agenda_item: str
    title: str
    author: str
    lead_executive: str
    purpose: str
    assurance_level: str
    strategic_objectives: str
    baf_risks: str
    recommendation: str
    key_messages: str
    ask_of_the_board: str


@dataclass(frozen=True)
class SignOff:
    name: str
    role: str
    approved_at: datetime.datetime
    statement: str
    content_hash: str


@dataclass(frozen=True)
class BoardReport:
    """Everything the board paper shows, as plain data built from one snapshot."""

    draft: bool
    trust_name: str
    ods_code: str
    cycle: str
    snapshot_date: datetime.date
    framework_title: str
    framework_version: str
    revision: int
    generated_at: datetime.datetime  # the approval time, or when a draft was built
    submitted_by: str | None
    submitted_at: datetime.datetime | None
    cover: CoverSheet
    levels: tuple[LevelCount, ...]  # highest level first, then "Not rated" if any
    rated: int
    total: int
    upper_levels: str  # such as "3 – Largely met or higher"
    upper_count: int
    lower_count: int
    movement: Movement
    chart: Chart
    requirements: tuple[RequirementSection, ...]
    risks: tuple[RequirementSection, ...]
    figures: tuple[Figure, ...]
    actions: tuple[Action, ...]
    overdue_actions: int
    rating_levels: tuple[LevelCount, ...]  # the scale, lowest first, for the appendix
    indicator_definitions: tuple[IndicatorDefinition, ...]
    sign_off: SignOff | None
    glossary: tuple[tuple[str, str], ...]

    @property
    def as_of(self) -> datetime.date:
        """The date the report speaks from: overdue actions are judged against it."""
        return timezone.localtime(self.generated_at).date()

    @property
    def document_title(self) -> str:
        title = f"{self.cover.title} – {self.trust_name}"
        return f"DRAFT – {title}" if self.draft else title

    @property
    def w3c_timestamp(self) -> str:
        return timezone.localtime(self.generated_at).isoformat(timespec="seconds")

    @property
    def not_rated(self) -> int:
        return self.total - self.rated

    @property
    def action_summary(self) -> str:
        """Such as "4 actions: 1 complete, 2 in progress, 1 overdue"."""
        if not self.actions:
            return "No actions"
        counts = Counter(action.status for action in self.actions)
        parts = [f"{counts[status]} {words}" for status, words in ACTION_SUMMARY_WORDS if counts[status]]
        noun = "action" if len(self.actions) == 1 else "actions"
        return f"{len(self.actions)} {noun}: " + ", ".join(parts)

    @property
    def any_suppressed(self) -> bool:
        return any(figure.suppressed for figure in self.figures)


# ---- building the report --------------------------------------------------------------------


def build_report(
    *,
    snapshot: dict,
    previous_snapshot: dict | None,
    draft: bool,
    indicator_definitions: Mapping[str, Mapping] | None = None,
) -> BoardReport:
    """The board report of one snapshot, compared with the previous approved cycle's.

    Pure: reads only its arguments. ``indicator_definitions`` maps indicator codes to the
    definition fields of ``requirements.IndicatorDefinition`` (definition, numerator_label,
    denominator_label, data_source); the snapshot itself records only code, label and unit.
    A draft's snapshot carries ``generated_at`` (see ``report_for_draft``); an approved one
    is dated by its sign-off.
    """
    sign_off = snapshot.get("sign_off") or None
    generated_at = _generated_at(snapshot, sign_off)
    as_of = timezone.localtime(generated_at).date()

    scale = sorted(snapshot["rating_levels"], key=lambda level: level["value"])
    colours = _level_colours([level["value"] for level in scale])
    previous_ratings = _ratings_by_code(previous_snapshot)
    actions = tuple(_action(action, as_of) for action in snapshot["actions"])

    requirements = tuple(
        _requirement(response, previous_ratings, colours, actions, has_previous=previous_snapshot is not None)
        for response in snapshot["responses"]
    )
    counts: dict[int | None, int] = {}
    for requirement in requirements:
        key = requirement.rating.value if requirement.rating else None
        counts[key] = counts.get(key, 0) + 1
    levels = tuple(
        LevelCount(
            level["value"], level["label"], level["meaning"], counts.get(level["value"], 0), colours[level["value"]]
        )
        for level in reversed(scale)
    )
    if counts.get(None):
        levels += (LevelCount(None, "Not rated yet", "", counts[None], NOT_RATED_COLOUR),)

    # "Upper half" of the scale: on the four-level scale, 3 and 4. A risk is a requirement below it.
    threshold = scale[len(scale) // 2]["value"] if scale else 0
    upper = [r for r in requirements if r.rating and r.rating.value >= threshold]
    lower = [r for r in requirements if r.rating and r.rating.value < threshold]
    threshold_level = next((level for level in scale if level["value"] == threshold), None)
    upper_levels = f"{threshold}\u00a0– {threshold_level['label']} or higher" if threshold_level else ""

    cover = _cover(snapshot, sign_off)
    trust = snapshot["trust"]
    cycle = snapshot["cycle"]["label"]
    return BoardReport(
        draft=draft,
        trust_name=trust["name"],
        ods_code=trust["ods_code"],
        cycle=cycle,
        snapshot_date=datetime.date.fromisoformat(snapshot["cycle"]["snapshot_date"]),
        framework_title=snapshot["framework"]["title"],
        framework_version=snapshot["framework"]["version"],
        revision=snapshot["revision"],
        generated_at=generated_at,
        submitted_by=(snapshot.get("submitted") or {}).get("by"),
        submitted_at=_datetime((snapshot.get("submitted") or {}).get("at")),
        cover=cover,
        levels=levels,
        rated=sum(1 for r in requirements if r.rating),
        total=len(requirements),
        upper_levels=upper_levels,
        upper_count=len(upper),
        lower_count=len(lower),
        movement=_movement(requirements, snapshot, previous_snapshot),
        chart=_chart(levels, total=len(requirements), trust=trust["name"], cycle=cycle),
        requirements=requirements,
        risks=tuple(lower),
        figures=tuple(_figure(indicator) for indicator in snapshot["indicators"] if indicator["numerator"] is not None),
        actions=actions,
        overdue_actions=sum(1 for action in actions if action.status == "overdue"),
        rating_levels=tuple(
            LevelCount(level["value"], level["label"], " ".join(level["meaning"].split()), 0, colours[level["value"]])
            for level in scale
        ),
        indicator_definitions=tuple(
            _indicator_definition(indicator, (indicator_definitions or {}).get(indicator["code"]))
            for indicator in snapshot["indicators"]
        ),
        sign_off=SignOff(
            name=sign_off["name"],
            role=sign_off["role"],
            approved_at=generated_at,
            statement=sign_off["statement"],
            content_hash=content_hash(snapshot),
        )
        if sign_off
        else None,
        glossary=GLOSSARY,
    )


def _generated_at(snapshot: dict, sign_off: dict | None) -> datetime.datetime:
    stamp = (sign_off or {}).get("approved_at") or snapshot.get("generated_at")
    if not stamp:
        raise ValueError("The snapshot has neither a sign-off date nor a generated_at time to date the report by.")
    return datetime.datetime.fromisoformat(stamp)


def _datetime(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _level_colours(values: list[int]) -> dict[int, str]:
    if len(values) <= 1:
        return {value: RATING_COLOURS[-1] for value in values}
    last = len(RATING_COLOURS) - 1
    return {value: RATING_COLOURS[round(rank * last / (len(values) - 1))] for rank, value in enumerate(sorted(values))}


def _ratings_by_code(snapshot: dict | None) -> dict[str, Rating]:
    if snapshot is None:
        return {}
    return {
        response["code"]: Rating(response["rating"]["value"], response["rating"]["label"])
        for response in snapshot["responses"]
        if response["rating"]
    }


DIRECTIONS = {
    "improved": "Improved",
    "same": "No change",
    "declined": "Declined",
    "new": "New",
    "not_rated": "Not rated yet",
    "no_previous": "No previous rating",
}


def _direction(rating: Rating | None, previous: Rating | None, *, has_previous: bool) -> str:
    if rating is None:
        return "not_rated"
    if previous is None:
        # Rated now, not rated (or not a requirement) last time; or no earlier approved cycle at all.
        return "new" if has_previous else "no_previous"
    if rating.value > previous.value:
        return "improved"
    if rating.value < previous.value:
        return "declined"
    return "same"


def _requirement(
    response: dict, previous_ratings: dict, colours: dict, actions: tuple[Action, ...], *, has_previous: bool
) -> RequirementSection:
    rating = Rating(response["rating"]["value"], response["rating"]["label"]) if response["rating"] else None
    previous = previous_ratings.get(response["code"])
    direction = _direction(rating, previous, has_previous=has_previous)
    return RequirementSection(
        code=response["code"],
        title=response["title"],
        rating=rating,
        previous_rating=previous,
        direction=direction,
        direction_label=DIRECTIONS[direction],
        colour=colours.get(rating.value, NOT_RATED_COLOUR) if rating else NOT_RATED_COLOUR,
        rationale=response["rationale"],
        strengths=response["strengths"],
        gaps_and_risks=response["gaps_and_risks"],
        evidence=tuple(
            Evidence(
                title=item["title"],
                version=item["version"],
                date=datetime.date.fromisoformat(item["date"]),
                owner=item["owner"],
                is_link=item["kind"] == "link",
            )
            for item in response["evidence"]
        ),
        actions=tuple(action for action in actions if response["code"] in action.requirements),
    )


def _movement(requirements, snapshot: dict, previous_snapshot: dict | None) -> Movement:
    if previous_snapshot is None:
        return Movement(previous_cycle=None)
    tally = {direction: 0 for direction in ("improved", "same", "declined", "new")}
    for requirement in requirements:
        if requirement.direction in tally:
            tally[requirement.direction] += 1
    framework, previous_framework = snapshot["framework"], previous_snapshot["framework"]
    return Movement(
        previous_cycle=previous_snapshot["cycle"]["label"],
        framework_changed=(framework["slug"], framework["version"])
        != (previous_framework["slug"], previous_framework["version"]),
        **tally,
    )


ACTION_STATUSES = {"complete": "Complete", "in_progress": "In progress", "not_started": "Not started"}


def _action(action: dict, as_of: datetime.date) -> Action:
    due = datetime.date.fromisoformat(action["due_date"])
    status = action["status"]
    # Overdue is derived from the due date at the report's date, never stored.
    if status != "complete" and due < as_of:
        status, label = "overdue", "Overdue"
    elif status == "not_started":
        label = "Not started (not yet due)"
    else:
        label = ACTION_STATUSES.get(status, status)
    return Action(
        title=action["title"],
        requirements=tuple(action["requirements"]),
        owner=action["owner"],
        due_date=due,
        status=status,
        status_label=label,
        progress_notes=action.get("progress_notes", ""),
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _figure(indicator: dict) -> Figure:
    """A workforce figure for the published report: special category data revealing 1 to 7 people is not shown.

    Suppressed when the numerator, the denominator or the rest of the denominator is from 1 to 7:
    45 of 50 from ethnic minorities says that 5 are not, so it is withheld like 5 of 50.
    """
    numerator = Decimal(indicator["numerator"])
    denominator = Decimal(indicator["denominator"]) if indicator["denominator"] is not None else None
    if indicator["special_category"] and reveals_small_count(numerator, denominator):
        return Figure(indicator["code"], indicator["label"], "Not shown (fewer than 8 people)", suppressed=True)
    if denominator:
        rate = (numerator * 100 / denominator).quantize(Decimal("0.1"))
        text = f"{rate}% ({_plain(numerator)} of {_plain(denominator)})"
    elif indicator["unit"] == "wte":
        text = f"{_plain(numerator)} WTE"
    else:
        text = _plain(numerator)
    return Figure(indicator["code"], indicator["label"], text, suppressed=False)


def _indicator_definition(indicator: dict, definition: Mapping | None) -> IndicatorDefinition:
    definition = definition or {}
    numerator = definition.get("numerator_label") or indicator["label"]
    denominator = definition.get("denominator_label") or ""
    how = f"{numerator}, as a percentage of: {denominator}." if denominator else f"{numerator}."
    return IndicatorDefinition(
        code=indicator["code"],
        label=indicator["label"],
        definition=" ".join((definition.get("definition") or "").split()),
        how_counted=how,
        data_source=definition.get("data_source") or "",
    )


def _cover(snapshot: dict, sign_off: dict | None) -> CoverSheet:
    cover = snapshot.get("cover_sheet") or {}
    meeting = cover.get("meeting") or "Trust Board"
    purpose = cover.get("purpose") or "Assurance"
    ask = f"The {meeting} is asked to {ASKS.get(purpose.lower(), ASKS['assurance'])}."
    lead_executive = cover.get("lead_executive") or (f"{sign_off['name']}, {sign_off['role']}" if sign_off else "")
    submitted_by = (snapshot.get("submitted") or {}).get("by") or ""
    return CoverSheet(
        meeting=meeting,
        meeting_date=datetime.date.fromisoformat(cover["meeting_date"]) if cover.get("meeting_date") else None,
        agenda_item=cover.get("agenda_item") or "",
        title=cover.get("title")
        or f"Organisational requirements for social work: self-assessment {snapshot['cycle']['label']}",
        author=cover.get("author") or submitted_by,
        lead_executive=lead_executive,
        purpose=purpose,
        assurance_level=cover.get("assurance_level") or "Reasonable assurance",
        strategic_objectives=cover.get("strategic_objectives") or "",
        baf_risks=cover.get("baf_risks") or "",
        recommendation=cover.get("recommendation") or ask,
        key_messages=cover.get("key_messages") or "",
        ask_of_the_board=cover.get("ask_of_the_board") or ask,
    )


def _chart(levels: tuple[LevelCount, ...], *, total: int, trust: str, cycle: str) -> Chart:
    label_width, bar_height, gap, bar_area = 190, 30, 14, 300
    bars = []
    for index, level in enumerate(levels):
        width = round(bar_area * level.count / total) if total else 0
        noun = "requirement" if level.count == 1 else "requirements"
        y = index * (bar_height + gap)
        bars.append(
            ChartBar(
                text=level.text,
                count=level.count,
                colour=level.colour,
                y=y,
                width=width,
                text_y=y + bar_height // 2 + 5,
                count_x=label_width + width + 10,
                count_text=f"{level.count} {noun}",
            )
        )
    parts = [f"{bar.text}: {bar.count_text}" for bar in bars]
    return Chart(
        title=f"Requirements at each rating level, {trust}, {cycle}",
        description=f"Of {total} requirements: " + "; ".join(parts) + ".",
        bars=tuple(bars),
        width=label_width + bar_area + 130,
        height=len(bars) * (bar_height + gap) - gap,
        label_width=label_width,
        bar_height=bar_height,
    )


# ---- gathering what the report needs --------------------------------------------------------


def _previous_snapshot(trust_id: int, cycle_label: str, *, approved_before=None) -> dict | None:
    """The latest revision of the trust's most recent earlier approved cycle (cycle labels sort by year)."""
    approvals = Approval.objects.filter(assessment__trust_id=trust_id, assessment__cycle__label__lt=cycle_label)
    if approved_before is not None:
        # What was known when this revision was approved, so re-rendering it never changes it.
        approvals = approvals.filter(approved_at__lte=approved_before)
    previous = approvals.order_by("-assessment__cycle__label", "-revision").only("snapshot").first()
    return previous.snapshot if previous else None


def _indicator_definitions(framework: dict) -> dict[str, dict]:
    rows = IndicatorDefinitionModel.objects.filter(
        framework__slug=framework["slug"], framework__version=framework["version"]
    ).values("code", "definition", "numerator_label", "denominator_label", "data_source")
    return {row["code"]: row for row in rows}


def report_for_approval(approval) -> BoardReport:
    """The approved board report of one revision, from its frozen snapshot."""
    snapshot = approval.snapshot
    return build_report(
        snapshot=snapshot,
        previous_snapshot=_previous_snapshot(
            approval.assessment.trust_id, snapshot["cycle"]["label"], approved_before=approval.approved_at
        ),
        draft=False,
        indicator_definitions=_indicator_definitions(snapshot["framework"]),
    )


def report_for_draft(assessment) -> BoardReport:
    """A DRAFT board report of the live assessment, as it stands now."""
    snapshot = build_snapshot(assessment, sign_off=None)
    snapshot["generated_at"] = timezone.now().isoformat()
    return build_report(
        snapshot=snapshot,
        previous_snapshot=_previous_snapshot(assessment.trust_id, assessment.cycle.label),
        draft=True,
        indicator_definitions=_indicator_definitions(snapshot["framework"]),
    )


# ---- rendering ------------------------------------------------------------------------------

# A base URL that can never be fetched: every link in the PDF template is a path on it, and
# the fetcher serves only /static/ paths of it from the staticfiles finders.
REPORT_BASE_URL = "https://report.invalid/"
STATIC_PREFIX = "/static/"
SERVED_TYPES = {".css": "text/css", ".woff2": "font/woff2"}


class RefusedURL(ValueError):
    """The report renderer asked for something other than the project's own static files."""


class ReportRenderError(RuntimeError):
    """A file the report needs could not be fetched (or was refused), so no PDF was made."""


def _static_roots() -> list[Path]:
    roots = []
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location).resolve())
    return roots


def static_file_for(url: str) -> Path:
    """The static file a report URL names, or ``RefusedURL`` for anything else."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise RefusedURL(f"Malformed URL: {url!r}") from error
    base = urlsplit(REPORT_BASE_URL)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or parts.query or parts.username:
        raise RefusedURL(f"Only the report's own static files may be fetched, not {url!r}")
    path = unquote(parts.path)
    if not path.startswith(STATIC_PREFIX):
        raise RefusedURL(f"Not a static file: {url!r}")
    relative = path.removeprefix(STATIC_PREFIX)
    segments = relative.split("/")
    if "\\" in relative or "\x00" in relative or any(segment in {"", ".", ".."} for segment in segments):
        raise RefusedURL(f"Not a plain static path: {url!r}")
    if Path(relative).suffix.lower() not in SERVED_TYPES:
        raise RefusedURL(f"Not a type the report uses: {url!r}")
    found = finders.find(relative)
    if not found:
        raise RefusedURL(f"No such static file: {url!r}")
    real = Path(found).resolve()
    if not any(real.is_relative_to(root) for root in _static_roots()):
        raise RefusedURL(f"Outside the static files: {url!r}")
    return real


def safe_url_fetcher(url: str, headers=None) -> URLFetcherResponse:
    """Serve a /static/ file of the report's base URL; refuse everything else (file:, http:, data:...)."""
    path = static_file_for(url)
    return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": SERVED_TYPES[path.suffix.lower()]})


class StaticFilesFetcher(URLFetcher):
    """WeasyPrint's fetcher interface around ``safe_url_fetcher``, remembering what it was asked.

    ``fail_on_errors``: a refused or missing file stops the render, so a report never goes out
    silently unstyled or in a system font.
    """

    def __init__(self):
        super().__init__(allowed_protocols=("https",), fail_on_errors=True)
        self.requested: list[str] = []

    def fetch(self, url, headers=None):
        self.requested.append(url)
        return safe_url_fetcher(url, headers)


def report_html(report: BoardReport) -> str:
    """The HTML that WeasyPrint lays out."""
    return render_to_string("reports/board_report_pdf.html", {"report": report})


def render_pdf(report: BoardReport, *, url_fetcher: StaticFilesFetcher | None = None) -> bytes:
    """The report as a tagged PDF/UA-1 A4 document; the same report gives the same bytes."""
    return write_pdf(report_html(report), url_fetcher=url_fetcher)


def write_pdf(html: str, *, url_fetcher: StaticFilesFetcher | None = None) -> bytes:
    """Lay out report HTML with WeasyPrint, fetching through ``StaticFilesFetcher`` only."""
    document = HTML(string=html, base_url=REPORT_BASE_URL, url_fetcher=url_fetcher or StaticFilesFetcher())
    try:
        return document.write_pdf(
            pdf_variant="pdf/ua-1",
            # The file identifier comes from the content, not from chance; the dates come from
            # <meta name="dcterms.created/modified">, set to the approval time, never to now.
            pdf_identifier=hashlib.sha256(html.encode()).hexdigest()[:32].encode(),
        )
    except FatalURLFetchingError as error:
        # WeasyPrint's fatal fetch error is a BaseException; views and tasks handle Exceptions.
        raise ReportRenderError(str(error)) from error.__cause__
