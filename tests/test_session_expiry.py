"""The idle timeout: a session ends 30 minutes after its last request, and is saved at most once a minute.

``portal.middleware.IdleTimeoutSessionMiddleware`` renews the session's expiry only when it was
last saved a minute or more ago, instead of on every request (``SESSION_SAVE_EVERY_REQUEST``).
These tests put it in place of Django's ``SessionMiddleware`` and move the clock that the session
store and the middleware both read (``django.utils.timezone.now``).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.middleware import IdleTimeoutSessionMiddleware

MIDDLEWARE_PATH = "portal.middleware.IdleTimeoutSessionMiddleware"
DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
IDLE_TIMEOUT = timedelta(minutes=30)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def advance(self, **delta):
        self.now += timedelta(**delta)

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def idle_timeout(settings):
    """The portal's session middleware in place of Django's, as it is meant to be listed."""
    settings.MIDDLEWARE = [MIDDLEWARE_PATH if m == DJANGO_SESSION_MIDDLEWARE else m for m in settings.MIDDLEWARE]
    assert MIDDLEWARE_PATH in settings.MIDDLEWARE
    settings.SESSION_SAVE_EVERY_REQUEST = False
    settings.SESSION_COOKIE_AGE = int(IDLE_TIMEOUT.total_seconds())


@pytest.fixture
def signed_in(idle_timeout, clock, client_for, lead):
    client = client_for(lead)
    assert client.get(reverse("home")).status_code == 200
    return client


def is_signed_in(client) -> bool:
    response = client.get(reverse("home"))
    assert response.status_code in {200, 302}
    return response.status_code == 200


def session_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]


def expiry(client):
    return Session.objects.get(session_key=client.cookies[django_settings.SESSION_COOKIE_NAME].value).expire_date


def test_a_request_within_the_minute_does_not_write_the_session(signed_in, clock):
    expires = expiry(signed_in)
    clock.advance(seconds=50)
    with CaptureQueriesContext(connection) as queries:
        assert is_signed_in(signed_in)
    assert session_writes(queries.captured_queries) == []
    assert expiry(signed_in) == expires


def test_a_request_a_minute_later_renews_the_session(signed_in, clock):
    expires = expiry(signed_in)
    clock.advance(seconds=61)
    with CaptureQueriesContext(connection) as queries:
        assert is_signed_in(signed_in)
    assert len(session_writes(queries.captured_queries)) == 1
    assert expiry(signed_in) == expires + timedelta(seconds=61)


def test_an_idle_session_expires_after_30_minutes(signed_in, clock):
    clock.advance(seconds=40)
    assert is_signed_in(signed_in)  # within the minute: not saved, so the 30 minutes run from before it
    clock.advance(minutes=30)
    assert not is_signed_in(signed_in)


def test_the_idle_timeout_holds_to_within_a_minute(signed_in, clock):
    """Idle for 29 minutes after a request that did not save the session: still signed in."""
    clock.advance(seconds=59)
    assert is_signed_in(signed_in)
    clock.advance(minutes=29)
    assert is_signed_in(signed_in)


def test_an_active_session_does_not_expire(signed_in, clock):
    for _ in range(12):  # two hours, a request every ten minutes
        clock.advance(minutes=10)
        assert is_signed_in(signed_in)
    clock.advance(minutes=25)
    assert is_signed_in(signed_in)


def test_requests_every_few_seconds_write_the_session_once_a_minute(signed_in, clock):
    writes = []
    for _ in range(30):  # five minutes, a request every ten seconds
        clock.advance(seconds=10)
        with CaptureQueriesContext(connection) as queries:
            assert is_signed_in(signed_in)
        writes += session_writes(queries.captured_queries)
    assert len(writes) == 5


def test_signing_out_leaves_no_session(signed_in, clock):
    clock.advance(minutes=5)
    response = signed_in.post(reverse("sign-out"))
    assert response.status_code == 302
    assert Session.objects.count() == 0
    assert not is_signed_in(signed_in)


def test_signed_out_pages_start_no_session(idle_timeout, client, clock, db):
    assert client.get(reverse("accessibility")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    assert Session.objects.count() == 0
    assert django_settings.SESSION_COOKIE_NAME not in client.cookies


def test_a_cookie_for_an_ended_session_is_not_revived(signed_in, clock):
    Session.objects.all().delete()
    assert not is_signed_in(signed_in)
    assert Session.objects.count() == 0


def test_the_first_request_after_signing_in_does_not_write_the_session(idle_timeout, clock, client_for, lead):
    """Signing in saved it just now."""
    client = client_for(lead)
    with CaptureQueriesContext(connection) as queries:
        assert is_signed_in(client)
    assert session_writes(queries.captured_queries) == []


def test_a_request_that_changes_the_session_saves_it(signed_in, clock):
    """A change (here, signing out) is saved at once, however recently the session was saved."""
    clock.advance(seconds=5)
    with CaptureQueriesContext(connection) as queries:
        signed_in.post(reverse("sign-out"))
    assert session_writes(queries.captured_queries)


def test_the_settings_renew_sessions_on_activity(settings):
    """Either the portal's session middleware replaces Django's, or every request saves the session."""
    if MIDDLEWARE_PATH in settings.MIDDLEWARE:
        assert DJANGO_SESSION_MIDDLEWARE not in settings.MIDDLEWARE
        assert not settings.SESSION_SAVE_EVERY_REQUEST
    else:
        assert DJANGO_SESSION_MIDDLEWARE in settings.MIDDLEWARE
        assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_AGE <= 60 * 60
    assert IdleTimeoutSessionMiddleware.REFRESH_INTERVAL <= 60
