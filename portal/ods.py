"""Update ICBs and trusts from an ODS extract (CSV): the production route for organisations.

The file is read and checked in full before anything is written, and every problem is
reported at once, naming its row ("Row 4: unknown host ICB 'QXX'"). Rows are numbered as
a spreadsheet shows them: the header is row 1. Writing then happens in one transaction,
upserting by ODS code. Organisations that are not in the file are left alone (an extract
may be partial) and only counted. The columns, aliases and rules are described in
docs/organisations.md.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from portal.models import ICB, AuditEvent, Region, Trust, TrustICBMembership

ICB_TYPE = "ICB"
TRUST_TYPE = "TRUST"
MODELS = {ICB_TYPE: ICB, TRUST_TYPE: Trust}
TYPE_LABELS = {ICB_TYPE: ("ICB", "ICBs"), TRUST_TYPE: ("trust", "trusts")}
ARTICLES = {ICB_TYPE: "an ICB", TRUST_TYPE: "a trust"}

# Header spellings, compared after lower-casing and turning "_" and "-" into spaces.
COLUMN_ALIASES = {
    "ods_code": ["ods code", "organisation code", "organization code", "org code", "code"],
    "name": ["name", "organisation name", "organization name", "org name"],
    "org_type": ["org type", "organisation type", "organization type"],
    "nhs_region": ["nhs region", "region", "region name", "nhs england region"],
    "region_code": ["region code", "nhs region code", "national grouping"],
    "host_icb_ods_code": ["host icb ods code", "host icb code", "host icb", "icb code", "high level health geography"],
    "open_date": ["open date", "opened", "start date"],
    "close_date": ["close date", "closed", "end date"],
    "successor_ods_code": ["successor ods code", "successor code", "successor organisation code", "successor"],
}
HEADER_TO_COLUMN = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
ORG_TYPE_VALUES = {
    "icb": ICB_TYPE,
    "integrated care board": ICB_TYPE,
    "trust": TRUST_TYPE,
    "nhs trust": TRUST_TYPE,
}
ODS_CODE_RE = re.compile(r"^[A-Z0-9]{3,5}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{8}$")

# Upper-case names from ODS are put into title case; these words keep their capitals,
# and these stay lower case unless they start the name.
ACRONYMS = {"NHS", "ICB", "ICS", "UK"}
SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "the", "to", "upon", "with"}


class ODSImportError(Exception):
    """Nothing was imported; ``problems`` says why, one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.field}: {self.before} → {self.after}"


@dataclass
class OrganisationResult:
    """What the import did to one organisation in the file."""

    org_type: str
    ods_code: str
    name: str
    outcome: str = "unchanged"  # added, changed, closed or unchanged
    changes: list[FieldChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        details = [str(change) for change in self.changes] + self.notes
        line = f"{self.outcome.capitalize()} {TYPE_LABELS[self.org_type][0]} {self.ods_code} {self.name}"
        return f"{line}: {'; '.join(details)}" if details else line


@dataclass
class ImportReport:
    """The outcome of one import: a line per organisation in the file and the totals."""

    results: list[OrganisationResult]
    not_in_file: list[str]
    ignored_columns: list[str]
    effective_date: datetime.date
    dry_run: bool = False

    def with_outcome(self, outcome: str) -> list[OrganisationResult]:
        return [result for result in self.results if result.outcome == outcome]

    @property
    def added(self) -> list[OrganisationResult]:
        return self.with_outcome("added")

    @property
    def changed(self) -> list[OrganisationResult]:
        return self.with_outcome("changed")

    @property
    def closed(self) -> list[OrganisationResult]:
        return self.with_outcome("closed")

    @property
    def unchanged(self) -> list[OrganisationResult]:
        return self.with_outcome("unchanged")

    def lines(self, *, include_unchanged: bool = False) -> list[str]:
        return [result.describe() for result in self.results if include_unchanged or result.outcome != "unchanged"]

    def summary(self) -> str:
        """For example "Added 2 trusts, changed 1 (name), closed 1, unchanged 47; 3 not in file"."""
        added = [result.org_type for result in self.added]
        added_parts = [_count(added.count(org_type), org_type) for org_type in (ICB_TYPE, TRUST_TYPE)]
        added_text = " and ".join(part for part in added_parts if not part.startswith("0 ")) or "0 organisations"
        changed_fields = sorted({change.field for result in self.changed for change in result.changes})
        changed_text = f"changed {len(self.changed)}"
        if changed_fields:
            changed_text += f" ({', '.join(changed_fields)})"
        text = f"Added {added_text}, {changed_text}, closed {len(self.closed)}, unchanged {len(self.unchanged)}"
        text += f"; {len(self.not_in_file)} not in file"
        return f"Dry run, nothing written. {text}" if self.dry_run else text


def _count(number: int, org_type: str) -> str:
    singular, plural = TYPE_LABELS[org_type]
    return f"{number} {singular if number == 1 else plural}"


ODS_IMPORT = "ods_import"  # the platform's audit trail entry for an import that changed anything

UNSET = object()  # a column the file leaves out, or an empty cell that means "keep what is stored"


@dataclass
class _Row:
    number: int
    org_type: str
    ods_code: str
    name: str
    region: Region | None = None
    open_date: datetime.date | None = None
    close_date: object = UNSET  # a date, None (open) or UNSET
    host_icb_code: str = ""
    successor_code: str = ""


def read_ods_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header row, as dictionaries keyed by its headers."""
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        if not reader.fieldnames:
            raise ODSImportError(["The file is empty: it needs a header row (see docs/organisations.md)."])
    return rows


def tidy_name(name: str) -> str:
    """Collapse spaces; put a name written all in capitals (as ODS writes them) into title case."""
    name = " ".join(name.split())
    if any(character.islower() for character in name):
        return name
    words = []
    for position, word in enumerate(name.split(" ")):
        parts = []
        for part_position, part in enumerate(word.split("-")):
            bare = part.strip(",.()'")
            if bare in ACRONYMS:
                parts.append(part)
            elif (position or part_position) and bare.lower() in SMALL_WORDS:
                parts.append(part.lower())
            else:
                parts.append(_capitalise(part))
        words.append("-".join(parts))
    return " ".join(words)


def _capitalise(word: str) -> str:
    for index, character in enumerate(word):
        if character.isalpha():
            return word[:index] + character.upper() + word[index + 1 :].lower()
    return word.lower()


def _canonical_header(header: str) -> str:
    return " ".join(header.lower().replace("_", " ").replace("-", " ").split())


def _parse_date(text: str) -> datetime.date:
    """YYYY-MM-DD, or YYYYMMDD as ODS writes dates."""
    if not DATE_RE.match(text):
        raise ValueError(text)
    return datetime.date.fromisoformat(text)


def _show(value: object) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@transaction.atomic
def import_ods(
    *,
    rows: Iterable[Mapping[str, str | None]],
    dry_run: bool = False,
    effective_date: datetime.date | None = None,
) -> ImportReport:
    """Upsert the file's ICBs and trusts by ODS code; raise ODSImportError, writing nothing, on any problem.

    A host ICB change takes effect on ``effective_date`` (default today): the old host
    membership ends the day before. With ``dry_run`` everything is worked out and
    reported, then rolled back.
    """
    effective_date = effective_date or timezone.localdate()
    rows = list(rows)
    parsed, ignored_columns = _check(rows)
    report = ImportReport(
        results=[], not_in_file=[], ignored_columns=ignored_columns, effective_date=effective_date, dry_run=dry_run
    )
    if not parsed:
        return report
    writer = _Writer(effective_date=effective_date)
    # ICBs first, so that trusts in the same file can name new ICBs as their host.
    ordered = sorted(parsed, key=lambda row: row.org_type != ICB_TYPE)
    results = {row.ods_code: writer.upsert(row) for row in ordered}
    for row in parsed:
        if row.successor_code:
            writer.set_successor(row, results[row.ods_code])
    if writer.problems:
        raise ODSImportError(writer.problems)
    report.results = [results[row.ods_code] for row in parsed]
    for org_type in sorted({row.org_type for row in parsed}):
        codes_in_file = {row.ods_code for row in parsed if row.org_type == org_type}
        stored = MODELS[org_type].objects.exclude(ods_code__in=codes_in_file).order_by("ods_code")
        report.not_in_file += stored.values_list("ods_code", flat=True)
    if dry_run:
        transaction.set_rollback(True)
    elif report.added or report.changed or report.closed:
        # The platform's audit trail: pages that show ICBs and trusts are cached under its latest entry.
        AuditEvent.objects.create(trust=None, actor=None, action=ODS_IMPORT, summary=report.summary()[:500])
    return report


NAME_MAX_LENGTH = Trust._meta.get_field("name").max_length


def _check(rows: list[Mapping[str, str | None]]) -> tuple[list[_Row], list[str]]:
    """Read and check every row without writing; raise ODSImportError listing every problem."""
    if not rows:
        return [], []
    problems: list[str] = []
    columns: dict[str, str] = {}  # our column name -> the file's header
    ignored = []
    for header in rows[0]:
        if header is None:
            continue
        column = HEADER_TO_COLUMN.get(_canonical_header(header))
        if column is None:
            ignored.append(header)
        elif column in columns:
            problems.append(f"Columns {columns[column]!r} and {header!r} both give {column}: keep one.")
        else:
            columns[column] = header
    problems += [f"The file has no {column} column." for column in ("ods_code", "name") if column not in columns]
    if problems:
        raise ODSImportError(problems)

    regions = {}
    for region in Region.objects.all():
        regions[region.code.upper()] = region
        regions[region.name.casefold()] = region
    stored = {org_type: MODELS[org_type].objects.in_bulk(field_name="ods_code") for org_type in MODELS}
    default_type = TRUST_TYPE if "host_icb_ods_code" in columns else ICB_TYPE

    parsed: list[_Row] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=2):
        if not any((value or "").strip() for key, value in raw.items() if key is not None):
            continue  # a blank line, as spreadsheets leave at the end
        row_problems = []

        def cell(column: str, raw: Mapping[str, str | None] = raw) -> str:
            return (raw.get(columns[column]) or "").strip() if column in columns else ""

        if raw.get(None):  # csv.DictReader's place for surplus cells
            row_problems.append("it has more cells than the header has columns")
        code = cell("ods_code").upper()
        name = tidy_name(cell("name"))
        if not code:
            row_problems.append("ods_code is missing")
        elif not ODS_CODE_RE.match(code):
            row_problems.append(f"ODS code {code!r} should be 3 to 5 letters and digits")
        elif code in first_seen:
            row_problems.append(f"ODS code {code} appears again (first on row {first_seen[code]})")
        else:
            first_seen[code] = number
        if not name:
            row_problems.append("name is missing")
        elif len(name) > NAME_MAX_LENGTH:
            row_problems.append(f"name is longer than {NAME_MAX_LENGTH} characters")
        if any("\x00" in (value or "") for key, value in raw.items() if key is not None):
            row_problems.append("it contains a NUL character")

        org_type = default_type
        if default_type == ICB_TYPE and code in stored[TRUST_TYPE]:
            # A file without host ICBs may still update trusts already stored (for example closing one).
            org_type = TRUST_TYPE
        if "org_type" in columns:
            org_type = ORG_TYPE_VALUES.get(" ".join(cell("org_type").lower().split()), "")
            if not org_type:
                row_problems.append(f"org_type {cell('org_type')!r} should be ICB or TRUST")
                org_type = default_type
        other_type = ICB_TYPE if org_type == TRUST_TYPE else TRUST_TYPE
        existing = stored[org_type].get(code)
        if code in stored[other_type]:
            row_problems.append(f"{code} is already {ARTICLES[other_type]} in the portal, not {ARTICLES[org_type]}")

        region = None
        region_name, region_code = cell("nhs_region"), cell("region_code").upper()
        if region_name:
            region = regions.get(region_name.casefold()) or regions.get(region_name.upper())
            if region is None:
                row_problems.append(f"unknown region {region_name!r}")
        if region_code:
            by_code = regions.get(region_code)
            if by_code is None:
                row_problems.append(f"unknown region code {region_code!r}")
            elif region is not None and by_code != region:
                row_problems.append(f"region {region_name!r} and region code {region_code!r} disagree")
            region = region or by_code
        if region is None and existing is None and not region_name and not region_code:
            row_problems.append("region is missing (a new organisation needs nhs_region or region_code)")

        dates = {}
        for column in ("open_date", "close_date"):
            text = cell(column)
            if text:
                try:
                    dates[column] = _parse_date(text)
                except ValueError:
                    row_problems.append(f"{column} {text!r} is not a date (write YYYY-MM-DD)")
        open_date = dates.get("open_date") or (existing.open_date if existing else None)
        close_date = dates.get("close_date")
        if open_date and close_date and close_date < open_date:
            row_problems.append(f"close_date {close_date} is before open_date {open_date}")

        host_code = cell("host_icb_ods_code").upper()
        successor_code = cell("successor_ods_code").upper()
        if org_type == ICB_TYPE and host_code:
            row_problems.append("host_icb_ods_code is for trusts, not ICBs")
        if org_type == ICB_TYPE and successor_code:
            row_problems.append("successor_ods_code is recorded for trusts only")
        if successor_code and successor_code == code:
            row_problems.append("a trust cannot be its own successor")

        problems += [f"Row {number}: {problem}" for problem in row_problems]
        close_value = UNSET
        if "close_date" in columns:
            close_value = close_date  # an empty cell means the organisation is open
        parsed.append(
            _Row(
                number=number,
                org_type=org_type,
                ods_code=code,
                name=name,
                region=region,
                open_date=dates.get("open_date"),
                close_date=close_value,
                host_icb_code=host_code,
                successor_code=successor_code,
            )
        )

    icb_codes = set(stored[ICB_TYPE]) | {row.ods_code for row in parsed if row.org_type == ICB_TYPE}
    trust_codes = set(stored[TRUST_TYPE]) | {row.ods_code for row in parsed if row.org_type == TRUST_TYPE}
    for row in parsed:
        if row.host_icb_code and row.org_type == TRUST_TYPE and row.host_icb_code not in icb_codes:
            problems.append(f"Row {row.number}: unknown host ICB {row.host_icb_code!r}")
        if row.successor_code and row.org_type == TRUST_TYPE and row.successor_code not in trust_codes:
            problems.append(f"Row {row.number}: unknown successor trust {row.successor_code!r}")
    if problems:
        raise ODSImportError(sorted(problems, key=_row_order))
    return parsed, ignored


def _row_order(problem: str) -> int:
    match = re.match(r"Row (\d+):", problem)
    return int(match.group(1)) if match else 0


class _Writer:
    """Applies checked rows one by one, collecting what changed and any conflicts with stored data."""

    def __init__(self, *, effective_date: datetime.date):
        self.effective_date = effective_date
        self.problems: list[str] = []

    def upsert(self, row: _Row) -> OrganisationResult:
        model = MODELS[row.org_type]
        organisation = model.objects.select_for_update().filter(ods_code=row.ods_code).first()
        result = OrganisationResult(org_type=row.org_type, ods_code=row.ods_code, name=row.name)
        newly_closed = False
        if organisation is None:
            organisation = model.objects.create(
                ods_code=row.ods_code,
                name=row.name,
                region=row.region,
                open_date=row.open_date,
                close_date=None if row.close_date is UNSET else row.close_date,
            )
            result.outcome = "added"
            result.notes.append(f"region {row.region}")
            newly_closed = organisation.close_date is not None
            if newly_closed:
                result.notes.append(f"closed on {organisation.close_date}")
        else:
            updates = {}
            if row.name != organisation.name and row.name.casefold() != organisation.name.casefold():
                updates["name"] = row.name
            else:
                result.name = organisation.name
            if row.region is not None and row.region.pk != organisation.region_id:
                updates["region"] = row.region
            if row.open_date is not None and row.open_date != organisation.open_date:
                updates["open_date"] = row.open_date
            if row.close_date is not UNSET and row.close_date != organisation.close_date:
                newly_closed = organisation.close_date is None
                updates["close_date"] = row.close_date
            for name, value in updates.items():
                before = organisation.region if name == "region" else getattr(organisation, name)
                if name == "close_date" and newly_closed:
                    result.notes.append(f"closed on {value}")
                else:
                    result.changes.append(FieldChange(name.replace("_", " "), _show(before), _show(value)))
                setattr(organisation, name, value)
            if updates:
                organisation.save(update_fields=list(updates))
                result.outcome = "closed" if newly_closed else "changed"

        if row.org_type == TRUST_TYPE and row.host_icb_code:
            self._set_host(row, organisation, result, is_new=result.outcome == "added")
        if newly_closed:
            self._end_memberships(row, organisation, result)
        return result

    def _set_host(self, row: _Row, trust: Trust, result: OrganisationResult, *, is_new: bool) -> None:
        icb = ICB.objects.get(ods_code=row.host_icb_code)
        start = (trust.open_date or self.effective_date) if is_new else self.effective_date
        if icb.open_date and icb.open_date > start:
            start = icb.open_date
        memberships = trust.icb_memberships.select_related("icb").select_for_update()
        current = [membership for membership in memberships if membership.is_host and membership.end_date is None]
        if any(membership.icb_id == icb.pk for membership in current):
            return
        if trust.close_date is not None and trust.close_date < start:
            last_host = memberships.filter(is_host=True).order_by("-start_date").first()
            if last_host is None or last_host.icb_id != icb.pk:
                result.notes.append(f"host ICB {icb.ods_code} not applied: the trust closed on {trust.close_date}")
            return
        if icb.close_date is not None and icb.close_date < start:
            self.problems.append(
                f"Row {row.number}: host ICB {icb.ods_code} closed on {icb.close_date}, "
                f"before {trust.ods_code}'s membership would start ({start})"
            )
            return

        before = ", ".join(membership.icb.ods_code for membership in current)
        if not before:
            last_host = memberships.filter(is_host=True).order_by("-start_date").first()
            before = f"{last_host.icb.ods_code} (ended {last_host.end_date})" if last_host else "none"
        # The old host, and any non-host membership of the new host ICB, end the day before.
        superseded = current + [
            membership
            for membership in memberships
            if membership.icb_id == icb.pk and not membership.is_host and membership.end_date is None
        ]
        for membership in superseded:
            if membership.start_date < start:
                membership.end_date = start - datetime.timedelta(days=1)
                membership.save(update_fields=["end_date"])
            else:
                # It had not started yet: the new host replaces it outright.
                membership.delete()
        TrustICBMembership.objects.update_or_create(
            trust=trust, icb=icb, start_date=start, defaults={"is_host": True, "end_date": None}
        )
        if is_new:
            result.notes.append(f"host ICB {icb.ods_code} from {start}")
        else:
            result.changes.append(FieldChange("host ICB", before, f"{icb.ods_code} from {start}"))
            if result.outcome == "unchanged":
                result.outcome = "changed"

    def _end_memberships(self, row: _Row, organisation: ICB | Trust, result: OrganisationResult) -> None:
        close_date = organisation.close_date
        if row.org_type == TRUST_TYPE:
            memberships = organisation.icb_memberships.all()
            what = "ICB membership"
        else:
            memberships = organisation.trust_memberships.all()
            what = "trust membership"
        ended = memberships.filter(end_date__isnull=True, start_date__lte=close_date).update(end_date=close_date)
        if ended:
            result.notes.append(f"ended {ended} {what}{'' if ended == 1 else 's'}")

    def set_successor(self, row: _Row, result: OrganisationResult) -> None:
        trust = Trust.objects.get(ods_code=row.ods_code)
        successor = Trust.objects.get(ods_code=row.successor_code)
        if trust.successor_id == successor.pk:
            return
        before = trust.successor.ods_code if trust.successor else "none"
        trust.successor = successor
        trust.save(update_fields=["successor"])
        result.changes.append(FieldChange("successor", before, successor.ods_code))
        if result.outcome == "unchanged":
            result.outcome = "changed"
