"""Journeys people make in a real browser, each page checked with axe for WCAG 2.2 A and AA."""

import base64
import re

from django.core import mail
from django_otp.oath import TOTP
from playwright.sync_api import expect


def test_person_signs_in_and_sees_their_organisations(page, sign_in, lead, trust):
    """A lead signs in with e-mail, password and security code, and lands on their home page."""
    sign_in(lead)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organisations")
    expect(page.get_by_role("heading", name=trust.name)).to_be_visible()
    page.check_accessibility()


def test_wrong_password_shows_error_summary(page, lead):
    """A failed sign-in shows the NHS.UK error summary and keeps the e-mail typed."""
    page.visit("/sign-in/")
    page.get_by_label("Email address").fill(lead.email)
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(lead.email)
    expect(page.page).to_have_title(re.compile("^Error: "))
    page.check_accessibility()


def test_lead_invites_a_colleague_who_joins(page, sign_in, lead, trust, browser, live_server):
    """The lead invites a colleague; the colleague opens the e-mailed link, creates an account and joins."""
    sign_in(lead)
    page.get_by_role("link", name=f"Manage people at {trust.name}").click()
    page.check_accessibility()
    page.get_by_role("button", name="Invite a colleague").click()
    page.check_accessibility()

    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Select a role").first).to_be_visible()
    page.check_accessibility()

    page.get_by_label("Full name").fill("Nia Jones")
    page.get_by_label("Work email address").fill("nia.jones@example.nhs.uk")
    page.get_by_label("Contributor").check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to nia.jones@example.nhs.uk")).to_be_visible()
    expect(page.get_by_role("cell", name="Contributor")).to_be_visible()
    page.check_accessibility()

    link = re.search(r"(/invitations/\S+/)", mail.outbox[-1].body).group(1)
    context = browser.new_context()
    from tests.browser.conftest import Page

    newcomer = Page(context.new_page(), live_server.url)
    newcomer.visit(link)
    newcomer.get_by_label("Create a password").fill("a-long-pass-phrase")
    newcomer.get_by_label("Confirm password").fill("a-long-pass-phrase")
    newcomer.get_by_role("button", name="Create account and join").click()

    # First sign-in: they set up an authenticator app before anything else.
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    expect(newcomer.get_by_role("img", name="QR code for setting up your authenticator app")).to_be_visible()
    newcomer.check_accessibility()
    newcomer.get_by_role("button", name="Continue").click()
    expect(newcomer.get_by_text("Enter the 6-digit security code from your authenticator app").first).to_be_visible()
    newcomer.check_accessibility()
    newcomer.get_by_text("I cannot scan the QR code").click()
    key = newcomer.locator("#setup-key").inner_text()
    newcomer.get_by_label("Security code").fill(f"{TOTP(base64.b32decode(key.replace(' ', ''))).token():06d}")
    newcomer.get_by_role("button", name="Continue").click()
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    expect(newcomer.locator(".app-recovery-codes li")).to_have_count(10)
    newcomer.check_accessibility()
    newcomer.get_by_role("button", name="I have saved my recovery codes").click()
    expect(newcomer.get_by_role("heading", name=trust.name)).to_be_visible()
    expect(newcomer.get_by_text("Contributor", exact=True)).to_be_visible()
    newcomer.check_accessibility()
    context.close()


def test_anyone_reads_the_framework(page, published_framework):
    """The framework, its requirements and the rating scale are public."""
    page.visit("/framework/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(published_framework.title)
    for requirement in published_framework.requirements.all():
        expect(page.get_by_role("heading", name=re.compile(re.escape(requirement.title)))).to_be_visible()
    for level in published_framework.rating_levels.all():
        expect(page.get_by_role("rowheader", name=str(level))).to_be_visible()


def test_public_pages_are_accessible(page, db):
    """The footer pages and sign-in are readable without signing in and pass axe."""
    for path in ["/accessibility/", "/privacy/", "/cookies/", "/contact/", "/password-reset/"]:
        response = page.visit(path)
        assert response.status == 200, path


def test_security_code_step_and_account_security_are_accessible(page, lead, trust):
    """The code page (with its error), then Account security, pass axe."""
    from tests.factories import TEST_PASSWORD, confirmed_authenticator, current_code

    device = confirmed_authenticator(lead)
    page.visit("/sign-in/")
    page.get_by_label("Email address").fill(lead.email)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    page.check_accessibility()
    page.get_by_label("Security code").fill("12")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("link", name=re.compile("Security code must be 6 numbers"))).to_be_visible()
    page.check_accessibility()
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organisations")
    page.get_by_role("link", name=re.compile("account security")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account security")
    page.check_accessibility()


def test_signing_in_with_the_keyboard_alone(page, lead):
    """Tab, type and Enter only: both steps of signing in, focus never lost, and axe passes at each step."""
    from tests.factories import TEST_PASSWORD, confirmed_authenticator, current_code

    device = confirmed_authenticator(lead)
    page.visit("/sign-in/")
    keyboard = page.page.keyboard
    for _ in range(30):  # past the skip link, the header and the navigation
        keyboard.press("Tab")
        if page.page.evaluate("document.activeElement.id") == "id_username":
            break
    assert page.page.evaluate("document.activeElement.id") == "id_username"
    keyboard.type(lead.email)
    keyboard.press("Tab")
    keyboard.type(TEST_PASSWORD)
    keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    page.check_accessibility()
    for _ in range(30):
        keyboard.press("Tab")
        if page.page.evaluate("document.activeElement.id") == "id_code":
            break
    keyboard.type(current_code(device))
    keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organisations")
