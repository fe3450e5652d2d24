"""An ICS lead compares the trusts in their system, in a real browser, with axe on every page."""

import csv
import io
from pathlib import Path

from playwright.sync_api import expect

from assessments.models import AssessmentState
from tests.test_comparison import assess


def test_ics_lead_sorts_the_heatmap_drills_in_and_downloads_the_csv(
    page, sign_in, ics_lead, icb, trust, neighbour_trust, other_trust, cycle, previous_cycle, published_framework
):
    """From home to the heatmap, sorted by R3, into one trust's approved revision, then the CSV."""
    assess(trust, previous_cycle, [2, 2, 1, 2, 2, 3, 1, 2])
    assess(trust, cycle, [3, 3, 4, 3, 2, 3, 2, 2], figures={"vacancy_rate": (23, 240)})
    approved = assess(neighbour_trust, cycle, [2, 3, 2, 2, 3, 4, 2, 3])
    assess(other_trust, cycle, [1] * 8)
    sign_in(ics_lead)
    page.get_by_role("link", name=f"Compare trusts in {icb.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare trusts: 2026/27")
    expect(page.get_by_text("Lowest-rated requirement across the system: R7 Workforce planning")).to_be_visible()
    expect(page.get_by_text(other_trust.name)).to_have_count(0)
    page.check_accessibility()

    page.get_by_role("link", name="sort by R3 Professional supervision, lowest first").click()
    header = page.get_by_role("columnheader", name="R3", exact=False).first
    expect(header).to_have_attribute("aria-sort", "ascending")
    rows = page.locator("table.app-heatmap tbody th[scope=row] > a:first-child")
    expect(rows).to_have_text([neighbour_trust.name, trust.name])
    page.check_accessibility()
    header.get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="R3", exact=False).first).to_have_attribute("aria-sort", "descending")
    expect(rows).to_have_text([trust.name, neighbour_trust.name])

    page.get_by_role("link", name=f"R3, {neighbour_trust.name}", exact=False).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revision 1, as approved")
    expect(page.page).to_have_url(f"{page.base_url}/assessments/{approved.pk}/revisions/1/#requirement-R3")
    expect(page.get_by_role("heading", name="How your ratings compare")).to_have_count(0)
    page.check_accessibility()

    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV", exact=False).click()
    download = download_info.value
    assert download.suggested_filename == "QUE-2026-27-trust-comparison.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert [row["Trust"] for row in rows] == [trust.name, neighbour_trust.name]
    assert [row["R3 rating"] for row in rows] == ["4", "2"]


def test_ics_lead_sees_who_is_late_on_a_narrow_screen(
    page, sign_in, ics_lead, icb, trust, neighbour_trust, cycle, published_framework
):
    """At 400 pixels wide the status tracker shows who is overdue, and the page still passes axe."""
    assess(trust, cycle, [3] * 8)
    assess(neighbour_trust, cycle, [3] * 8, state=AssessmentState.AWAITING_SIGN_OFF)
    page.set_viewport_size({"width": 400, "height": 800})
    sign_in(ics_lead)
    page.visit(f"/icbs/{icb.ods_code}/compare/")
    status = page.locator("#status table")
    expect(status.get_by_role("row", name=neighbour_trust.name, exact=False)).to_contain_text("Awaiting sign-off")
    expect(status.get_by_role("row", name=neighbour_trust.name, exact=False)).to_contain_text("Overdue")
    expect(page.get_by_text("1 of 2 trusts has not had a 2026/27 assessment approved; 1 is overdue")).to_be_visible()
