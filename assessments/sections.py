"""Rendered sections of the pages the working team open most, cached under keys that name their data.

The assessment overview and a requirement page are read far more often than anything on them
changes, so the part of each below the header is rendered once and kept. The key names
everything the section was made from, so a change to any of it is a new key and nothing stale
is ever shown (old entries are simply never asked for again):

- the assessment's row and its cycle's (fetched anyway). Its trust and framework change only
  through the trails below: an ODS import or an administrator (a framework version that
  assessments use cannot change at all);
- the assessment's audit trail: every change to a response, an assignment, an action, a
  workforce figure, the cover sheet, an evidence link, the state or an approval writes an
  ``AssessmentEvent`` in its own transaction (``services._event``);
- the trust's audit trail (``portal.AuditEvent``): its evidence library and its people;
- the platform's audit trail (``AuditEvent`` with no trust): ODS imports of trusts and ICBs, and
  anything an administrator changes in ``/admin/``, such as a person's name (``PortalAdminSite``);
- every approval (the peer medians are drawn from every trust's approvals);
- today's date (what is overdue);
- what the view adds: the person's role and anything else their page depends on.

Each trail is read as its count and its latest id (see ``_trail_sql`` for why both).

All of it comes with the query that fetches the assessment and checks access
(``assessments.access``, with ``trails``).

The sections live in the "sections" cache: each process's own memory (Django's local-memory
cache, with a bounded number of entries). Every entry is a copy named by the data it came from,
so app servers never disagree, and losing one costs only a render. Being in memory, it never
outlives the code that rendered it: a release restarts the processes. (A cache shared between
processes or releases would need the code's version in the key, as the comparison's has.)
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.db import connection
from django.db.models.expressions import RawSQL
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from assessments.models import Approval, Assessment, AssessmentEvent
from portal.admin_site import ADMIN_CHANGE
from portal.models import AuditEvent
from portal.ods import ODS_IMPORT

TIMEOUT = 60 * 60
# Rendered in place of the CSRF token, and swapped for the request's own token on the way out: the
# token is masked afresh for every response, so it cannot be part of what is cached. Random per
# process, so no text a person typed can contain it.
CSRF_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"


# The trails a section depends on, each read as its count and latest id: (name, model, column, condition).
TRAILS = (
    ("latest_event", AssessmentEvent, "assessment", "= %s"),  # the assessment's audit trail
    ("latest_trust_audit", AuditEvent, "trust", "= (SELECT trust_id FROM assessments_assessment WHERE id = %s)"),
    # The platform's: ODS imports and administrators' changes (not two-factor set-ups, which show nowhere).
    ("latest_platform_audit", AuditEvent, "trust", f"IS NULL AND action IN ('{ODS_IMPORT}', '{ADMIN_CHANGE}')"),
    ("latest_approval", Approval, None, ""),  # every approval
)
TRAIL_NAMES = [name for name, *_ in TRAILS]


@functools.cache
def _trail_sql() -> list[tuple[str, str, bool]]:
    """(name, SQL, whether it takes the assessment's id) for each trail.

    Each reads the trail's count as well as its latest id. Ids are handed out when a row is
    written, not when its transaction commits, so a change can commit with a lower id than one
    already read (two approvals at once, say): the latest id stays where it was, but the count
    moves. The trails only grow: nothing deletes audit entries or approvals. (Django's own admin
    log is not one of them, as its rows go with the person who made them.)
    """
    quote = connection.ops.quote_name
    statements = []
    for name, model, field, condition in TRAILS:
        where = f" WHERE {quote(model._meta.get_field(field).column)} {condition}" if field else ""
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        counted = f"CAST(COUNT(*) AS TEXT) || '-' || CAST(COALESCE(MAX({pk}), 0) AS TEXT)"
        statements.append((name, f"SELECT {counted} FROM {table}{where}", "%s" in condition))  # noqa: S608 (our names)
    return statements


def trails(assessment_pk: int) -> dict[str, RawSQL]:
    """Annotations for the query that fetches the assessment: each trail's count and latest id.

    Written as SQL rather than with the ORM's subqueries: compiling those costs about 2 ms of CPU
    per request, more than the rest of a cached page. Each reads an index or a small table.
    """
    return {
        name: RawSQL(sql, [assessment_pk] if takes_pk else [])  # noqa: S611 (our SQL; the id is a parameter)
        for name, sql, takes_pk in _trail_sql()
    }


def data_version(assessment: Assessment, *, trails_from=None) -> tuple:
    """What the sections of ``assessment``'s pages are made from, bar what the view adds (see the module's
    docstring). ``trails_from`` is the object fetched with ``trails``: the assessment unless given."""
    annotated = trails_from or assessment
    return (
        _row(assessment),
        _row(assessment.cycle),
        *(getattr(annotated, name) for name in TRAIL_NAMES),
        timezone.localdate(),
    )


def _row(instance) -> tuple:
    return tuple(getattr(instance, field.attname) for field in instance._meta.concrete_fields)


def rows(*instances) -> tuple:
    """The stored values of ``instances``, for a key: such as the response a page shows."""
    return tuple(_row(instance) for instance in instances)


def cached(name: str, key_parts: tuple, render: Callable[[], str]) -> SafeString:
    """The section ``name`` for ``key_parts``, from the cache or from ``render`` (then kept).

    ``render`` must return markup from our templates: what it returns is marked safe.
    """
    key = f"section:{name}:" + hashlib.sha256(repr(key_parts).encode()).hexdigest()
    store = caches["sections"]
    html = store.get(key)
    if html is None:
        html = str(render())
        store.set(key, html, TIMEOUT)
    return mark_safe(html)  # noqa: S308 (rendered by our templates, here or by an earlier request)


def with_csrf_token(request, html: str) -> SafeString:
    """``html`` (rendered by our templates with ``CSRF_PLACEHOLDER`` as the token) with this request's token."""
    return mark_safe(html.replace(CSRF_PLACEHOLDER, get_token(request)))  # noqa: S308 (our templates' output)


LOCAL_MEMORY = "django.core.cache.backends.locmem.LocMemCache"


@checks.register(checks.Tags.caches)
def check_section_caches(app_configs, **kwargs) -> list[checks.Error]:
    """The section caches must be each process's own: their keys do not name the code (a release
    restarts the processes) and their CSRF placeholder is this process's."""
    return [
        checks.Error(
            f'CACHES["{alias}"] must be {LOCAL_MEMORY}, each process\'s own memory.',
            hint="A shared cache would serve sections rendered by other releases' templates.",
            id="assessments.E001",
        )
        for alias in ("sections", "comparison")
        if settings.CACHES.get(alias, {}).get("BACKEND") != LOCAL_MEMORY
    ]
