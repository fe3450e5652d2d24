"""Load one version of a framework from a TOML file (``fixtures/frameworks/*.toml``).

The file is read and checked in full before anything is written: every problem is
collected and reported at once, each naming its entry ("Requirement 3 (R3): title is
empty"). Writing then happens in one transaction. Loading the same file twice changes
nothing. A version that an assessment uses is frozen: its content can never change, and
a new version of the file is needed instead.

The file format, one file per version::

    [framework]
    slug = "mh-social-work"
    title = "…"
    publisher = "…"
    version = "2026.1"
    publication_date = 2026-04-01
    status = "published"            # draft, published or retired
    summary = "…"                   # optional
    source_note = "…"               # optional

    [[rating_levels]]               # values run 1, 2, 3… without gaps
    value = 1
    label = "Not met"
    meaning = "…"

    [[requirements]]
    code = "R1"                     # stable across versions
    order = 1                       # optional: position in the file
    title = "…"
    summary = "…"
    what_good_looks_like = "…"      # optional
    typical_evidence = ["…", "…"]   # optional: a list, or text with one item a line

    [[indicators]]                  # optional section
    code = "vacancy_rate"
    order = 1                       # optional: position in the file
    label = "…"
    definition = "…"
    unit = "percentage"             # count, wte or percentage
    numerator_label = "…"
    denominator_label = "…"         # percentages only
    data_source = "…"
    special_category = false        # optional
    plausible_maximum_percent = 40  # optional, percentages only

Long text may be wrapped freely: lines are joined, and a blank line starts a new paragraph.
"""

from __future__ import annotations

import datetime
import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.core.validators import slug_re
from django.db import models, transaction

from requirements.models import (
    Framework,
    FrameworkStatus,
    IndicatorDefinition,
    IndicatorUnit,
    RatingLevel,
    Requirement,
)

MAXIMUM_ORDER = 9999
# While rows swap places, moved rows park above every order a file may use, so that the
# unique (framework, order) constraints hold after every statement.
PARKING_ORDER = 20000

REQUIREMENT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
INDICATOR_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

SECTIONS = ("framework", "rating_levels", "requirements", "indicators")
FRAMEWORK_CONTENT_FIELDS = ("title", "publisher", "publication_date", "summary", "source_note")


class FrameworkLoadError(Exception):
    """The file was not loaded; ``problems`` says why, one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class FrameworkFileInvalid(FrameworkLoadError):
    """The file cannot be read, or its content breaks the format's rules."""


class FrameworkVersionFrozen(FrameworkLoadError):
    """The file would change a version that assessments already use."""


@dataclass(frozen=True)
class FrameworkFile:
    """A framework file, read and checked: model field values, ready to write."""

    framework: dict[str, Any]
    requirements: dict[str, dict[str, Any]]  # by code
    rating_levels: dict[int, dict[str, Any]]  # by value
    indicators: dict[str, dict[str, Any]]  # by code

    @property
    def slug(self) -> str:
        return self.framework["slug"]

    @property
    def version(self) -> str:
        return self.framework["version"]


class LoadOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class LoadResult:
    framework: Framework
    outcome: LoadOutcome
    requirement_count: int
    rating_level_count: int
    indicator_count: int
    changes: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def summary(self) -> str:
        """One line for the command's output."""
        framework = self.framework
        counts = ", ".join(
            [
                _plural(self.requirement_count, "requirement"),
                _plural(self.rating_level_count, "rating level"),
                _plural(self.indicator_count, "indicator"),
            ]
        )
        line = (
            f"{self.outcome.capitalize()} {framework.slug} version {framework.version} ({framework.status}): {counts}"
        )
        if self.changes:
            shown = list(self.changes[:6])
            if len(self.changes) > len(shown):
                shown.append(f"and {len(self.changes) - len(shown)} more")
            line += f"; changed: {'; '.join(shown)}"
        line += "."
        if self.dry_run:
            line = f"Dry run, nothing saved. {line}"
        return line


def load_framework(*, path: Path | str, dry_run: bool = False) -> LoadResult:
    """Create or update the framework version described by the file at ``path``.

    All or nothing: the file is checked in full first (``FrameworkFileInvalid`` lists every
    problem), then written in one transaction. A second load of the same file changes
    nothing and reports "unchanged".

    A version no assessment uses may change freely: fields are updated in place and
    requirements, rating levels and indicators are added, changed or removed to match
    the file. A version that an assessment uses is frozen (``FrameworkVersionFrozen``),
    because its assessments were rated against exactly that text and scale. Only its
    status may still move between published and retired: retiring a used version takes
    it out of "current" without changing anything its assessments were measured
    against. It may not go back to draft, which would hide it while assessments
    against it exist.

    ``dry_run`` does all of the checking and writing, then rolls the transaction back.
    """
    data = parse_framework_file(path=path)
    with transaction.atomic():
        result = _write(data, dry_run=dry_run)
        if dry_run:
            transaction.set_rollback(True)
    return result


def _write(data: FrameworkFile, *, dry_run: bool) -> LoadResult:
    def result(framework: Framework, outcome: LoadOutcome, changes: tuple[str, ...] = ()) -> LoadResult:
        # Counted from the file, which the database now matches (even after a dry run's rollback).
        return LoadResult(
            framework=framework,
            outcome=outcome,
            requirement_count=len(data.requirements),
            rating_level_count=len(data.rating_levels),
            indicator_count=len(data.indicators),
            changes=changes,
            dry_run=dry_run,
        )

    # FOR UPDATE conflicts with the key-share lock PostgreSQL takes when an assessment
    # row referencing this version is inserted, so no assessment can start using the
    # version between the check below and the commit.
    framework = Framework.objects.select_for_update().filter(slug=data.slug, version=data.version).first()
    if framework is None:
        framework = Framework.objects.create(**data.framework)
        Requirement.objects.bulk_create(Requirement(framework=framework, **v) for v in data.requirements.values())
        RatingLevel.objects.bulk_create(RatingLevel(framework=framework, **v) for v in data.rating_levels.values())
        IndicatorDefinition.objects.bulk_create(
            IndicatorDefinition(framework=framework, **v) for v in data.indicators.values()
        )
        return result(framework, LoadOutcome.CREATED)

    framework_changes = [name for name in FRAMEWORK_CONTENT_FIELDS if getattr(framework, name) != data.framework[name]]
    plans = [
        _plan_children("requirement", framework.requirements.all(), "code", data.requirements),
        _plan_children("rating level", framework.rating_levels.all(), "value", data.rating_levels),
        _plan_children("indicator", framework.indicators.all(), "code", data.indicators),
    ]
    content_changes = [f"framework {name}" for name in framework_changes]
    for plan in plans:
        content_changes.extend(plan.descriptions)
    new_status = data.framework["status"]
    status_changes = [f"status {framework.status} → {new_status}"] if framework.status != new_status else []

    if content_changes or (status_changes and new_status == FrameworkStatus.DRAFT):
        used_by = framework.assessments.count()
        if used_by:
            _refuse_frozen(framework, used_by, content_changes, status_changes)

    if not content_changes and not status_changes:
        return result(framework, LoadOutcome.UNCHANGED)

    for name in (*framework_changes, "status"):
        setattr(framework, name, data.framework[name])
    framework.save()
    for plan in plans:
        plan.apply(framework)
    return result(framework, LoadOutcome.UPDATED, tuple(status_changes + content_changes))


def _refuse_frozen(framework: Framework, used_by: int, content_changes: list[str], status_changes: list[str]):
    assessments = _plural(used_by, "assessment")
    if content_changes:
        raise FrameworkVersionFrozen(
            [
                f"Version {framework.version} of {framework.slug} is used by {assessments} and cannot change; "
                "give the file a new version",
                f"The file differs from the stored version in: {'; '.join(content_changes)}",
            ]
        )
    raise FrameworkVersionFrozen(
        [
            f"Version {framework.version} of {framework.slug} is used by {assessments} and cannot go back to draft; "
            "it can only be published or retired"
        ]
    )


@dataclass
class _ChildPlan:
    model: type[models.Model]
    key_field: str
    wanted: dict[Any, dict[str, Any]]
    removed: list[models.Model] = field(default_factory=list)
    changed: list[tuple[models.Model, list[str]]] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)

    def apply(self, framework: Framework) -> None:
        manager = self.model.objects
        if self.removed:
            manager.filter(pk__in=[row.pk for row in self.removed]).delete()
        moving = [row for row, names in self.changed if "order" in names]
        for parking, row in enumerate(moving, start=PARKING_ORDER):
            row.order = parking
        if moving:
            manager.bulk_update(moving, ["order"])
        if self.changed:
            for row, _ in self.changed:
                for name, value in self.wanted[getattr(row, self.key_field)].items():
                    setattr(row, name, value)
            names = sorted({name for _, changed_names in self.changed for name in changed_names})
            manager.bulk_update([row for row, _ in self.changed], names)
        if self.added:
            manager.bulk_create(self.model(framework=framework, **self.wanted[key]) for key in self.added)


def _plan_children(kind: str, rows, key_field: str, wanted: dict[Any, dict[str, Any]]) -> _ChildPlan:
    plan = _ChildPlan(model=rows.model, key_field=key_field, wanted=wanted)
    existing = {getattr(row, key_field): row for row in rows}
    for key, row in existing.items():
        if key not in wanted:
            plan.removed.append(row)
            plan.descriptions.append(f"{kind} {key} removed")
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            plan.added.append(key)
            plan.descriptions.append(f"{kind} {key} added")
            continue
        names = [name for name, value in values.items() if getattr(row, name) != value]
        if names:
            plan.changed.append((row, names))
            plan.descriptions.append(f"{kind} {key} ({', '.join(names)})")
    return plan


# Reading and checking the file


def parse_framework_file(*, path: Path | str) -> FrameworkFile:
    """Read and check a framework file without touching the database.

    Raises ``FrameworkFileInvalid`` listing every problem found, each naming its entry.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise FrameworkFileInvalid([f"There is no file at {path}"]) from None
    except IsADirectoryError:
        raise FrameworkFileInvalid([f"{path} is a folder, not a framework file"]) from None
    except OSError as error:
        raise FrameworkFileInvalid([f"Cannot read {path}: {error.strerror or error}"]) from None
    except UnicodeDecodeError:
        raise FrameworkFileInvalid([f"{path.name} is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as error:
        raise FrameworkFileInvalid([f"{path.name} is not valid TOML: {error}"]) from None
    return parse_framework_document(document)


def parse_framework_document(document: dict[str, Any]) -> FrameworkFile:
    """Check a framework document already read from TOML; see ``parse_framework_file``."""
    problems: list[str] = []
    for name in document:
        if name not in SECTIONS:
            problems.append(f"Unknown section '{name}'{_suggestion(name, SECTIONS)}")

    framework = _read_framework(document.get("framework"), problems)
    rating_levels = _read_rating_levels(_entries(document, "rating_levels", "Rating level", problems), problems)
    requirements = _read_requirements(_entries(document, "requirements", "Requirement", problems), problems)
    indicators = _read_indicators(_entries(document, "indicators", "Indicator", problems, required=False), problems)
    if problems:
        raise FrameworkFileInvalid(problems)
    return FrameworkFile(
        framework=framework, requirements=requirements, rating_levels=rating_levels, indicators=indicators
    )


def _entries(document: dict[str, Any], section: str, kind: str, problems: list[str], *, required=True):
    """The tables of an ``[[array]]`` section, with their position in the file (from 1)."""
    entries = document.get(section)
    if entries is None:
        if required:
            problems.append(f"The file lists no {kind.lower()}s: add [[{section}]] entries")
        return []
    if not isinstance(entries, list):
        problems.append(f"'{section}' must be a list of [[{section}]] entries")
        return []
    if required and not entries:
        problems.append(f"The file lists no {kind.lower()}s: add [[{section}]] entries")
    tables = []
    for position, entry in enumerate(entries, start=1):
        if isinstance(entry, dict):
            tables.append((position, entry))
        else:
            problems.append(f"{kind} {position} is not a [[{section}]] table")
    return tables


class _Entry:
    """One table of the file, read field by field; problems name the entry."""

    def __init__(self, table: dict[str, Any], name: str, model: type[models.Model], problems: list[str]):
        self.table = table
        self.name = name
        self.model = model
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.name}: {message}")

    def reject_unknown_fields(self, allowed: tuple[str, ...]) -> None:
        for key in self.table:
            if key not in allowed:
                self.problem(f"unknown field '{key}'{_suggestion(key, allowed)}")

    def _present(self, key: str, *, required: bool) -> bool:
        if key in self.table:
            return True
        if required:
            self.problem(f"{key} is missing")
        return False

    def text(self, key: str, *, required: bool = True, paragraphs: bool = False) -> str:
        """Text with its whitespace tidied; ``paragraphs`` keeps blank lines between paragraphs."""
        if not self._present(key, required=required):
            return ""
        value = self.table[key]
        if not isinstance(value, str):
            self.problem(f"{key} must be text in quotes")
            return ""
        value = _tidy_paragraphs(value) if paragraphs else " ".join(value.split())
        return self._checked_text(key, value, required=required)

    def lines(self, key: str) -> str:
        """A list of short items (a TOML array of text, or text with one item a line), stored one a line."""
        if not self._present(key, required=False):
            return ""
        value = self.table[key]
        if isinstance(value, str):
            items = value.splitlines()
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = value
        else:
            self.problem(f"{key} must be a list of text items, or text with one item a line")
            return ""
        items = [" ".join(item.split()) for item in items]
        return "\n".join(item for item in items if item)

    def _checked_text(self, key: str, value: str, *, required: bool) -> str:
        if required and not value:
            self.problem(f"{key} is empty")
        if "\x00" in value:
            self.problem(f"{key} contains a NUL character")
        max_length = getattr(self.model._meta.get_field(key), "max_length", None)
        if max_length and len(value) > max_length:
            self.problem(f"{key} is longer than {max_length} characters")
        return value

    def whole_number(self, key: str, *, required: bool = True, minimum: int = 1, maximum: int = MAXIMUM_ORDER):
        if not self._present(key, required=required):
            return None
        value = self.table[key]
        # TOML booleans are Python ints; a whole number in quotes is still text.
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{key} {_shown(value)} is not a whole number")
            return None
        if not minimum <= value <= maximum:
            self.problem(f"{key} must be from {minimum} to {maximum}, not {value}")
            return None
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            self.problem(f"{key} must be true or false, not {_shown(value)}")
            return False
        return value

    def date(self, key: str) -> datetime.date | None:
        if not self._present(key, required=True):
            return None
        value = self.table[key]
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value.strip())
            except ValueError:
                self.problem(f"{key} {_shown(value)} is not a date such as 2026-04-01")
                return None
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            self.problem(f"{key} {_shown(value)} is not a date such as 2026-04-01")
            return None
        return value

    def choice(self, key: str, choices: list[str]) -> str:
        if not self._present(key, required=True):
            return ""
        value = self.table[key]
        if value not in choices:
            self.problem(f"{key} must be one of {', '.join(choices)} (found {_shown(value)})")
            return ""
        return value

    def code(self, key: str, pattern: re.Pattern, hint: str) -> str:
        """An entry's identifying code, as text (whole numbers are not codes)."""
        value = self.table.get(key)
        if not isinstance(value, str) or not value.strip():
            return ""
        value = value.strip()
        if not pattern.match(value):
            self.problem(f"{key} {_shown(value)} may contain only {hint}")
        max_length = self.model._meta.get_field(key).max_length
        if len(value) > max_length:
            self.problem(f"{key} is longer than {max_length} characters")
        return value


def _read_framework(table: Any, problems: list[str]) -> dict[str, Any]:
    if table is None:
        problems.append("The file has no [framework] section")
        return {}
    if not isinstance(table, dict):
        problems.append("'framework' must be a [framework] table")
        return {}
    entry = _Entry(table, "Framework", Framework, problems)
    entry.reject_unknown_fields(("slug", "version", "status", "publication_date", *FRAMEWORK_CONTENT_FIELDS))
    values = {
        "slug": entry.text("slug"),
        "version": entry.text("version"),
        "title": entry.text("title"),
        "publisher": entry.text("publisher"),
        "publication_date": entry.date("publication_date"),
        "summary": entry.text("summary", required=False, paragraphs=True),
        "source_note": entry.text("source_note", required=False, paragraphs=True),
    }
    if values["slug"] and not slug_re.match(values["slug"]):
        entry.problem(f"slug {_shown(values['slug'])} may contain only letters, digits, '-' and '_'")
    if values["version"] and not VERSION_RE.match(values["version"]):
        entry.problem(f"version {_shown(values['version'])} may contain only letters, digits, '.', '_' and '-'")
    if "status" not in table:
        entry.problem("status is missing")
    elif table["status"] not in FrameworkStatus.values:
        entry.problem(f"unknown status {_shown(table['status'])} (expected draft, published or retired)")
    else:
        values["status"] = table["status"]
    return values


def _read_rating_levels(tables: list[tuple[int, dict]], problems: list[str]) -> dict[int, dict[str, Any]]:
    levels: dict[int, dict[str, Any]] = {}
    positions: dict[int, int] = {}
    labels: dict[str, int] = {}
    for position, table in tables:
        entry = _Entry(table, f"Rating level {position}", RatingLevel, problems)
        entry.reject_unknown_fields(("value", "label", "meaning"))
        value = entry.whole_number("value")
        label = entry.text("label")
        meaning = entry.text("meaning", paragraphs=True)
        if value is None:
            continue
        if value in positions:
            problems.append(f"Rating level {value} appears twice (rating levels {positions[value]} and {position})")
            continue
        if label and label.casefold() in labels:
            problems.append(f"Rating levels {labels[label.casefold()]} and {value} share the label '{label}'")
        positions[value] = position
        labels[label.casefold()] = value
        levels[value] = {"value": value, "label": label, "meaning": meaning}
    if len(tables) == 1:
        problems.append("A rating scale needs at least two levels")
    values = sorted(levels)
    if values and values != list(range(1, len(values) + 1)):
        problems.append(
            f"Rating levels must run 1, 2, 3… without gaps; this file has {', '.join(str(v) for v in values)}"
        )
    return dict(sorted(levels.items()))


def _read_requirements(tables: list[tuple[int, dict]], problems: list[str]) -> dict[str, dict[str, Any]]:
    allowed = ("code", "order", "title", "summary", "what_good_looks_like", "typical_evidence")
    return _read_coded_entries(
        tables,
        problems,
        kind="Requirement",
        model=Requirement,
        allowed=allowed,
        code_pattern=REQUIREMENT_CODE_RE,
        code_hint="letters, digits, '.', '_' and '-', such as R1",
        read_fields=lambda entry: {
            "title": entry.text("title"),
            "summary": entry.text("summary", paragraphs=True),
            "what_good_looks_like": entry.text("what_good_looks_like", required=False, paragraphs=True),
            "typical_evidence": entry.lines("typical_evidence"),
        },
    )


def _read_indicators(tables: list[tuple[int, dict]], problems: list[str]) -> dict[str, dict[str, Any]]:
    allowed = (
        "code",
        "order",
        "label",
        "definition",
        "unit",
        "numerator_label",
        "denominator_label",
        "data_source",
        "special_category",
        "plausible_maximum_percent",
    )

    def read_fields(entry: _Entry) -> dict[str, Any]:
        values = {
            "label": entry.text("label"),
            "definition": entry.text("definition", paragraphs=True),
            "unit": entry.choice("unit", IndicatorUnit.values),
            "numerator_label": entry.text("numerator_label"),
            "denominator_label": entry.text("denominator_label", required=False),
            "data_source": entry.text("data_source"),
            "special_category": entry.boolean("special_category"),
            "plausible_maximum_percent": entry.whole_number(
                "plausible_maximum_percent", required=False, minimum=1, maximum=100
            ),
        }
        # A percentage is a numerator over a denominator; counts and WTE are plain totals.
        if values["unit"] == IndicatorUnit.PERCENTAGE and not values["denominator_label"]:
            entry.problem("a percentage needs a denominator_label")
        if values["unit"] in (IndicatorUnit.COUNT, IndicatorUnit.WTE) and values["denominator_label"]:
            entry.problem(f'a {values["unit"]} has no denominator_label; use unit = "percentage" for a rate')
        if values["plausible_maximum_percent"] is not None and values["unit"] != IndicatorUnit.PERCENTAGE:
            entry.problem("plausible_maximum_percent applies only to percentages")
        return values

    return _read_coded_entries(
        tables,
        problems,
        kind="Indicator",
        model=IndicatorDefinition,
        allowed=allowed,
        code_pattern=INDICATOR_CODE_RE,
        code_hint="lower-case letters, digits and '_', such as vacancy_rate",
        read_fields=read_fields,
    )


def _read_coded_entries(
    tables: list[tuple[int, dict]],
    problems: list[str],
    *,
    kind: str,
    model: type[models.Model],
    allowed: tuple[str, ...],
    code_pattern: re.Pattern,
    code_hint: str,
    read_fields: Callable[[_Entry], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Requirements and indicators: entries with a unique code and a unique order."""
    entries: dict[str, dict[str, Any]] = {}
    positions_by_code: dict[str, int] = {}
    names_by_order: dict[int, str] = {}
    for position, table in tables:
        raw_code = table.get("code")
        has_code = isinstance(raw_code, str) and raw_code.strip()
        name = f"{kind} {position} ({raw_code.strip()})" if has_code else f"{kind} {position}"
        entry = _Entry(table, name, model, problems)
        if "code" not in table or (isinstance(raw_code, str) and not raw_code.strip()):
            problems.append(f"{kind} {position} has no code")
        elif not has_code:
            entry.problem(f'code must be text in quotes, such as "{"R1" if kind == "Requirement" else "vacancy_rate"}"')
        entry.reject_unknown_fields(allowed)
        code = entry.code("code", code_pattern, code_hint)
        order = entry.whole_number("order", required=False) if "order" in table else position
        values = {"code": code, "order": order, **read_fields(entry)}
        if code:
            if code in positions_by_code:
                problems.append(
                    f"{kind} {code} appears twice ({kind.lower()}s {positions_by_code[code]} and {position})"
                )
                continue
            positions_by_code[code] = position
        if order is not None:
            if order in names_by_order:
                entry.problem(f"order {order} is already used by {names_by_order[order]}")
            names_by_order.setdefault(order, kind.lower() + name.removeprefix(kind))
        if code:
            entries[code] = values
    return dict(sorted(entries.items(), key=lambda item: item[1]["order"] or 0))


def _tidy_paragraphs(value: str) -> str:
    """Join wrapped lines; a blank line separates paragraphs."""
    paragraphs = re.split(r"\n\s*\n", value.strip())
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs if paragraph.strip())


def _suggestion(word: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
