"""The board report: what build_report computes, and the PDF read back with pypdf."""

import datetime
import io
import itertools
import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from pypdf import PdfReader

from assessments import report, services
from assessments.models import Approval, Assessment

HOSTILE_RATIONALE = "<img src='file:///etc/passwd'> url(http://example.com/x) <script>alert(1)</script>"

# ---- build_report on hand-made snapshots (no database) ---------------------------------------

SCALE = [
    {"value": 1, "label": "Not met", "meaning": "Nothing in place."},
    {"value": 2, "label": "Partially met", "meaning": "Significant gaps."},
    {"value": 3, "label": "Largely met", "meaning": "Minor gaps."},
    {"value": 4, "label": "Fully met", "meaning": "Embedded."},
]


def make_snapshot(ratings, *, cycle="2026/27", actions=(), indicators=(), approved_at="2026-05-12T10:30:00+00:00"):
    """A snapshot shaped like services.build_snapshot's, with ``ratings`` by requirement code."""
    labels = {level["value"]: level["label"] for level in SCALE}
    return {
        "schema": 1,
        "trust": {"ods_code": "RT1", "name": "Example Mental Health NHS Foundation Trust"},
        "cycle": {"label": cycle, "snapshot_date": f"{cycle[:4]}-03-31"},
        "framework": {"slug": "mh-social-work", "version": "2026.1", "title": "Organisational requirements"},
        "revision": 1,
        "submitted": {"by": "Leah Lead", "at": "2026-05-01T09:00:00+00:00"},
        "rating_levels": SCALE,
        "responses": [
            {
                "code": code,
                "title": f"Requirement {code}",
                "rating": {"value": value, "label": labels[value]} if value else None,
                "rationale": f"Why {code} is rated as it is." if value else "",
                "strengths": "",
                "gaps_and_risks": f"Gaps in {code}.",
                "assignee": None,
                "evidence": [],
            }
            for code, value in ratings.items()
        ],
        "indicators": list(indicators),
        "actions": list(actions),
        "cover_sheet": {
            "meeting": "Trust Board",
            "meeting_date": None,
            "agenda_item": "",
            "title": "",
            "author": "",
            "lead_executive": "",
            "purpose": "Assurance",
            "assurance_level": "Reasonable assurance",
            "strategic_objectives": "",
            "baf_risks": "",
            "recommendation": "",
            "key_messages": "",
            "ask_of_the_board": "",
        },
        "sign_off": {
            "name": "Esther Executive",
            "role": "Chief Nurse",
            "statement": "Approved.",
            "approved_at": approved_at,
        }
        if approved_at
        else None,
    }


def action(title, due, status):
    return {
        "title": title,
        "requirements": ["R1"],
        "owner": "Principal social worker",
        "due_date": due,
        "status": status,
        "progress_notes": "",
    }


def test_build_report_counts_requirements_at_each_level():
    """Counts per level run from the highest level down, with label and number, and the upper half is counted."""
    built = report.build_report(
        snapshot=make_snapshot({"R1": 4, "R2": 3, "R3": 3, "R4": 2, "R5": 1, "R6": 3}),
        previous_snapshot=None,
        draft=False,
    )
    assert [(level.text, level.count) for level in built.levels] == [
        ("4 – Fully met", 1),
        ("3 – Largely met", 3),
        ("2 – Partially met", 1),
        ("1 – Not met", 1),
    ]
    assert (built.total, built.rated, built.upper_count, built.lower_count) == (6, 6, 4, 2)
    assert [r.code for r in built.risks] == ["R4", "R5"]
    assert built.chart.description == (
        "Of 6 requirements: 4 – Fully met: 1 requirement; 3 – Largely met: 3 requirements; "
        "2 – Partially met: 1 requirement; 1 – Not met: 1 requirement."
    )


def test_build_report_counts_unrated_requirements_of_a_draft_separately():
    """A draft's unrated requirements are counted as 'Not rated yet', not at any level."""
    built = report.build_report(
        snapshot={
            **make_snapshot({"R1": 3, "R2": None}, approved_at=None),
            "generated_at": "2026-05-12T10:30:00+00:00",
        },
        previous_snapshot=None,
        draft=True,
    )
    assert [(level.text, level.count) for level in built.levels][-1] == ("Not rated yet", 1)
    assert built.not_rated == 1
    assert built.sign_off is None
    assert built.document_title.startswith("DRAFT – ")


def test_build_report_movement_since_previous_cycle():
    """Each requirement is compared by code with the previous approved cycle: improved, no change, declined, new."""
    previous = make_snapshot({"R1": 2, "R2": 3, "R3": 3, "R4": 2}, cycle="2025/26")
    built = report.build_report(
        snapshot=make_snapshot({"R1": 3, "R2": 3, "R3": 2, "R4": 4, "R5": 2}), previous_snapshot=previous, draft=False
    )
    assert [(r.code, r.direction_label) for r in built.requirements] == [
        ("R1", "Improved"),
        ("R2", "No change"),
        ("R3", "Declined"),
        ("R4", "Improved"),
        ("R5", "New"),
    ]
    movement = built.movement
    assert (movement.previous_cycle, movement.improved, movement.same, movement.declined, movement.new) == (
        "2025/26",
        2,
        1,
        1,
        1,
    )
    assert str(built.requirements[0].previous_rating) == "2 – Partially met"


def test_build_report_without_previous_approved_cycle():
    """With no earlier approved cycle the report says so rather than calling every requirement new."""
    built = report.build_report(snapshot=make_snapshot({"R1": 3}), previous_snapshot=None, draft=False)
    assert not built.movement.has_previous
    assert built.requirements[0].direction_label == "No previous rating"


def test_overdue_is_judged_at_the_approval_date():
    """An unfinished action due before the approval date is overdue; one due that day is not; complete stays so."""
    built = report.build_report(
        snapshot=make_snapshot(
            {"R1": 2},
            actions=[
                action("Late", "2026-05-11", "in_progress"),
                action("Due today", "2026-05-12", "not_started"),
                action("Done late", "2026-01-31", "complete"),
                action("Under way", "2026-09-30", "in_progress"),
            ],
            approved_at="2026-05-12T10:30:00+01:00",
        ),
        previous_snapshot=None,
        draft=False,
    )
    assert [(a.title, a.status, a.status_label) for a in built.actions] == [
        ("Late", "overdue", "Overdue"),
        ("Due today", "not_started", "Not started (not yet due)"),
        ("Done late", "complete", "Complete"),
        ("Under way", "in_progress", "In progress"),
    ]
    assert built.overdue_actions == 1
    assert built.action_summary == "4 actions: 1 complete, 1 in progress, 1 not started, 1 overdue"
    assert [a.title for a in built.requirements[0].actions] == ["Late", "Due today", "Done late", "Under way"]


def test_blank_cover_sheet_gets_sensible_defaults():
    """A blank cover sheet gets the standard title, the submitter as author, the approver as executive, an ask."""
    built = report.build_report(snapshot=make_snapshot({"R1": 3}), previous_snapshot=None, draft=False)
    assert built.cover.title == "Organisational requirements for social work: self-assessment 2026/27"
    assert built.cover.author == "Leah Lead"
    assert built.cover.lead_executive == "Esther Executive, Chief Nurse"
    assert built.cover.ask_of_the_board == (
        "The Trust Board is asked to note the self-assessment and the improvement plan, "
        "and confirm the proposed level of assurance."
    )
    assert built.cover.recommendation == built.cover.ask_of_the_board


def test_workforce_figures_are_rates_to_one_decimal_place_and_small_ethnicity_counts_are_suppressed():
    """Rates are numerator over denominator to 1 dp; special category counts from 1 to 7 are not shown."""

    def indicator(code, unit, numerator, denominator, special=False):
        return {
            "code": code,
            "label": code,
            "unit": unit,
            "special_category": special,
            "numerator": numerator,
            "denominator": denominator,
        }

    built = report.build_report(
        snapshot=make_snapshot(
            {"R1": 3},
            indicators=[
                indicator("headcount", "count", "212", None),
                indicator("wte", "wte", "196.40", None),
                indicator("vacancy_rate", "percentage", "23", "240"),
                indicator("bme_band7", "percentage", "5", "40", special=True),
                indicator("bme_all", "percentage", "30", "212", special=True),
                indicator("amhp_trainees", "count", None, None),
            ],
        ),
        previous_snapshot=None,
        draft=False,
    )
    assert [(f.code, f.text) for f in built.figures] == [
        ("headcount", "212"),
        ("wte", "196.4 WTE"),
        ("vacancy_rate", "9.6% (23 of 240)"),
        ("bme_band7", "Not shown (fewer than 8 people)"),
        ("bme_all", "14.2% (30 of 212)"),
    ]
    assert built.any_suppressed


@pytest.mark.parametrize(
    ("numerator", "denominator", "shown"),
    [("45", "50", None), ("43", "50", None), ("42", "50", "84.0% (42 of 50)"), ("50", "50", "100.0% (50 of 50)")],
)
def test_ethnicity_figure_is_suppressed_when_the_rest_of_the_group_is_small(numerator, denominator, shown):
    """45 of 50 says 5 are not from an ethnic minority: the published report suppresses it like a small count."""
    indicator = {
        "code": "bme_all",
        "label": "bme_all",
        "unit": "percentage",
        "special_category": True,
        "numerator": numerator,
        "denominator": denominator,
    }
    built = report.build_report(
        snapshot=make_snapshot({"R1": 3}, indicators=[indicator]), previous_snapshot=None, draft=False
    )
    (figure,) = built.figures
    assert figure.suppressed is (shown is None)
    assert figure.text == (shown or "Not shown (fewer than 8 people)")
    assert built.any_suppressed is (shown is None)


def test_build_report_is_pure_and_equal_for_the_same_snapshot():
    """Two builds of one snapshot give equal reports, with the sign-off's content hash."""
    snapshot = make_snapshot({"R1": 3, "R2": 2})
    first = report.build_report(snapshot=snapshot, previous_snapshot=None, draft=False)
    assert first == report.build_report(snapshot=snapshot, previous_snapshot=None, draft=False)
    assert first.sign_off.content_hash == services.content_hash(snapshot)
    assert first.generated_at == datetime.datetime(2026, 5, 12, 10, 30, tzinfo=datetime.UTC)


def test_snapshot_from_before_cover_sheets_still_builds():
    """A snapshot approved before cover sheets existed gets the default cover and no submitter."""
    snapshot = make_snapshot({"R1": 3})
    del snapshot["cover_sheet"], snapshot["submitted"]
    built = report.build_report(snapshot=snapshot, previous_snapshot=None, draft=False)
    assert built.cover.meeting == "Trust Board"
    assert built.cover.author == ""
    assert built.submitted_by is None


# ---- the URL fetcher --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://example.com/x.css",
        "https://example.com/static/reports/board-report.css",
        "https://report.invalid/etc/passwd",
        "https://report.invalid/static/../../../etc/passwd",
        "https://report.invalid/static/%2e%2e/%2e%2e/portal/settings.py",
        "https://report.invalid/static/reports/..%2f..%2fportal%2fsettings.py",
        "https://report.invalid/static/reports/board-report.css?v=1",
        "https://user@report.invalid/static/reports/board-report.css",
        "https://report.invalid/static/reports/missing.css",
        "https://report.invalid/static/scss/portal.scss",
        "data:text/css;base64,Ym9keXt9",
        "/static/reports/board-report.css",
    ],
)
def test_fetcher_refuses_anything_but_our_static_files(url):
    """file:, http(s) elsewhere, data:, relative and escaping paths, queries and unknown types are all refused."""
    with pytest.raises(report.RefusedURL):
        report.safe_url_fetcher(url)


def test_fetcher_serves_the_stylesheet_and_fonts_from_the_static_files():
    """The report's stylesheet and its Arimo font files are served, with their content types."""
    css = report.safe_url_fetcher("https://report.invalid/static/reports/board-report.css")
    assert css.content_type == "text/css"
    assert b"@page" in css.read()
    font = report.safe_url_fetcher("https://report.invalid/static/fonts/arimo-latin-400-normal.woff2")
    assert font.content_type == "font/woff2"
    assert font.read()[:4] == b"wOF2"


def test_renderer_fetches_nothing_outside_the_static_files_even_from_hostile_markup():
    """Were markup ever to reach WeasyPrint, a file:// or remote resource stops the render, unfetched."""
    fetcher = report.StaticFilesFetcher()
    hostile = '<html lang="en-GB"><head><link rel="stylesheet" href="file:///etc/passwd"></head><body>x</body></html>'
    with pytest.raises(report.ReportRenderError):
        report.write_pdf(hostile, url_fetcher=fetcher)
    assert fetcher.requested == ["file:///etc/passwd"]


# ---- the PDF, read back -----------------------------------------------------------------------


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def structure_elements(reader: PdfReader) -> list[dict]:
    """The tagged PDF's structure elements, in reading order."""
    found = []

    def walk(node):
        node = node.get_object()
        if not isinstance(node, dict):
            return
        if "/S" in node:
            found.append(node)
        kids = node.get("/K")
        kids = kids.get_object() if kids is not None else []
        for kid in kids if isinstance(kids, list) else [kids]:
            walk(kid)

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return found


def approve(assessment, lead, executive):
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I confirm this is a fair reflection of the trust's position.",
    )


@pytest.fixture
def approval(complete_assessment, lead, executive):
    """The complete assessment with a cover sheet, a figure and an action, approved."""
    assessment = complete_assessment
    services.save_cover_sheet(
        assessment=assessment,
        edited_by=lead,
        title="Social work in our trust: annual self-assessment",
        key_messages="Supervision has improved.",
    )
    requirement = assessment.framework.requirements.get(code="R3")
    services.save_action(
        assessment=assessment,
        edited_by=lead,
        title="Audit AMHP supervision quarterly",
        requirements=[requirement],
        owner="AMHP lead",
        due_date=datetime.date(2026, 9, 30),
        status="in_progress",
    )
    vacancy = assessment.framework.indicators.get(code="vacancy_rate")
    services.save_indicator_values(
        assessment=assessment, values={vacancy.pk: (Decimal("5"), Decimal("40"))}, edited_by=lead
    )
    return approve(assessment, lead, executive)


def test_approved_report_is_a_tagged_accessible_pdf_with_every_requirement(approval):
    """The approved PDF is tagged, en-GB, titled, headed in order, 'Page X of Y', with every requirement and rating."""
    built = report.report_for_approval(approval)
    pdf = report.render_pdf(built)
    reader = PdfReader(io.BytesIO(pdf))
    requirements = approval.snapshot["responses"]

    assert len(reader.pages) >= 8 + len(requirements)
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "en-GB"
    assert reader.metadata.title == (
        "Social work in our trust: annual self-assessment – Cambridgeshire and Peterborough NHS Foundation Trust"
    )
    elements = structure_elements(reader)
    levels = [int(str(e["/S"])[2:]) for e in elements if re.fullmatch(r"/H[1-6]", str(e["/S"]))]
    assert levels[0] == 1
    assert all(later <= earlier + 1 for earlier, later in itertools.pairwise(levels))
    figures = [e for e in elements if e["/S"] == "/Figure"]
    assert [str(figure["/Alt"]) for figure in figures] == [built.chart.title]

    pages = pdf_text(pdf)
    everything = normalised(" ".join(pages))
    assert "Cambridgeshire and Peterborough NHS Foundation Trust" in everything
    for response in requirements:
        assert f"{response['code']} {response['title']}" in everything
    assert "3 – Largely met" in everything
    assert "Supervision has improved." in everything
    assert "12.5% (5 of 40)" in everything
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert not any("DRAFT" in page for page in pages)


def test_each_requirement_starts_on_a_new_page(approval):
    """Each requirement has a bookmark to a page whose text begins with the requirement's heading."""
    reader = PdfReader(io.BytesIO(report.render_pdf(report.report_for_approval(approval))))
    bookmarks = {
        item.title: reader.get_destination_page_number(item) for item in reader.outline if not isinstance(item, list)
    }
    for response in approval.snapshot["responses"]:
        heading = f"{response['code']} {response['title']}"
        text = re.sub(r"-\s+", "-", normalised(reader.pages[bookmarks[heading]].extract_text()))
        assert text.startswith(heading), (heading, text[:100])


def test_two_renders_of_one_approval_are_byte_identical(approval):
    """The same approval renders to the same bytes: no creation time, random id or live data in the file."""
    first = report.render_pdf(report.report_for_approval(approval))
    second = report.render_pdf(report.report_for_approval(Approval.objects.get(pk=approval.pk)))
    assert first == second
    info = PdfReader(io.BytesIO(first)).metadata
    assert info["/CreationDate"].startswith(approval.approved_at.astimezone(datetime.UTC).strftime("D:%Y%m%d"))


def test_draft_carries_draft_mark_on_every_page(assessment):
    """Every page of a draft says DRAFT; a draft of an incomplete assessment renders too."""
    built = report.report_for_draft(assessment)
    assert built.draft
    assert built.sign_off is None
    pages = pdf_text(report.render_pdf(built))
    assert len(pages) >= 8 + built.total
    assert all("DRAFT – not approved" in page for page in pages)


def test_pdf_embeds_only_the_arimo_font(approval):
    """Text is set in Arimo from the declared font package, not in a system font."""
    reader = PdfReader(io.BytesIO(report.render_pdf(report.report_for_approval(approval))))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    assert fonts == {"Arimo", "Arimo-Bold"}


def test_hostile_text_renders_as_text_and_fetches_only_static_files(complete_assessment, lead, executive):
    """HTML, url() and file:// links in answers print as text; the renderer asks only for our static files."""
    assessment = complete_assessment
    response = assessment.responses.get(requirement__code="R1")
    services.save_response(
        response=response,
        expected_version=response.version,
        edited_by=lead,
        rating=response.rating,
        rationale=HOSTILE_RATIONALE,
        strengths="<a href='file:///etc/passwd'>file:///etc/passwd</a>",
        gaps_and_risks="<style>@import url(https://example.com/x.css);</style>",
        ready=True,
    )
    services.save_cover_sheet(
        assessment=assessment, edited_by=lead, recommendation="<link rel=stylesheet href='file:///etc/passwd'>"
    )
    built = report.report_for_approval(approve(assessment, lead, executive))

    html = report.report_html(built)
    assert "<img src='file:///etc/passwd'>" not in html
    assert "&lt;img src=&#x27;file:///etc/passwd&#x27;&gt;" in html
    for raw in ("<script>", "<style>@import", "<link rel=stylesheet href='file"):
        assert raw not in html

    fetcher = report.StaticFilesFetcher()
    text = normalised(" ".join(pdf_text(report.render_pdf(built, url_fetcher=fetcher))))
    assert fetcher.requested
    assert all(url.startswith("https://report.invalid/static/") for url in fetcher.requested), fetcher.requested
    assert "url(http://example.com/x)" in text
    assert "<script>alert(1)</script>" in text
    assert "<a href='file:///etc/passwd'>file:///etc/passwd</a>" in text


def test_report_for_approval_compares_with_the_previous_approved_cycle(
    trust, lead, executive, previous_cycle, cycle, published_framework
):
    """The previous cycle's latest approved revision gives last year's ratings and the direction of travel."""
    last_year = services.start_assessment(trust=trust, cycle=previous_cycle, started_by=lead, carry_forward=False)
    levels = {level.value: level for level in published_framework.rating_levels.all()}
    for response in last_year.responses.select_related("requirement"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=levels[2] if response.requirement.code == "R1" else levels[3],
            rationale="Last year's position.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )
    approve(last_year, lead, executive)
    this_year = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=True)
    for response in this_year.responses.select_related("requirement"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=levels[3],
            rationale="This year's position.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )

    draft = report.report_for_draft(Assessment.objects.get(pk=this_year.pk))
    assert draft.movement.previous_cycle == "2025/26"
    assert (draft.movement.improved, draft.movement.same, draft.movement.declined) == (1, draft.total - 1, 0)

    approved = report.report_for_approval(approve(this_year, lead, executive))
    assert approved.movement == draft.movement
    assert approved.requirements[0].direction_label == "Improved"
    definitions = {d.code: d for d in approved.indicator_definitions}
    assert definitions["vacancy_rate"].definition.startswith("Funded social work posts")
    assert definitions["vacancy_rate"].data_source


def test_preview_page_shows_the_same_sections_as_the_pdf(approval, client_for, lead):
    """The HTML preview includes the same section partials as the PDF: same sections, same requirements."""
    built = report.report_for_approval(approval)
    page = client_for(lead).get(reverse("approval-report-preview", args=[approval.assessment_id, approval.revision]))
    assert page.status_code == 200
    preview = page.content.decode()
    section_ids = set(re.findall(r'<(?:section|nav) class="report[^"]*" id="([^"]+)"', report.report_html(built)))
    assert {"cover", "contents", "summary", "glance", "risks", "plan", "appendix-glossary"} <= section_ids
    assert section_ids == set(re.findall(r'<(?:section|nav) class="report[^"]*" id="([^"]+)"', preview))
    assert preview.count("<h1") == 1


def test_pdf_template_sets_title_and_language():
    """The PDF template declares en-GB and the document title, and links only the static stylesheet."""
    built = report.build_report(snapshot=make_snapshot({"R1": 3}), previous_snapshot=None, draft=False)
    html = render_to_string("reports/board_report_pdf.html", {"report": built})
    assert '<html lang="en-GB">' in html
    assert f"<title>{built.document_title}</title>" in html
    assert re.findall(r'(?:href|src)="([^"#]+)"', html) == ["/static/reports/board-report.css"]
