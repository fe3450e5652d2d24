"""Sign-in throttling (django-axes): lockout after repeated failures, the same for every address.

Each test starts with no failed attempts recorded (axes keeps them in ``AccessAttempt`` rows,
which the test database rolls back). The cool-off is tested by moving the recorded attempt's
time back, which is all the passing of time changes for axes.
"""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from tests.factories import TEST_PASSWORD

UNKNOWN = "nobody@example.nhs.uk"
LOCKOUT_HEADING = "You have tried to sign in too many times"
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def sign_in(client, email, password, url_name="sign-in", **extra):
    return client.post(reverse(url_name), {"username": email, "password": password}, **extra)


def fail(client, email, times, **extra):
    return [sign_in(client, email, "not-the-password", **extra) for _ in range(times)]


def signed_in(client):
    return "_auth_user_id" in client.session


def move_attempts_back(by):
    AccessAttempt.objects.update(attempt_time=timezone.now() - by)


class TestLockout:
    def test_limit_reached_locks_out_even_the_right_password(self, client, lead, settings):
        """The failures before the limit show the form; from the limit on, the right password gets the lockout page."""
        responses = fail(client, lead.email, settings.AXES_FAILURE_LIMIT)
        assert [r.status_code for r in responses[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
        assert all("Enter a correct email address and password" in r.content.decode() for r in responses[:-1])
        assert responses[-1].status_code == 429

        response = sign_in(client, lead.email, TEST_PASSWORD)
        assert response.status_code == 429
        assert LOCKOUT_HEADING in response.content.decode()
        assert not signed_in(client)

    def test_unknown_address_gets_the_same_page_and_status(self, client, lead, settings):
        """A locked-out address that has no account looks exactly like one that has: no account enumeration."""
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT)
        fail(client, UNKNOWN, settings.AXES_FAILURE_LIMIT)
        known = sign_in(client, lead.email, TEST_PASSWORD)
        unknown = sign_in(client, UNKNOWN, TEST_PASSWORD)
        assert known.status_code == unknown.status_code == 429
        assert known.content == unknown.content
        assert lead.email not in known.content.decode()

    def test_capitals_do_not_buy_more_attempts(self, client, lead, settings):
        """Sign-in ignores the case of the address, so failures in any case count together."""
        variants = [lead.email.upper(), lead.email.title(), f" {lead.email} ", lead.email.capitalize(), lead.email]
        for variant in variants[: settings.AXES_FAILURE_LIMIT]:
            sign_in(client, variant, "not-the-password")
        assert sign_in(client, lead.email, TEST_PASSWORD).status_code == 429

    def test_changing_user_agent_does_not_reset_the_count(self, client, lead, settings):
        """Failures from one address and network address count together whatever browser they claim."""
        for n in range(settings.AXES_FAILURE_LIMIT):
            sign_in(client, lead.email, "not-the-password", HTTP_USER_AGENT=f"Browser/{n}")
        assert sign_in(client, lead.email, TEST_PASSWORD, HTTP_USER_AGENT="Browser/new").status_code == 429

    def test_lockout_is_per_network_address(self, client, lead, settings):
        """Someone guessing from elsewhere cannot lock the account's owner out of their own computer."""
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="198.51.100.7")
        assert sign_in(client, lead.email, TEST_PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429
        response = sign_in(client, lead.email, TEST_PASSWORD, REMOTE_ADDR="203.0.113.20")
        assert response.status_code == 302
        assert signed_in(client)

    def test_admin_sign_in_is_throttled_too(self, client, db, settings):
        """The admin site's own sign-in page is no way round the limit."""
        from tests.factories import UserFactory

        admin = UserFactory(email="admin@example.nhs.uk", is_staff=True, is_superuser=True)
        for _ in range(settings.AXES_FAILURE_LIMIT):
            sign_in(client, admin.email, "not-the-password", url_name="admin:login")
        response = sign_in(client, admin.email, TEST_PASSWORD, url_name="admin:login")
        assert response.status_code == 429
        assert not signed_in(client)


class TestCoolOff:
    def test_lockout_ends_after_the_cool_off(self, client, lead, settings):
        """Just inside the cool-off the lockout holds; once it has passed, the right password signs in."""
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT)

        move_attempts_back(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
        assert sign_in(client, lead.email, TEST_PASSWORD).status_code == 429

        move_attempts_back(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        response = sign_in(client, lead.email, TEST_PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == reverse("home")
        assert signed_in(client)

    def test_trying_during_the_lockout_starts_the_wait_again(self, client, lead, settings):
        """Another attempt while locked out counts from that attempt, as the page's 'wait, then try again' implies."""
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT)
        move_attempts_back(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
        fail(client, lead.email, 1)
        move_attempts_back(timedelta(minutes=2))
        assert sign_in(client, lead.email, TEST_PASSWORD).status_code == 429

    def test_default_limits(self, settings):
        """Five failures lock an address out for 15 minutes unless the environment says otherwise."""
        assert settings.AXES_FAILURE_LIMIT == 5
        assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
        assert settings.AXES_RESET_ON_SUCCESS


class TestResetOnSuccess:
    def test_signing_in_before_the_limit_clears_the_count(self, client, lead, settings):
        """A successful sign-in forgets earlier failures, so the next mistakes start from nothing."""
        below_limit = settings.AXES_FAILURE_LIMIT - 1
        assert all(r.status_code == 200 for r in fail(client, lead.email, below_limit))
        assert sign_in(client, lead.email, TEST_PASSWORD).status_code == 302
        assert not AccessAttempt.objects.exists()

        client.post(reverse("sign-out"))
        assert all(r.status_code == 200 for r in fail(client, lead.email, below_limit))
        assert sign_in(client, lead.email, TEST_PASSWORD).status_code == 302
        assert signed_in(client)


class TestBehindAProxy:
    @pytest.fixture
    def one_proxy(self, settings):
        settings.AXES_TRUSTED_PROXY_COUNT = 1

    def test_client_address_is_the_one_our_proxy_saw(self, client, lead, settings, one_proxy):
        """Behind a proxy, failures count by the address the proxy appended, not the proxy's own."""
        proxy = {"REMOTE_ADDR": "10.0.0.5"}
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
        assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
        locked = sign_in(client, lead.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
        assert locked.status_code == 429
        elsewhere = sign_in(client, lead.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
        assert elsewhere.status_code == 302

    def test_forged_forwarded_entries_are_ignored(self, client, lead, settings, one_proxy):
        """What a client writes into X-Forwarded-For itself does not change the address counted."""
        for n in range(settings.AXES_FAILURE_LIMIT):
            sign_in(client, lead.email, "not-the-password", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7")
        response = sign_in(client, lead.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7")
        assert response.status_code == 429

    def test_a_value_that_is_not_an_address_falls_back_to_the_connection(self, client, lead, one_proxy):
        """A malformed header is recorded as the connecting address, never stored as given."""
        sign_in(client, lead.email, "not-the-password", HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="10.0.0.5")
        assert AccessAttempt.objects.get().ip_address == "10.0.0.5"


class TestLockoutPage:
    def test_page_is_nhs_styled_and_passes_the_content_security_policy(self, client, lead, settings):
        """The lockout page uses the NHS.UK layout, says how long to wait, and has a CSP and no inline script."""
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT)
        response = sign_in(client, lead.email, TEST_PASSWORD)
        html = response.content.decode()

        assert response["Content-Type"].startswith("text/html")
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert not INLINE_SCRIPT.findall(html)
        assert not INLINE_HANDLER.findall(html)

        assert f"<title>{LOCKOUT_HEADING} – " in html
        assert 'class="nhsuk-header' in html
        assert 'class="nhsuk-footer' in html
        assert "css/portal.css" in html
        assert "Wait 15 minutes, then try again." in html
        assert f'href="{reverse("password_reset")}"' in html
        assert f'href="{reverse("sign-in")}"' in html

    def test_wait_follows_the_configured_cool_off(self, client, lead, settings):
        """The wait shown is the cool-off actually configured."""
        settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
        fail(client, lead.email, settings.AXES_FAILURE_LIMIT)
        assert "Wait 1 minute, then try again." in sign_in(client, lead.email, TEST_PASSWORD).content.decode()
