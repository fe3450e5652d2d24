"""The system summary pack for the ICB People Board: the PDF read back with pypdf, and who may download it.

The ICB (``icb``) has ``trust``, approved with workforce figures that include a small ethnicity
count, and ``neighbour_trust``, whose draft is rated 4 – Fully met throughout and carries figures
of its own: none of the draft may reach the pack. ``other_trust`` is approved in another ICB.
"""

import datetime
import io
import itertools
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from assessments import report, summary_pack
from assessments.models import AssessmentState, Cycle
from requirements.models import Framework, FrameworkStatus, RatingLevel, Requirement
from tests.factories import ICBMembershipFactory, TrustFactory, TrustICBMembershipFactory, UserFactory
from tests.test_board_report_pdf import structure_elements
from tests.test_comparison import assess

APPROVED_RATINGS = [1, 2, 3, 1, 2, 3, 1, 2]  # never 4: the draft's distinctive rating
HOSTILE_NAME = "<img src='file:///etc/passwd'> Kitchen & Sons NHS Trust"


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pack_url(icb, cycle=None):
    url = reverse("comparison-summary-pack", args=[icb.ods_code])
    return f"{url}?cycle={cycle}" if cycle else url


@pytest.fixture
def framework(published_framework):
    return published_framework


@pytest.fixture
def data(icb, trust, neighbour_trust, other_trust, cycle, framework):
    """``trust`` approved with a suppressible count; ``neighbour_trust`` a draft rated 4 throughout."""
    approved = assess(
        trust,
        cycle,
        APPROVED_RATINGS,
        figures={"vacancy_rate": (10, 40), "headcount": (120, None), "ethnic_minority_share": (5, 110)},
    )
    draft = assess(neighbour_trust, cycle, [4] * 8, figures={"vacancy_rate": (33, 99)}, state=AssessmentState.DRAFT)
    assess(other_trust, cycle, [4] * 8)
    return approved, draft


@pytest.fixture
def rendered(icb, data):
    """The pack for the ICB and 2026/27, with the fetcher it was rendered through."""
    fetcher = report.StaticFilesFetcher()
    pdf = summary_pack.render_summary_pack(icb=icb, cycle="2026/27", url_fetcher=fetcher)
    reader = PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    return pdf, reader, pages, fetcher


# ---- the PDF, read back ---------------------------------------------------------------------------


def test_pack_is_a_tagged_accessible_pdf(rendered, icb):
    """Tagged (/MarkInfo, /StructTreeRoot), en-GB, titled, headings in order, every chart and table described."""
    _, reader, _, _ = rendered
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "en-GB"
    assert reader.metadata.title == f"System summary for the People Board: {icb.name}, 2026/27"

    elements = structure_elements(reader)
    levels = [int(str(e["/S"])[2:]) for e in elements if re.fullmatch(r"/H[1-6]", str(e["/S"]))]
    assert levels[0] == 1
    assert all(later <= earlier + 1 for earlier, later in itertools.pairwise(levels))
    figures = [e for e in elements if e["/S"] == "/Figure"]
    assert len(figures) == 1 + 8  # the distribution, and a trend for each requirement
    assert all(str(figure.get("/Alt", "")).strip() for figure in figures)
    # WeasyPrint tags each page's part of a table as a table: the first part has the caption,
    # the parts after it start with the repeated header row.
    parts = [[str(kid.get_object()["/S"]) for kid in e["/K"]] for e in elements if e["/S"] == "/Table"]
    assert all(kinds[0] in {"/Caption", "/THead"} for kinds in parts), parts
    html = summary_pack.summary_pack_html(summary_pack.build_summary_pack(icb=icb, cycle="2026/27"))
    assert sum(kinds[0] == "/Caption" for kinds in parts) == html.count("<table") == html.count("<caption")
    assert len(re.findall(r'<th scope="(?:col|row)"', html)) == len(re.findall(r"<th[\s>]", html))


def test_pack_names_the_icb_every_trust_and_requirement(rendered, icb, trust, neighbour_trust, other_trust):
    """Cover, running header, 'Page X of Y'; every trust of the ICB and requirement code; no other ICB's trust."""
    _, _, pages, _ = rendered
    everything = normalised(" ".join(pages))
    first = normalised(pages[0])
    assert "System summary for the People Board" in first
    assert "Approved self-assessments only" in first
    assert icb.name in first
    assert f"Page 1 of {len(pages)}" in first
    assert all(icb.name in normalised(page) for page in pages)
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert trust.name in everything
    assert neighbour_trust.name in everything
    assert other_trust.name not in everything
    for code in (f"R{n}" for n in range(1, 9)):
        assert code in everything
    assert "3 – Largely met" in everything


def test_ratings_table_is_on_a_landscape_page_with_text_in_every_cell(rendered, neighbour_trust):
    """The heatmap is on an A4 landscape page; approved cells read as number and label, the draft's 'Not approved'."""
    _, reader, pages, _ = rendered
    index = next(i for i, page in enumerate(pages) if "Ratings by trust and requirement, 2026/27" in page)
    box = reader.pages[index].mediabox
    assert float(box.width) > float(box.height)
    heatmap = normalised(pages[index])
    assert "1 – Not met" in heatmap
    draft_row = heatmap.split(neighbour_trust.name)[1].split("System median")[0]
    assert draft_row.count("Not approved") == 8
    assert "Fully met" not in draft_row
    assert "National median" in heatmap


def test_a_drafts_ratings_and_figures_never_appear(rendered, neighbour_trust):
    """The draft's 4 – Fully met ratings count nowhere, its figures are not shown, its row says Draft."""
    _, reader, pages, _ = rendered
    everything = normalised(" ".join(pages))
    alternatives = " ".join(str(e.get("/Alt", "")) for e in structure_elements(reader) if e["/S"] == "/Figure")
    assert "Fully met" not in alternatives
    assert "Of 2 trusts" in alternatives
    distribution = normalised(next(page for page in pages if "Trusts at each rating level by requirement" in page))
    # Counts at 1, 2, 3 and 4, then not approved: the draft is counted as not approved, never at 4.
    assert "R1 Board-level leadership for social work 1 0 0 0 1" in distribution
    assert "33 of 99" not in everything
    status = next(normalised(page) for page in pages if "Self-assessment status by trust" in page)
    assert "Draft" in status.split(neighbour_trust.name)[1]


def test_small_counts_are_suppressed_as_a_star(rendered):
    """The ethnicity count of 5 shows as '*' with the footnote; neither it, its rate nor its total appears."""
    _, _, pages, _ = rendered
    figures = normalised(next(page for page in pages if "Workforce figures by trust" in page))
    ethnicity = figures.split("Social workers from ethnic minority groups")[1]
    assert ethnicity.split()[:2] == ["*", "*"]  # the trust, and the total across trusts
    assert "* Fewer than 8, not shown" in figures
    assert "5 of 110" not in figures
    assert "4.5%" not in figures
    assert "25%" in figures
    assert "10 of 40" in figures


def test_fetcher_is_asked_only_for_our_static_files(rendered):
    """The renderer fetches the pack's stylesheets and Arimo fonts through the static files fetcher, nothing else."""
    _, _, _, fetcher = rendered
    assert fetcher.requested
    assert all(url.startswith("https://report.invalid/static/") for url in fetcher.requested), fetcher.requested
    assert "https://report.invalid/static/reports/summary-pack.css" in fetcher.requested
    assert "https://report.invalid/static/reports/board-report.css" in fetcher.requested


def test_hostile_trust_name_is_escaped_and_fetches_nothing(icb, cycle, framework):
    """A trust name written as markup is printed as text; the renderer still asks only for our static files."""
    hostile = TrustFactory(ods_code="RZZ", name=HOSTILE_NAME, region=icb.region)
    TrustICBMembershipFactory(trust=hostile, icb=icb)
    assess(hostile, cycle, [3] * 8)
    pack = summary_pack.build_summary_pack(icb=icb, cycle=cycle)
    html = summary_pack.summary_pack_html(pack)
    assert "<img src='file:///etc/passwd'>" not in html
    assert "&lt;img src=&#x27;file:///etc/passwd&#x27;&gt; Kitchen &amp; Sons NHS Trust" in html
    fetcher = report.StaticFilesFetcher()
    pdf = summary_pack.render_pack(pack, url_fetcher=fetcher)
    assert all(url.startswith("https://report.invalid/static/") for url in fetcher.requested), fetcher.requested
    text = normalised(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    assert "Kitchen & Sons NHS Trust" in text


def test_trusts_are_in_name_order_and_never_ranked(icb, trust, neighbour_trust, cycle, framework):
    """Rows follow trust names whatever the ratings; the pack says it is not a league table."""
    assess(trust, cycle, [1] * 8)
    assess(neighbour_trust, cycle, [4] * 8)
    pack = summary_pack.build_summary_pack(icb=icb, cycle=cycle)
    assert [row.name for row in pack.comparison.rows] == sorted([trust.name, neighbour_trust.name])
    html = summary_pack.summary_pack_html(pack)
    heatmap = html.split("Ratings by trust and requirement, 2026/27")[1]
    assert heatmap.index(trust.name) < heatmap.index(neighbour_trust.name)
    assert "this is not a league table" in html
    assert "rank" not in html.lower().replace("not ranked", "")


def test_overdue_trusts_are_marked_in_words(icb, trust, neighbour_trust, framework):
    """After the deadline, a trust with nothing approved says 'Overdue' in the status table and the ratings table."""
    past = Cycle.objects.create(
        label="2023/24", snapshot_date=datetime.date(2023, 3, 31), submission_deadline=datetime.date(2023, 6, 30)
    )
    assess(trust, past, APPROVED_RATINGS)
    assess(neighbour_trust, past, [4] * 8, state=AssessmentState.AWAITING_SIGN_OFF)
    html = summary_pack.summary_pack_html(summary_pack.build_summary_pack(icb=icb, cycle=past))
    status = html.split("Self-assessment status by trust, 2023/24")[1].split("</table>")[0]
    neighbour = status.split(neighbour_trust.name)[1].split("</tr>")[0]
    assert "Awaiting sign-off" in neighbour
    assert "Overdue" in neighbour
    assert "Overdue" not in status.split(trust.name)[1].split("</tr>")[0]
    heatmap = html.split("Ratings by trust and requirement, 2023/24")[1].split("</table>")[0]
    assert "Awaiting sign-off, overdue" in heatmap


def test_framework_version_change_is_marked_on_the_trends(icb, trust, cycle, previous_cycle, framework):
    """A cycle assessed against a new framework version is marked on each trend chart, in the table and in words."""
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
    html = summary_pack.summary_pack_html(summary_pack.build_summary_pack(icb=icb, cycle=cycle))
    trends = html.split('id="trends-title"')[1].split('id="workforce-title"')[0]
    assert "The framework version changed." in trends
    assert trends.count(">new framework version</text>") == 8
    assert trends.count("2027.1 <strong") == 8
    assert "(new version)" in trends


# ---- who may download it -----------------------------------------------------------------------------


def test_ics_lead_downloads_the_pack_as_a_pdf_attachment(client_for, ics_lead, icb, data):
    """The ICB's ICS lead gets the PDF as an attachment named after the ICB and cycle."""
    response = client_for(ics_lead).get(pack_url(icb, "2026/27"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="QUE-2026-27-system-summary-pack.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert response.content.startswith(b"%PDF-")


def test_ics_lead_of_another_icb_and_outsider_are_not_found(client_for, icb, other_icb, outsider, data):
    """An ICS lead of another ICB, and a trust lead outside the ICB, get 404."""
    other_lead = ICBMembershipFactory(icb=other_icb, user=UserFactory(email="ics.other@example.nhs.uk")).user
    assert client_for(other_lead).get(pack_url(icb)).status_code == 404
    assert client_for(outsider).get(pack_url(icb)).status_code == 404


def test_trust_member_without_ics_role_is_forbidden(client_for, lead, icb, data):
    """A member of a trust in the ICB, without the ICS role, gets 403."""
    assert client_for(lead).get(pack_url(icb)).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, icb):
    """Signing in is required."""
    response = client.get(pack_url(icb))
    assert response.status_code == 302
    assert response.url.startswith(reverse("sign-in"))


def test_only_get_and_head(client_for, ics_lead, icb):
    """POST is 405."""
    assert client_for(ics_lead).post(pack_url(icb)).status_code == 405


def test_unknown_cycle_is_not_found(client_for, ics_lead, icb, data):
    """A cycle label that is no cycle is 404, as for the other exports."""
    assert client_for(ics_lead).get(pack_url(icb, "1999/00")).status_code == 404


def test_comparison_page_links_to_the_pack(client_for, ics_lead, icb, data):
    """The comparison page offers the pack beside the CSV and Excel downloads."""
    content = client_for(ics_lead).get(reverse("comparison", args=[icb.ods_code])).content.decode()
    assert f"{pack_url(icb)}?cycle=2026/27" in content
    assert "Download the system summary pack (PDF)" in content
