"""CSV and Excel exports of a comparison: exactly what the ICS lead sees on the page.

Both are written from the same ``Comparison`` as the page, so they hold approved ratings only,
with small special-category numbers already suppressed ("*") and any national median withheld
("Too few to show") that fewer than three approved assessments outside the ICB make up. The CSV
is one row per trust, for analysts, and carries no medians; the workbook has a sheet for each
section of the page.
"""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from assessments.comparison import SUPPRESSED_NOTE, Comparison, Figure, national_median_note, notes

# The heatmap palette, as in static/scss/portal.scss: fill and text colour for each step.
PALETTE = {
    1: ("E5EFF9", "212B32"),
    2: ("7FB0E0", "212B32"),
    3: ("005EB8", "FFFFFF"),
    4: ("003087", "FFFFFF"),
}
NOT_APPROVED_FILL = "D8DDE0"
SPECIAL_SUFFIX = " (* = fewer than 8, not shown)"


def filename(comparison: Comparison, fmt: str) -> str:
    cycle = slugify(comparison.cycle.label.replace("/", "-"))
    return f"{comparison.icb.ods_code}-{cycle}-trust-comparison.{fmt}"


def _approved_on(row) -> str:
    return timezone.localtime(row.approval.approved_at).date().isoformat() if row.approval else ""


def _status(row) -> str:
    status = row.status_label
    if row.revision_in_progress:
        status += f" (revision {row.revision_in_progress} being corrected)"
    return status


def _cell(value) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _figure_columns(figure: Figure, *, is_rate: bool) -> list[str]:
    if figure.suppressed:
        return ["*", "*", "*"] if is_rate else ["*"]
    if is_rate:
        return [_cell(figure.numerator), _cell(figure.denominator), _cell(figure.rate)]
    return [_cell(figure.numerator)]


def csv_rows(comparison: Comparison) -> list[list[str]]:
    """One row per trust in the ICB for the cycle: status, ratings and workforce figures."""
    header = [
        "ICB ODS code",
        "ICB",
        "Cycle",
        "Trust ODS code",
        "Trust",
        "Status",
        "Overdue",
        "Approved on",
        "Revision",
        "Framework version",
    ]
    for requirement in comparison.requirements:
        header += [f"{requirement.code} rating", f"{requirement.code} rating label"]
    workforce = comparison.workforce
    for row in workforce.all_rows:
        suffix = SPECIAL_SUFFIX if row.special_category else ""
        if row.is_rate:
            header += [
                f"{row.label}: numerator{suffix}",
                f"{row.label}: denominator{suffix}",
                f"{row.label}: %{suffix}",
            ]
        else:
            header.append(f"{row.label}{suffix}")
    column_of = {trust.trust_id: index for index, trust in enumerate(workforce.trusts)}
    labels = {level.value: level.label for level in comparison.levels}
    lines = [header]
    for trust in comparison.rows:
        line = [
            comparison.icb.ods_code,
            comparison.icb.name,
            comparison.cycle.label,
            trust.ods_code,
            trust.name,
            _status(trust),
            "yes" if trust.overdue else "no",
            _approved_on(trust),
            str(trust.approval.revision) if trust.approval else "",
            trust.approval.framework_version if trust.approval else "",
        ]
        for cell in trust.cells:
            line += [str(cell.value), labels.get(cell.value, "")] if cell.value is not None else ["", ""]
        for row in workforce.all_rows:
            index = column_of.get(trust.trust_id)
            if index is None:
                line += [""] * (3 if row.is_rate else 1)
            else:
                line += _figure_columns(row.figures[index], is_rate=row.is_rate)
        lines.append(line)
    return lines


def to_csv(comparison: Comparison) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows(comparison))
    return buffer.getvalue()


# ---- Excel ----------------------------------------------------------------------------------

BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")


def _header(sheet, values: list[str]) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD
        cell.alignment = WRAP
    sheet.freeze_panes = f"B{sheet.max_row + 1}"  # a coordinate: sheet.cell() would create an empty row


def _widths(sheet, first: int = 40, rest: int = 16) -> None:
    for index in range(1, sheet.max_column + 1):
        sheet.column_dimensions[get_column_letter(index)].width = first if index == 1 else rest


def _summary_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.active
    sheet.title = "Summary"
    sheet.append([f"Comparison of trusts: {comparison.icb.name}, {comparison.cycle.label}"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([f"Generated {timezone.localtime(comparison.generated_at):%d %B %Y %H:%M}"])
    sheet.append([])
    sheet.append(["At a glance"])
    sheet[sheet.max_row][0].font = BOLD
    for line in comparison.summary:
        sheet.append([line])
    sheet.append([])
    sheet.append(["Notes"])
    sheet[sheet.max_row][0].font = BOLD
    for line in notes(comparison):
        sheet.append([line])
    sheet.column_dimensions["A"].width = 120


def _status_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.create_sheet("Status")
    _header(sheet, ["Trust", "Trust ODS code", "Status", "Overdue", "Approved on", "Revision"])
    for row in comparison.rows:
        sheet.append(
            [
                row.name,
                row.ods_code,
                _status(row),
                "Overdue" if row.overdue else "",
                _approved_on(row),
                row.approval.revision if row.approval else None,
            ]
        )
    _widths(sheet)


def _heatmap_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.create_sheet("Heatmap")
    _header(sheet, ["Trust", *[r.text for r in comparison.requirements]])
    steps = {level.value: level.step for level in comparison.levels}
    for row in comparison.rows:
        sheet.append([row.name, *[cell.text for cell in row.cells]])
        for cell, excel_cell in zip(row.cells, sheet[sheet.max_row][1:], strict=True):
            if cell.value is None:
                excel_cell.fill = PatternFill("lightUp", fgColor=NOT_APPROVED_FILL, bgColor="F0F4F5")
                continue
            fill, font = PALETTE[steps.get(cell.value, 4)]
            excel_cell.fill = PatternFill("solid", fgColor=fill)
            excel_cell.font = Font(color=font)
    sheet.append(["ICB median", *[comparison.medians[r.code].text for r in comparison.requirements]])
    sheet[sheet.max_row][0].font = BOLD
    if comparison.national_medians:
        sheet.append(["National median", *[comparison.national_medians[r.code].text for r in comparison.requirements]])
        sheet[sheet.max_row][0].font = BOLD
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = WRAP
    if comparison.national_withheld:
        sheet.append([])
        sheet.append([national_median_note()])  # unwrapped, so that it reads across the row
    _widths(sheet, rest=18)


def _distribution_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.create_sheet("Distribution")
    _header(sheet, ["Requirement", *[level.text for level in comparison.levels], "Not approved", "Median"])
    for distribution in comparison.distributions:
        sheet.append(
            [
                distribution.requirement.text,
                *[count for _, count in distribution.counts],
                distribution.not_approved,
                distribution.median.text,
            ]
        )
    _widths(sheet)


def _trends_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.create_sheet("Trends")
    levels = comparison.levels
    _header(
        sheet,
        [
            "Requirement",
            "Cycle",
            *[level.text for level in levels],
            "Approved",
            "Trusts in ICB",
            "Median",
            "Framework version",
            "Version changed",
        ],
    )
    for trend in comparison.trends:
        for point in trend.points:
            sheet.append(
                [
                    trend.requirement.text,
                    point.cycle_label,
                    *[point.counts.get(level.value, 0) for level in levels],
                    point.approved,
                    point.in_icb,
                    point.median.text,
                    ", ".join(f.split(" ", 1)[-1] for f in point.frameworks),
                    "yes" if point.version_changed else "",
                ]
            )
    _widths(sheet)


def _number(value):
    return None if value is None else float(value)


def _workforce_sheet(book: Workbook, comparison: Comparison) -> None:
    sheet = book.create_sheet("Workforce")
    _header(sheet, ["Trust", "Trust ODS code", "Figure", "Numerator", "Denominator", "Rate (%)", "As shown"])
    workforce = comparison.workforce
    for row in workforce.all_rows:
        label = row.label + (SPECIAL_SUFFIX if row.special_category else "")
        entries = [(t.name, t.ods_code, f) for t, f in zip(workforce.trusts, row.figures, strict=True)]
        entries.append(("All approved trusts", "", row.total))
        for name, code, figure in entries:
            if figure.suppressed:
                values = ["*", "*", "*" if row.is_rate else None]
            else:
                values = [_number(figure.numerator), _number(figure.denominator), _number(figure.rate)]
            shown = f"{figure.text} ({figure.detail})" if figure.detail else figure.text
            sheet.append([name, code, label, *values, shown])
    if workforce.any_suppressed:
        sheet.append([])
        sheet.append([SUPPRESSED_NOTE])
    _widths(sheet, rest=18)
    sheet.column_dimensions["C"].width = 50


def to_xlsx(comparison: Comparison) -> bytes:
    book = Workbook()
    _summary_sheet(book, comparison)
    _status_sheet(book, comparison)
    _heatmap_sheet(book, comparison)
    _distribution_sheet(book, comparison)
    _trends_sheet(book, comparison)
    _workforce_sheet(book, comparison)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
