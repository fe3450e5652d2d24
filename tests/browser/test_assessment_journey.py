"""The self-assessment journey in a real browser: start, assign, answer with evidence, submit, return, approve.

Every page visited is checked with axe for WCAG 2.2 A and AA.
"""

import re

import pytest
from playwright.sync_api import expect

from assessments import services
from assessments.models import Approval, Assessment, AssessmentState
from tests.browser.conftest import Page, sign_in_on

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


@pytest.fixture
def open_as(browser, live_server):
    contexts = []

    def open_page(user) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = Page(context.new_page(), live_server.url)
        sign_in_on(page, user)
        expect(page.get_by_role("heading", level=1)).to_have_text("Your organisations")
        return page

    yield open_page
    for context in contexts:
        context.close()


def click_and_check(page, role, name):
    page.get_by_role(role, name=name).first.click()
    page.wait_for_load_state()
    page.check_accessibility()


def test_lead_contributor_and_executive_take_an_assessment_to_approval(
    open_as, lead, contributor, executive, trust, cycle, published_framework, tmp_path
):
    """The whole lifecycle, each person in their own browser, every page accessible."""
    # The lead starts a blank assessment and assigns R1 to the contributor.
    lead_page = open_as(lead)
    click_and_check(lead_page, "link", re.compile("^Self-assessments"))
    click_and_check(lead_page, "button", "Start an assessment")
    lead_page.get_by_label(re.compile("2026/27")).check()
    click_and_check(lead_page, "button", "Start the assessment")
    expect(lead_page.get_by_role("heading", level=1)).to_contain_text("2026/27")
    overview_url = lead_page.url
    click_and_check(lead_page, "link", re.compile("^R1: "))
    click_and_check(lead_page, "link", "Change who R1 is assigned to")
    lead_page.get_by_label(contributor.full_name).check()
    click_and_check(lead_page, "button", "Save")
    expect(lead_page.get_by_text(f"Assigned to {contributor.full_name}", exact=True)).to_be_visible()

    # The lead answers the other requirements (quicker through the services than seven forms).
    assessment = Assessment.objects.get(trust=trust, cycle=cycle)
    level = assessment.framework.rating_levels.get(value=3)
    for response in assessment.responses.exclude(requirement__code="R1").select_related("requirement"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=level,
            rationale=f"{response.requirement.code} is in place with minor gaps.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )

    # The contributor answers R1 with a new document as evidence.
    contributor_page = open_as(contributor)
    contributor_page.visit(overview_url.replace(contributor_page.base_url, ""))
    click_and_check(contributor_page, "link", re.compile("^R1: "))
    click_and_check(contributor_page, "link", "Add or remove evidence")
    click_and_check(contributor_page, "button", "Upload a new document")
    contributor_page.get_by_label("Title").fill("Annual social work report to the board 2026")
    contributor_page.get_by_label("Day").fill("12")
    contributor_page.get_by_label("Month").fill("3")
    contributor_page.get_by_label("Year").fill("2026")
    pdf = tmp_path / "board-report.pdf"
    pdf.write_bytes(MINIMAL_PDF)
    contributor_page.locator("input[type=file]").set_input_files(str(pdf))
    contributor_page.get_by_label("I confirm this document contains no patient-identifiable information").check()
    click_and_check(contributor_page, "button", re.compile("^Add"))
    expect(contributor_page.get_by_text("Annual social work report to the board 2026").first).to_be_visible()
    contributor_page.get_by_label("4 – Fully met").check()
    contributor_page.get_by_label("Rationale").fill("The Chief Nurse is accountable; the board heard our report.")
    contributor_page.get_by_label("Mark as ready").check()
    click_and_check(contributor_page, "button", "Save")

    # The lead submits; the executive returns it with a reason.
    lead_page.visit(overview_url.replace(lead_page.base_url, ""))
    expect(lead_page.get_by_text("8 of 8 requirements ready")).to_be_visible()
    click_and_check(lead_page, "button", "Submit for sign-off")
    click_and_check(lead_page, "button", "Submit for sign-off")

    executive_page = open_as(executive)
    executive_page.visit(overview_url.replace(executive_page.base_url, ""))
    click_and_check(executive_page, "button", "Sign off")
    click_and_check(executive_page, "button", "Return the assessment")
    click_and_check(executive_page, "button", "Return the assessment")
    expect(executive_page.get_by_text("Enter a reason for returning the assessment").first).to_be_visible()
    executive_page.get_by_label("Why are you returning the assessment?").fill("Add the AMHP supervision audit to R3.")
    click_and_check(executive_page, "button", "Return the assessment")
    assert Assessment.objects.get(pk=assessment.pk).state == AssessmentState.RETURNED

    # The lead sees the reason and submits again; the executive approves.
    lead_page.visit(overview_url.replace(lead_page.base_url, ""))
    expect(lead_page.get_by_text("Add the AMHP supervision audit to R3.")).to_be_visible()
    click_and_check(lead_page, "button", "Submit for sign-off")
    click_and_check(lead_page, "button", "Submit for sign-off")

    executive_page.visit(overview_url.replace(executive_page.base_url, ""))
    click_and_check(executive_page, "button", "Sign off")
    executive_page.get_by_label("I confirm this statement").check()
    click_and_check(executive_page, "button", "Approve the assessment")
    expect(executive_page.get_by_role("heading", level=1)).to_have_text("Revision 1, as approved")
    approval = Approval.objects.get(assessment=assessment)
    assert approval.approver_name == executive.full_name
    assert approval.snapshot["responses"][0]["evidence"][0]["title"] == "Annual social work report to the board 2026"
