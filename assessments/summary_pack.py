"""The system summary pack: one ICB's comparison as an A4 paper for the ICB People Board.

Everything in it comes from ``comparison.summary_pack_context``, which reads approved revisions
only and has already suppressed small special-category counts; this module only arranges it
for print. It is laid out with the board report's machinery (``report.write_pdf``: WeasyPrint,
tagged PDF/UA-1, a fetcher that serves only our static files) through
``templates/reports/summary_pack_pdf.html`` and ``static/reports/summary-pack.css``.

The comparison's charts are drawn by the web page with CSS classes from portal.scss, which the
PDF does not load, so ``paint`` turns each chart into plain SVG presentation attributes. Every
mark still carries its number and every level its label: colour is never the only signal.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from assessments import comparison as selectors
from assessments.comparison import Chart, Comparison, Level, RequirementColumn, TrustRow, WorkforceRow, svg_number
from assessments.exports import NOT_APPROVED_FILL, PALETTE
from assessments.models import Cycle
from assessments.report import GLOSSARY, StaticFilesFetcher, write_pdf
from portal.models import ICB
from requirements.models import Framework, IndicatorDefinition, RatingLevel

TITLE = "System summary for the People Board"
MEETING = "ICB People Board"
# Workforce figures side by side: this many trusts to a table, so a big system still fits A4.
TRUSTS_PER_FIGURES_TABLE = 4

# The board report's glossary, less what a system paper never mentions.
GLOSSARY_OMITTED = {"BAF", "PSW"}

TEXT = "#212b32"
RULE = "#d8dde0"
RED = "#d5281b"


# ---- charts with presentation attributes -----------------------------------------------------


@dataclass(frozen=True)
class SvgText:
    x: str
    y: str
    text: str
    anchor: str
    fill: str
    weight: str
    size: str


@dataclass(frozen=True)
class SvgMark:
    """A bar (``rect``) or a bubble (``circle``, centred on x, y with radius ``r``), and its count."""

    x: str
    y: str
    width: str
    height: str
    r: str
    fill: str
    label: SvgText


@dataclass(frozen=True)
class SvgLine:
    x1: str
    y1: str
    x2: str
    y2: str
    stroke: str
    width: str
    dasharray: str


@dataclass(frozen=True)
class PackChart:
    """A comparison chart as plain SVG: ``title`` is its text alternative (the PDF's /Alt)."""

    width: float
    height: float
    top: float  # the viewBox's top edge: above 0 when the chart was given headroom
    title: str
    texts: tuple[SvgText, ...]
    bars: tuple[SvgMark, ...]
    circles: tuple[SvgMark, ...]
    lines: tuple[SvgLine, ...]
    polyline: str


def _fill(css: str) -> tuple[str, str]:
    """The fill of a mark and the colour of text written on it, from its palette classes."""
    for part in css.split():
        if part == "app-fill--none":
            return f"#{NOT_APPROVED_FILL}", TEXT
        if part.startswith("app-fill--"):
            fill, on = PALETTE[int(part.removeprefix("app-fill--"))]
            return f"#{fill}", f"#{on}"
    return TEXT, TEXT


def _text(text, *, base_size: int, on: str | None = None) -> SvgText:
    classes = set(text.css.split()) if text.css else set()
    return SvgText(
        x=text.x,
        y=text.y,
        text=text.text,
        anchor=text.anchor,
        fill=on or TEXT,
        weight="bold" if "app-chart__strong" in classes else "normal",
        size=str(base_size - 2 if "app-chart__small" in classes else base_size),
    )


LINE_STYLES = {
    "app-chart__rule": (RULE, "1", "none"),
    "app-chart__grid": (RULE, "1", "2 3"),
    "app-chart__version": (RED, "2", "6 4"),
}


def paint(chart: Chart, *, base_size: int = 13, headroom: int = 0) -> PackChart:
    """The chart with its CSS classes (portal.scss) resolved to SVG presentation attributes.

    ``headroom`` adds space above the chart and moves its small notes (on a trend chart, the
    "new framework version" label) up into it, clear of the bubbles on the top level.
    """
    bars = []
    for bar in chart.bars:
        fill, _ = _fill(bar.css)
        label = SvgText(bar.label_x, bar.label_y, bar.label, "start", TEXT, "normal", str(base_size))
        bars.append(SvgMark(bar.x, bar.y, bar.width if bar.shown else "0", bar.height, "", fill, label))
    circles = []
    for circle in chart.circles:
        fill, on = _fill(circle.css)
        label = SvgText(circle.label_x, circle.label_y, circle.label, "middle", on, "bold", str(base_size))
        circles.append(SvgMark(circle.x, circle.y, "", "", circle.width, fill, label))
    lines = []
    for x1, y1, x2, y2, css in chart.lines:
        stroke, width, dash = LINE_STYLES.get(css, (RULE, "1", "none"))
        lines.append(SvgLine(x1, y1, x2, y2, stroke, width, dash))
    # The PDF takes a figure's alternative text from the SVG's <title> alone, so it says everything.
    title = f"{chart.title}. {chart.description}"
    texts = []
    for text in chart.texts:
        painted = _text(text, base_size=base_size)
        if headroom and "app-chart__small" in text.css.split():
            painted = replace(painted, y=svg_number(-headroom / 4))
        texts.append(painted)
    return PackChart(
        width=chart.width,
        height=chart.height + headroom,
        top=-headroom,
        title=title,
        texts=tuple(texts),
        bars=tuple(bars),
        circles=tuple(circles),
        lines=tuple(lines),
        polyline=chart.polyline,
    )


# ---- what the pack shows, beyond the comparison ---------------------------------------------------


@dataclass(frozen=True)
class ScaleLevel:
    level: Level
    meaning: str


@dataclass(frozen=True)
class FiguresTable:
    """Some of the approved trusts' workforce figures side by side (all of them, in a small system)."""

    trusts: tuple[TrustRow, ...]
    rows: tuple[tuple[WorkforceRow, tuple], ...]  # each figure row with this table's figures
    with_total: bool
    part: int
    parts: int
    first: int  # the number (in name order) of the first trust in this table
    last: int


@dataclass(frozen=True)
class FigureDefinition:
    label: str
    definition: str
    how_counted: str
    data_source: str


@dataclass(frozen=True)
class TrendChart:
    requirement: RequirementColumn
    chart: PackChart


@dataclass(frozen=True)
class SummaryPack:
    comparison: Comparison
    icb: ICB
    cycle: Cycle | None
    title: str
    summary: tuple[str, ...]
    notes: tuple[str, ...]
    generated_at: datetime.datetime
    framework_text: str
    scale: tuple[ScaleLevel, ...]
    distribution_chart: PackChart | None
    trend_charts: tuple[TrendChart, ...]
    figures_tables: tuple[FiguresTable, ...]
    figure_definitions: tuple[FigureDefinition, ...]
    glossary: tuple[tuple[str, str], ...]

    @property
    def document_title(self) -> str:
        return f"{TITLE}: {self.icb.name}, {self.cycle}"

    @property
    def meeting(self) -> str:
        return MEETING

    @property
    def heading(self) -> str:
        return TITLE

    @property
    def w3c_timestamp(self) -> str:
        return timezone.localtime(self.generated_at).isoformat(timespec="seconds")

    @property
    def filename(self) -> str:
        cycle = slugify(str(self.cycle).replace("/", "-"))
        return f"{self.icb.ods_code}-{cycle}-system-summary-pack.pdf"

    @property
    def overdue_count(self) -> int:
        return len(self.comparison.overdue_rows)

    @property
    def distribution_rows(self) -> list[tuple]:
        """Each requirement's distribution with its national median (None without national figures)."""
        national = self.comparison.national_medians
        return [(d, national.get(d.requirement.code)) for d in self.comparison.distributions]

    @property
    def trend_table(self) -> list[tuple]:
        """Each requirement's trend, each cycle with the framework versions its approvals used."""
        return [
            (trend, [(point, ", ".join(_version(f) for f in point.frameworks)) for point in trend.points])
            for trend in self.comparison.trends
        ]


def _version(framework: str) -> str:
    """'mh-social-work 2026.1' (as the comparison names a framework version) as '2026.1'."""
    return framework.rpartition(" ")[2]


def _frameworks(comparison: Comparison) -> list[Framework]:
    """The framework versions the cycle's approved assessments used, newest first (or the current one)."""
    keys = {row.approval.framework for row in comparison.approved_rows}
    if not keys and comparison.trends:
        keys = set(next((p.frameworks for p in reversed(comparison.trends[0].points) if p.frameworks), ()))
    wanted = Q(pk__in=[])
    for key in keys:
        slug, _, version = key.rpartition(" ")
        wanted |= Q(slug=slug, version=version)
    frameworks = list(Framework.objects.filter(wanted).order_by("-publication_date", "-pk"))
    if not frameworks:
        current = Framework.objects.current()
        frameworks = [current] if current else []
    return frameworks


def _framework_text(frameworks: list[Framework]) -> str:
    if not frameworks:
        return "Not recorded"
    versions = ", ".join(f.version for f in frameworks)
    noun = "version" if len(frameworks) == 1 else "versions"
    return f"{frameworks[0].title}, {noun} {versions}"


def _scale(levels: list[Level], frameworks: list[Framework]) -> tuple[ScaleLevel, ...]:
    meanings = {}
    if frameworks:
        meanings = dict(RatingLevel.objects.filter(framework=frameworks[0]).values_list("value", "meaning"))
    return tuple(ScaleLevel(level, " ".join(meanings.get(level.value, "").split())) for level in levels)


def _figures_tables(comparison: Comparison) -> tuple[FiguresTable, ...]:
    workforce = comparison.workforce
    trusts = workforce.trusts
    if not trusts or not workforce.rows:
        return ()
    size = TRUSTS_PER_FIGURES_TABLE
    starts = list(range(0, len(trusts), size))
    tables = []
    for part, start in enumerate(starts, start=1):
        end = min(start + size, len(trusts))
        last = part == len(starts)
        rows = tuple((row, tuple(row.figures[start:end]) + ((row.total,) if last else ())) for row in workforce.rows)
        tables.append(
            FiguresTable(
                trusts=tuple(trusts[start:end]),
                rows=rows,
                with_total=last,
                part=part,
                parts=len(starts),
                first=start + 1,
                last=end,
            )
        )
    return tuple(tables)


def _figure_definitions(comparison: Comparison, frameworks: list[Framework]) -> tuple[FigureDefinition, ...]:
    shown = [row.code for row in comparison.workforce.rows]
    if not shown or not frameworks:
        return ()
    by_code = {d.code: d for d in IndicatorDefinition.objects.filter(framework=frameworks[0], code__in=shown)}
    definitions = []
    for row in comparison.workforce.rows:
        found = by_code.get(row.code)
        if found is None:
            definitions.append(FigureDefinition(row.label, "", "", ""))
            continue
        how = (
            f"{found.numerator_label}, as a percentage of: {found.denominator_label}."
            if found.denominator_label
            else f"{found.numerator_label}."
        )
        definitions.append(
            FigureDefinition(row.label, " ".join(found.definition.split()), how, found.data_source or "Not stated")
        )
    return tuple(definitions)


def build_summary_pack(*, icb: ICB, cycle: Cycle | str | None = None) -> SummaryPack:
    """The pack for one ICB and cycle (None: the latest cycle with approved assessments)."""
    context = selectors.summary_pack_context(icb=icb, cycle=cycle)
    comparison: Comparison = context["comparison"]
    frameworks = _frameworks(comparison) if comparison.cycle is not None else []
    distribution = selectors.distribution_chart(comparison) if comparison.approved_rows else None
    return SummaryPack(
        comparison=comparison,
        icb=context["icb"],
        cycle=context["cycle"],
        title=context["title"],
        summary=tuple(context["summary"]),
        notes=tuple(context["notes"]) if comparison.cycle is not None else (),
        generated_at=context["generated_at"],
        framework_text=_framework_text(frameworks),
        scale=_scale(context["levels"], frameworks),
        distribution_chart=paint(distribution) if distribution else None,
        trend_charts=tuple(
            TrendChart(trend.requirement, paint(chart, base_size=15, headroom=18 if comparison.version_changes else 0))
            for trend, chart in selectors.trend_charts(comparison)
        ),
        figures_tables=_figures_tables(comparison),
        figure_definitions=_figure_definitions(comparison, frameworks),
        glossary=tuple(item for item in GLOSSARY if item[0] not in GLOSSARY_OMITTED),
    )


# ---- rendering ---------------------------------------------------------------------------------


def summary_pack_html(pack: SummaryPack) -> str:
    """The HTML that WeasyPrint lays out (Django's autoescaping escapes every name and label)."""
    return render_to_string("reports/summary_pack_pdf.html", {"pack": pack, "comparison": pack.comparison})


def render_pack(pack: SummaryPack, *, url_fetcher: StaticFilesFetcher | None = None) -> bytes:
    if pack.cycle is None:
        raise ValueError("There is no assessment cycle to summarise.")
    return write_pdf(summary_pack_html(pack), url_fetcher=url_fetcher)


def render_summary_pack(*, icb: ICB, cycle: Cycle | str | None, url_fetcher: StaticFilesFetcher | None = None) -> bytes:
    """The People Board summary pack of one ICB and cycle as a tagged PDF/UA-1 A4 document."""
    return render_pack(build_summary_pack(icb=icb, cycle=cycle), url_fetcher=url_fetcher)
