"""Playwright driving the system's Chromium against a live server, with an axe-core check helper.

The browser is never downloaded: the test command installs Debian's chromium and we point
Playwright at it. axe-core comes from node_modules (npm) and is evaluated through the
DevTools protocol, so the portal's strict Content-Security-Policy stays switched on and
any CSP violation a page causes fails the test.
"""

import json
import os
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread; Django's ORM in the test body is
# still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
AXE_SOURCE = Path(settings.BASE_DIR, "node_modules", "axe-core", "axe.min.js")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run the suite with `make test`, which installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


class Page:
    """A Playwright page plus the checks every visited page gets."""

    def __init__(self, page, base_url):
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"Console error: {message.text}")

    def __getattr__(self, name):
        return getattr(self.page, name)

    def visit(self, path):
        response = self.page.goto(self.base_url + path)
        self.check_accessibility()
        return response

    def check_accessibility(self):
        """Run axe-core for WCAG 2.2 A and AA on the page as it is now; fail on any violation."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE_SOURCE.read_text())
        results = self.page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
        violations = [
            {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in nodes][:5]}
            for v in results["violations"]
            if (nodes := [n for n in v["nodes"] if not _known_upstream_exception(v["id"], n)])
        ]
        assert not violations, f"axe found problems on {self.page.url}:\n{json.dumps(violations, indent=2)}"
        assert not self.problems, f"Problems on {self.page.url}: {self.problems}"


def _known_upstream_exception(rule: str, node: dict) -> bool:
    """nhsuk-frontend's enhanced file upload button, and nothing else.

    Its script names the button "label, status, Choose file" on purpose (ported from GOV.UK
    Frontend, which chose that order for screen reader users), so axe's experimental
    label-content-name-mismatch rule flags it. The native input beneath is labelled correctly.
    """
    return rule == "label-content-name-mismatch" and "nhsuk-file-upload__drop-button" in node.get("html", "")


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    wrapped = Page(context.new_page(), live_server.url)
    yield wrapped
    problems = list(wrapped.problems)
    context.close()
    assert not problems, problems


def sign_in_on(page, user):
    """Both steps of signing in, as the person does them: password, then the code their app shows."""
    from tests.factories import TEST_PASSWORD, confirmed_authenticator, current_code

    device = confirmed_authenticator(user)
    # Tests sign the same person in more than once within one 30-second code; django-otp
    # (rightly) refuses a code twice, so forget the last one used.
    type(device).objects.filter(pk=device.pk).update(last_t=-1)
    page.visit("/sign-in/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in/security-code/" in url)
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: "/sign-in/" not in url)
    return page


@pytest.fixture
def sign_in(page):
    return lambda user: sign_in_on(page, user)
