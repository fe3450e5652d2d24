import datetime

from django.conf import settings
from django.contrib.sessions.backends import db
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseBadRequest
from django.utils import timezone


class RejectNulMiddleware:
    """Refuse requests whose address or query string holds a NUL character.

    PostgreSQL cannot store or compare text containing NUL, so such a value reaching a query
    would be a server error; no real link ever contains one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", "") or _has_nul(request.GET):
            return HttpResponseBadRequest("Bad request: the address contains a character that is not allowed.")
        return self.get_response(request)


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())


class IdleTimeoutSessionMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, keeping a session alive while it is used but saving it at most once a minute.

    A session ends ``SESSION_COOKIE_AGE`` (30 minutes) after it was last saved: the database
    keeps its expiry date, renewed by each save, and refuses it after that. Saving on every
    request (``SESSION_SAVE_EVERY_REQUEST``) kept the date current at the cost of a write per
    request. This saves a session that a request read only when its last save was
    ``REFRESH_INTERVAL`` or more ago, which the expiry date it was read with tells (no extra
    query, nothing extra stored), so a session left idle still ends between 29 and 30 minutes
    after its last request. A session the request changed is saved, as always.

    It replaces ``django.contrib.sessions.middleware.SessionMiddleware`` in ``MIDDLEWARE``, with
    ``SESSION_SAVE_EVERY_REQUEST`` off, and needs the database session store (the default).
    """

    REFRESH_INTERVAL = 60  # seconds

    def __init__(self, get_response):
        super().__init__(get_response)
        if not issubclass(self.SessionStore, db.SessionStore):
            raise ImproperlyConfigured(f"{type(self).__name__} needs the database session store (SESSION_ENGINE).")
        self.SessionStore = type("SessionStore", (_RememberingExpiry, self.SessionStore), {})

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.modified and self._due(session):
            session.modified = True  # so SessionMiddleware saves it, renewing its expiry date
        return super().process_response(request, response)

    def _due(self, session) -> bool:
        if session.is_empty():
            return False  # no session, or the cookie named one that has ended
        read_expiry = getattr(session, "read_expiry", None)
        if read_expiry is None or "_session_expiry" in session:
            return True  # when it was saved is not known (or it has an expiry of its own): save, as before
        age = settings.SESSION_COOKIE_AGE
        last_saved = read_expiry - datetime.timedelta(seconds=age)
        interval = min(self.REFRESH_INTERVAL, age // 2)
        return (timezone.now() - last_saved).total_seconds() >= interval


class _RememberingExpiry:
    """A database session store that keeps the expiry date it read the session with, as ``read_expiry``."""

    read_expiry = None

    def _get_session_from_db(self):
        stored = super()._get_session_from_db()
        self.read_expiry = stored.expire_date if stored is not None else None
        return stored
