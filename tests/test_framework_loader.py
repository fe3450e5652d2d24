"""Loading a framework version from a TOML file: content, validation, idempotence and frozen versions."""

import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Assessment, Cycle
from requirements.loader import (
    FrameworkFileInvalid,
    FrameworkVersionFrozen,
    LoadOutcome,
    load_framework,
    parse_framework_file,
)
from requirements.management.commands.load_framework import Command as LoadFrameworkCommand
from requirements.models import Framework, FrameworkStatus, IndicatorDefinition, RatingLevel, Requirement
from tests.factories import TrustFactory

REAL_FILE = Path(settings.BASE_DIR) / "fixtures" / "frameworks" / "mh-social-work-2026.toml"

DOMAIN_TITLES = {
    "R1": "Board-level leadership for social work",
    "R2": "Professional leadership",
    "R3": "Professional supervision",
    "R4": "Continuing professional development and post-qualifying training",
    "R5": "Career progression and role clarity",
    "R6": "Partnership with local authorities",
    "R7": "Workforce planning, data and performance",
    "R8": "Wellbeing, equality and inclusion",
}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | datetime.date):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render(document: dict) -> str:
    lines = []
    for section, content in document.items():
        if isinstance(content, dict):
            lines += [f"[{section}]", *(f"{key} = {toml_value(value)}" for key, value in content.items()), ""]
        else:
            for entry in content:
                lines += [f"[[{section}]]", *(f"{key} = {toml_value(value)}" for key, value in entry.items()), ""]
    return "\n".join(lines)


def document(*, requirements: int = 3, levels: int = 4, version: str = "1", status: str = "published") -> dict:
    """A small valid framework document, to be broken one way at a time."""
    return {
        "framework": {
            "slug": "test-framework",
            "title": "Test framework",
            "publisher": "Test publisher",
            "version": version,
            "publication_date": datetime.date(2026, 4, 1),
            "status": status,
        },
        "rating_levels": [
            {"value": n, "label": f"Level {n}", "meaning": f"What level {n} means."} for n in range(1, levels + 1)
        ],
        "requirements": [
            {
                "code": f"R{n}",
                "order": n,
                "title": f"Requirement number {n}",
                "summary": f"What requirement {n} asks for.",
                "typical_evidence": [f"Evidence {n}a", f"Evidence {n}b"],
            }
            for n in range(1, requirements + 1)
        ],
        "indicators": [
            {
                "code": "vacancy_rate",
                "label": "Vacancy rate",
                "definition": "Vacant funded posts as a share of the funded establishment.",
                "unit": "percentage",
                "numerator_label": "Vacant posts (WTE)",
                "denominator_label": "Funded establishment (WTE)",
                "data_source": "ESR",
                "plausible_maximum_percent": 40,
            }
        ],
    }


@pytest.fixture
def write(tmp_path):
    """Write a document to a framework file and return its path."""

    def write_document(doc: dict, name: str = "framework.toml") -> Path:
        path = tmp_path / name
        path.write_text(render(doc), encoding="utf-8")
        return path

    return write_document


def nothing_written():
    return not (
        Framework.objects.exists()
        or Requirement.objects.exists()
        or RatingLevel.objects.exists()
        or IndicatorDefinition.objects.exists()
    )


def use_in_assessment(framework: Framework, label: str = "2026/27") -> Assessment:
    cycle = Cycle.objects.create(
        label=label, snapshot_date=datetime.date(2026, 3, 31), submission_deadline=datetime.date(2026, 6, 30)
    )
    return Assessment.objects.create(trust=TrustFactory(), cycle=cycle, framework=framework)


class TestRealFramework:
    def test_real_file_loads_every_requirement_level_and_indicator(self, db):
        """The project's framework file creates R1 to R8, four rating levels and every workforce indicator."""
        result = load_framework(path=REAL_FILE)

        framework = result.framework
        assert result.outcome == LoadOutcome.CREATED
        assert (framework.slug, framework.version, framework.status) == ("mh-social-work", "2026.1", "published")
        assert {r.code: r.title for r in framework.requirements.all()} == DOMAIN_TITLES
        assert list(framework.requirements.values_list("code", flat=True)) == list(DOMAIN_TITLES)
        assert [(lvl.value, lvl.label) for lvl in framework.rating_levels.all()] == [
            (1, "Not met"),
            (2, "Partially met"),
            (3, "Largely met"),
            (4, "Fully met"),
        ]
        assert framework.indicators.count() == 16
        assert Framework.objects.current() == framework

    def test_real_file_gives_each_requirement_guidance_and_evidence(self, db):
        """Every requirement has a summary, a real 'what good looks like' and a list of typical evidence."""
        framework = load_framework(path=REAL_FILE).framework

        for requirement in framework.requirements.all():
            assert len(requirement.summary) > 100, requirement.code
            assert len(requirement.what_good_looks_like) > 400, requirement.code
            assert len(requirement.typical_evidence_items) >= 3, requirement.code

    def test_real_file_is_honest_about_its_source(self, db):
        """The source note says the text is a working summary, not the official wording."""
        framework = load_framework(path=REAL_FILE).framework

        assert "not the official wording" in framework.source_note
        assert "Health Education England" in framework.publisher
        assert "Skills for Care" in framework.publisher

    def test_real_file_defines_indicators_as_numerators_and_denominators(self, db):
        """Rates carry both labels, ethnicity is special category and a vacancy rate above 40% is implausible."""
        framework = load_framework(path=REAL_FILE).framework
        indicators = {indicator.code: indicator for indicator in framework.indicators.all()}

        assert indicators["vacancy_rate"].plausible_maximum_percent == 40
        assert indicators["vacancy_rate"].denominator_label == "Funded social work establishment (WTE)"
        assert {code for code, i in indicators.items() if i.special_category} == {
            "ethnic_minority_share",
            "ethnic_minority_share_band_7_and_above",
        }
        assert indicators["wte"].unit == "wte"
        for indicator in indicators.values():
            assert indicator.definition, indicator.code
            assert indicator.data_source, indicator.code
            assert indicator.numerator_label, indicator.code
            assert indicator.is_rate == (indicator.unit == "percentage"), indicator.code
        sources = " ".join(indicator.data_source for indicator in indicators.values())
        for source in ("Electronic Staff Record", "supervision audit", "Social Work England", "AMHP rota"):
            assert source in sources

    def test_loading_the_same_file_twice_changes_nothing(self, db):
        """A second load reports 'unchanged' and keeps every row as it was."""
        first = load_framework(path=REAL_FILE)
        rows_before = list(Requirement.objects.values().order_by("pk"))

        second = load_framework(path=REAL_FILE)

        assert second.outcome == LoadOutcome.UNCHANGED
        assert second.framework.pk == first.framework.pk
        assert second.changes == ()
        assert list(Requirement.objects.values().order_by("pk")) == rows_before
        assert Framework.objects.count() == 1
        assert RatingLevel.objects.count() == 4


class TestShapes:
    def test_three_requirements_and_five_levels_load(self, db, write):
        """Nothing assumes eight requirements or four levels."""
        framework = load_framework(path=write(document(requirements=3, levels=5))).framework

        assert list(framework.requirements.values_list("code", flat=True)) == ["R1", "R2", "R3"]
        assert list(framework.rating_levels.values_list("value", flat=True)) == [1, 2, 3, 4, 5]

    def test_order_defaults_to_position_and_evidence_may_be_text(self, db, write):
        """Without 'order' entries keep their place in the file; evidence may be text with one item a line."""
        doc = document(requirements=2)
        for requirement in doc["requirements"]:
            del requirement["order"]
        doc["requirements"][0]["typical_evidence"] = "First item\n\n  Second   item  \n"
        doc["requirements"].reverse()

        framework = load_framework(path=write(doc)).framework

        assert list(framework.requirements.values_list("code", "order")) == [("R2", 1), ("R1", 2)]
        assert framework.requirements.get(code="R1").typical_evidence_items == ["First item", "Second item"]

    def test_wrapped_text_is_joined_and_paragraphs_kept(self, db, write):
        """Lines wrapped in the file are joined; a blank line starts a new paragraph."""
        doc = document()
        doc["requirements"][0]["what_good_looks_like"] = "First line\nstill first.\n\nSecond paragraph."

        framework = load_framework(path=write(doc)).framework

        assert framework.requirements.get(code="R1").what_good_looks_like == (
            "First line still first.\n\nSecond paragraph."
        )

    def test_indicators_may_be_left_out(self, db, write):
        """A framework without workforce indicators loads."""
        doc = document()
        del doc["indicators"]

        framework = load_framework(path=write(doc)).framework

        assert framework.indicators.count() == 0


def _set(section, index, key, value):
    def change(doc):
        doc[section][index][key] = value

    return change


def _delete(section, index, key):
    def change(doc):
        del doc[section][index][key]

    return change


def _rename(section, index, old, new):
    def change(doc):
        doc[section][index][new] = doc[section][index].pop(old)

    return change


def _add_indicator(**fields):
    def change(doc):
        doc["indicators"].append(
            {
                "code": "headcount",
                "label": "Headcount",
                "definition": "People in post.",
                "unit": "count",
                "numerator_label": "People in post",
                "data_source": "ESR",
                **fields,
            }
        )

    return change


def _framework(key, value):
    def change(doc):
        doc["framework"][key] = value

    return change


def _copy_requirement(source, target):
    def change(doc):
        doc["requirements"][target] = {**doc["requirements"][source], "order": target + 1}

    return change


INVALID_FILES = [
    ("empty requirement title", _set("requirements", 2, "title", "  "), "Requirement 3 (R3): title is empty"),
    ("duplicate code", _copy_requirement(1, 2), "Requirement R2 appears twice (requirements 2 and 3)"),
    ("missing code", _delete("requirements", 1, "code"), "Requirement 2 has no code"),
    ("blank code", _set("requirements", 1, "code", ""), "Requirement 2 has no code"),
    (
        "code that is not text",
        _set("requirements", 1, "code", 2),
        'Requirement 2: code must be text in quotes, such as "R1"',
    ),
    (
        "code with a space",
        _set("requirements", 1, "code", "R 2"),
        "Requirement 2 (R 2): code 'R 2' may contain only letters, digits, '.', '_' and '-', such as R1",
    ),
    ("missing title", _delete("requirements", 0, "title"), "Requirement 1 (R1): title is missing"),
    (
        "unknown requirement field",
        _rename("requirements", 0, "title", "titel"),
        "Requirement 1 (R1): unknown field 'titel' (did you mean 'title'?)",
    ),
    ("title too long", _set("requirements", 0, "title", "x" * 251), "Requirement 1 (R1): title is longer than 250"),
    (
        "duplicate order",
        _set("requirements", 2, "order", 1),
        "Requirement 3 (R3): order 1 is already used by requirement 1 (R1)",
    ),
    ("order not a number", _set("requirements", 0, "order", "first"), "Requirement 1 (R1): order 'first' is not"),
    (
        "rating level value not a whole number",
        _set("rating_levels", 1, "value", "x"),
        "Rating level 2: value 'x' is not a whole number",
    ),
    (
        "rating level value a decimal",
        _set("rating_levels", 1, "value", 2.5),
        "Rating level 2: value 2.5 is not a whole number",
    ),
    (
        "gap in rating levels",
        _set("rating_levels", 2, "value", 5),
        "Rating levels must run 1, 2, 3… without gaps; this file has 1, 2, 4, 5",
    ),
    (
        "duplicate rating level",
        _set("rating_levels", 2, "value", 2),
        "Rating level 2 appears twice (rating levels 2 and 3)",
    ),
    ("empty rating label", _set("rating_levels", 0, "label", ""), "Rating level 1: label is empty"),
    ("unknown status", _framework("status", "publishd"), "Framework: unknown status 'publishd'"),
    ("empty framework title", _framework("title", ""), "Framework: title is empty"),
    (
        "bad date",
        _framework("publication_date", "April 2026"),
        "Framework: publication_date 'April 2026' is not a date",
    ),
    ("bad slug", _framework("slug", "test framework"), "Framework: slug 'test framework' may contain only"),
    (
        "unknown unit",
        _set("indicators", 0, "unit", "rate"),
        "Indicator 1 (vacancy_rate): unit must be one of count, wte, percentage (found 'rate')",
    ),
    (
        "percentage without denominator",
        _delete("indicators", 0, "denominator_label"),
        "Indicator 1 (vacancy_rate): a percentage needs a denominator_label",
    ),
    (
        "plausible maximum on a count",
        _add_indicator(plausible_maximum_percent=50),
        "Indicator 2 (headcount): plausible_maximum_percent applies only to percentages",
    ),
    (
        "plausible maximum above 100",
        _set("indicators", 0, "plausible_maximum_percent", 140),
        "Indicator 1 (vacancy_rate): plausible_maximum_percent must be from 1 to 100, not 140",
    ),
    (
        "special category not a boolean",
        _add_indicator(special_category="yes"),
        "Indicator 2 (headcount): special_category must be true or false, not 'yes'",
    ),
    (
        "duplicate indicator",
        _add_indicator(code="vacancy_rate"),
        "Indicator vacancy_rate appears twice (indicators 1 and 2)",
    ),
]


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "message"), [case[1:] for case in INVALID_FILES], ids=[case[0] for case in INVALID_FILES]
    )
    def test_invalid_file_names_the_entry_and_writes_nothing(self, db, write, change, message):
        """Each broken rule gives a message naming the entry, and nothing reaches the database."""
        doc = document()
        change(doc)

        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=write(doc))

        assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
        assert nothing_written()

    def test_bad_seventh_requirement_after_six_good_ones_writes_nothing(self, db, write):
        """All or nothing: six good requirements are not saved when the seventh is broken."""
        doc = document(requirements=7)
        doc["requirements"][6]["title"] = ""

        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=write(doc))

        assert error.value.problems == ["Requirement 7 (R7): title is empty"]
        assert nothing_written()

    def test_nul_character_is_refused(self, db, write):
        """A NUL byte (which PostgreSQL cannot store) is a named problem, not a database error."""
        doc = document()
        doc["requirements"][1]["summary"] = "Bad\x00text"

        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=write(doc))

        assert error.value.problems == ["Requirement 2 (R2): summary contains a NUL character"]
        assert nothing_written()

    def test_every_problem_is_reported_at_once(self, db, write):
        """One run lists every problem in the file, not just the first."""
        doc = document()
        doc["framework"]["status"] = "publishd"
        doc["requirements"][0]["title"] = ""
        doc["requirements"][1]["titel"] = "Typo"
        doc["rating_levels"][3]["value"] = 6

        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=write(doc))

        assert error.value.problems == [
            "Framework: unknown status 'publishd' (expected draft, published or retired)",
            "Rating levels must run 1, 2, 3… without gaps; this file has 1, 2, 3, 6",
            "Requirement 1 (R1): title is empty",
            "Requirement 2 (R2): unknown field 'titel' (did you mean 'title'?)",
        ]

    def test_missing_sections_are_named(self, db, tmp_path):
        """A file without a framework, requirements or rating levels says which are missing."""
        path = tmp_path / "empty.toml"
        path.write_text('[requirement]\ncode = "R1"\n', encoding="utf-8")

        with pytest.raises(FrameworkFileInvalid) as error:
            parse_framework_file(path=path)

        assert error.value.problems == [
            "Unknown section 'requirement' (did you mean 'requirements'?)",
            "The file has no [framework] section",
            "The file lists no rating levels: add [[rating_levels]] entries",
            "The file lists no requirements: add [[requirements]] entries",
        ]

    def test_single_rating_level_is_not_a_scale(self, db, write):
        """A rating scale needs at least two levels."""
        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=write(document(levels=1)))

        assert error.value.problems == ["A rating scale needs at least two levels"]

    def test_toml_syntax_error_gives_line(self, db, tmp_path):
        """A file that is not TOML says so, with the line of the mistake."""
        path = tmp_path / "broken.toml"
        path.write_text('[framework]\nslug = "x\n', encoding="utf-8")

        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=path)

        assert error.value.problems[0].startswith("broken.toml is not valid TOML:")
        assert "line 2" in error.value.problems[0]

    def test_missing_file(self, db, tmp_path):
        """A path with no file behind it is a clear error."""
        with pytest.raises(FrameworkFileInvalid) as error:
            load_framework(path=tmp_path / "nowhere.toml")

        assert error.value.problems == [f"There is no file at {tmp_path / 'nowhere.toml'}"]


class TestChangingAVersion:
    def test_unused_version_updates_in_place(self, db, write):
        """While no assessment uses a version, the file may change, add, remove and reorder entries."""
        first = load_framework(path=write(document(requirements=3)))
        kept = Requirement.objects.get(code="R1")
        doc = document(requirements=3)
        doc["requirements"][0]["order"], doc["requirements"][1]["order"] = 2, 1
        doc["requirements"][1]["title"] = "A better title"
        doc["requirements"][2] = {**doc["requirements"][2], "code": "R4", "title": "Brand new"}
        doc["rating_levels"].append({"value": 5, "label": "Exemplary", "meaning": "Beyond fully met."})

        result = load_framework(path=write(doc))

        assert result.outcome == LoadOutcome.UPDATED
        assert result.framework.pk == first.framework.pk
        assert list(result.framework.requirements.values_list("code", "order", "title")) == [
            ("R2", 1, "A better title"),
            ("R1", 2, "Requirement number 1"),
            ("R4", 3, "Brand new"),
        ]
        assert Requirement.objects.get(code="R1").pk == kept.pk
        assert result.framework.rating_levels.count() == 5
        assert set(result.changes) == {
            "requirement R3 removed",
            "requirement R1 (order)",
            "requirement R2 (order, title)",
            "requirement R4 added",
            "rating level 5 added",
        }

    def test_used_version_refuses_any_change(self, db, write):
        """A version an assessment uses cannot change; the file needs a new version."""
        framework = load_framework(path=write(document())).framework
        use_in_assessment(framework)
        doc = document()
        doc["requirements"][1]["title"] = "Changed after use"

        with pytest.raises(FrameworkVersionFrozen) as error:
            load_framework(path=write(doc))

        assert error.value.problems == [
            "Version 1 of test-framework is used by 1 assessment and cannot change; give the file a new version",
            "The file differs from the stored version in: requirement R2 (title)",
        ]
        assert Requirement.objects.get(code="R2").title == "Requirement number 2"

    def test_used_version_counts_its_assessments(self, db, write):
        """The refusal says how many assessments use the version."""
        framework = load_framework(path=write(document())).framework
        for label in ("2025/26", "2026/27", "2027/28"):
            use_in_assessment(framework, label)
        doc = document()
        doc["framework"]["title"] = "Renamed"

        with pytest.raises(FrameworkVersionFrozen) as error:
            load_framework(path=write(doc))

        assert error.value.problems[0].startswith("Version 1 of test-framework is used by 3 assessments")
        assert Framework.objects.get().title == "Test framework"

    def test_used_version_reloads_unchanged(self, db, write):
        """Loading the same file again is fine once assessments use the version."""
        path = write(document())
        use_in_assessment(load_framework(path=path).framework)

        assert load_framework(path=path).outcome == LoadOutcome.UNCHANGED

    def test_used_version_can_be_retired(self, db, write):
        """Retiring a used version changes none of its content, so it is allowed."""
        framework = load_framework(path=write(document())).framework
        use_in_assessment(framework)

        result = load_framework(path=write(document(status="retired")))

        assert result.outcome == LoadOutcome.UPDATED
        assert result.changes == ("status published → retired",)
        framework.refresh_from_db()
        assert framework.status == FrameworkStatus.RETIRED

    def test_used_version_cannot_go_back_to_draft(self, db, write):
        """A version with assessments cannot be hidden again as a draft."""
        framework = load_framework(path=write(document())).framework
        use_in_assessment(framework)

        with pytest.raises(FrameworkVersionFrozen) as error:
            load_framework(path=write(document(status="draft")))

        assert "cannot go back to draft" in error.value.problems[0]
        framework.refresh_from_db()
        assert framework.status == FrameworkStatus.PUBLISHED

    def test_new_version_loads_beside_a_used_one(self, db, write):
        """Changed wording goes into a new version, which becomes current; the used version stays as it was."""
        old = load_framework(path=write(document(version="1"))).framework
        use_in_assessment(old)
        doc = document(version="2")
        doc["requirements"][0]["title"] = "Official wording"

        new = load_framework(path=write(doc)).framework

        assert new.pk != old.pk
        assert old.requirements.get(code="R1").title == "Requirement number 1"
        assert new.requirements.get(code="R1").title == "Official wording"
        assert Framework.objects.current(slug="test-framework") == new

    def test_dry_run_saves_nothing(self, db, write):
        """A dry run checks the file and reports, but leaves the database alone."""
        result = load_framework(path=write(document()), dry_run=True)

        assert result.outcome == LoadOutcome.CREATED
        assert result.summary.startswith("Dry run, nothing saved. Created test-framework version 1")
        assert nothing_written()


class TestCommand:
    def test_command_reports_created_then_unchanged(self, db):
        """The command prints a one-line summary: created the first time, unchanged the second."""
        out = StringIO()
        call_command("load_framework", str(REAL_FILE), stdout=out)
        call_command("load_framework", str(REAL_FILE), stdout=out)

        assert out.getvalue().splitlines() == [
            "Created mh-social-work version 2026.1 (published): 8 requirements, 4 rating levels, 16 indicators.",
            "Unchanged mh-social-work version 2026.1 (published): 8 requirements, 4 rating levels, 16 indicators.",
        ]

    def test_command_reports_what_changed(self, db, write):
        """An update lists what changed."""
        call_command("load_framework", str(write(document())), stdout=StringIO())
        out = StringIO()

        call_command("load_framework", str(write(document(status="retired"))), stdout=out)

        assert out.getvalue().strip() == (
            "Updated test-framework version 1 (retired): 3 requirements, 4 rating levels, 1 indicator; "
            "changed: status published → retired."
        )

    def test_command_is_quiet_at_verbosity_zero(self, db):
        """Other commands (such as seed_demo) can load frameworks quietly."""
        out = StringIO()
        call_command("load_framework", str(REAL_FILE), stdout=out, verbosity=0)

        assert out.getvalue() == ""
        assert Framework.objects.count() == 1

    def test_command_writes_problems_to_stderr_and_fails(self, db, write):
        """An invalid file: each problem on stderr, a CommandError, nothing saved."""
        doc = document()
        doc["requirements"][2]["title"] = ""
        doc["framework"]["status"] = "publishd"
        err = StringIO()

        with pytest.raises(CommandError, match=r"Nothing was loaded from .*framework\.toml: 2 problems\."):
            call_command("load_framework", str(write(doc)), stderr=err)

        assert err.getvalue().splitlines() == [
            "- Framework: unknown status 'publishd' (expected draft, published or retired)",
            "- Requirement 3 (R3): title is empty",
        ]
        assert nothing_written()

    def test_command_exits_non_zero_on_refusal(self, transactional_db, write, capsys):
        """Run from the shell, a refused change exits with status 1 and says why."""
        # transactional_db: run_from_argv closes every database connection when it ends.
        framework = load_framework(path=write(document())).framework
        use_in_assessment(framework)
        doc = document()
        doc["rating_levels"][0]["meaning"] = "Reworded"

        with pytest.raises(SystemExit) as exit_status:
            LoadFrameworkCommand().run_from_argv(["manage.py", "load_framework", str(write(doc))])

        assert exit_status.value.code == 1
        stderr = capsys.readouterr().err
        assert "Version 1 of test-framework is used by 1 assessment and cannot change" in stderr
        assert "rating level 1 (meaning)" in stderr
        assert RatingLevel.objects.get(value=1).meaning == "What level 1 means."
