"""The ICS comparison page and its CSV and Excel exports, for ICS leads only.

An ICS lead may open the ICBs they lead; any other ICB is 404, except that a member of a trust
in the ICB gets 403 (they know the ICB exists, but comparing trusts is not theirs to do).
What the page shows is built by ``assessments.comparison`` from approved revisions alone.

The page's cycle chooser and the sections below it hold only the comparison (nothing about the
person reading it), so they are rendered once and cached for every ICS lead of the ICB, under a key
that names the data they were made from (``comparison_version``) and the code that made them: see
``_rendered``.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from pathlib import Path
from urllib.parse import urlencode

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.core.cache import cache, caches
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from assessments import comparison as selectors
from assessments import exports
from assessments.models import Cycle
from portal.models import ICB, ICBRole, TrustICBMembership
from portal.prepared import Prepared

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# The two queries every view of the page runs, compiled once per process (see portal.prepared).
LED_ICBS = Prepared(
    lambda user_id: ICB.objects.filter(memberships__user_id=user_id, memberships__role=ICBRole.ICS_LEAD).order_by(
        "name"
    )
)
CYCLES = Prepared(lambda: Cycle.objects.order_by("-label"))


def access_icb_as_ics_lead(user, ods_code: str) -> tuple[ICB, list[ICB]]:
    """The ICB, if the user is its ICS lead, with every ICB they lead (for the chooser).

    A member of a trust currently in the ICB gets 403; anyone else gets 404.
    """
    icbs = list(LED_ICBS.objects(user_id=user.pk))
    for icb in icbs:
        if icb.ods_code == ods_code:
            return icb, icbs
    if (
        TrustICBMembership.objects.effective_on(timezone.localdate())
        .filter(icb__ods_code=ods_code, trust__memberships__user=user)
        .exists()
    ):
        raise PermissionDenied
    raise Http404


class CycleForm(forms.Form):
    cycle = forms.ChoiceField(
        label="Assessment cycle",
        error_messages={"invalid_choice": "Select a cycle from the list", "required": "Select a cycle"},
    )

    def __init__(self, data, *, cycles: list[Cycle], initial_cycle: Cycle | None):
        super().__init__(data, initial={"cycle": initial_cycle.label if initial_cycle else None})
        self.fields["cycle"].choices = [(c.label, c.label) for c in cycles]
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.add_input(Submit("show", "Show", css_class="nhsuk-button--secondary"))


def _sort_params(request, codes: list[str]) -> tuple[str, str]:
    sort = request.GET.get("sort", "name")
    if sort not in selectors.SORTS and sort not in codes:
        sort = "name"
    direction = "desc" if request.GET.get("dir") == "desc" else "asc"
    return sort, direction


def _query(**params) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def _sort_headers(comparison, *, sort: str, direction: str, plain: bool) -> list[dict]:
    """One entry per sortable column: the link that sorts it, and aria-sort for the current one."""
    columns = [("name", "Trust", "by trust name")]
    columns += [(r.code, r.code, f"by {r.code} {r.title}") for r in comparison.requirements]
    columns.append(("profile", "Profile", "by overall profile"))
    headers = []
    for key, label, description in columns:
        current = key == sort
        next_direction = "desc" if current and direction == "asc" else "asc"
        headers.append(
            {
                "key": key,
                "label": label,
                "description": description,
                "aria_sort": ("ascending" if direction == "asc" else "descending") if current else "",
                "url": _query(cycle=comparison.cycle.label, sort=key, dir=next_direction, view="plain" if plain else "")
                + "#heatmap",
                "next": "lowest first" if next_direction == "asc" and key != "name" else "",
            }
        )
    return headers


def _resolve_cycle(request, cycles: list[Cycle]) -> tuple[Cycle | None, CycleForm | None]:
    """The cycle asked for (or None for the default), or the chooser form with its error when it is not a cycle.

    A valid choice needs no form here: the page shows the cached chooser.
    """
    label = request.GET.get("cycle")
    chosen = next((c for c in cycles if c.label == label), None)
    if label is None or chosen is not None:
        return chosen, None
    form = CycleForm(request.GET, cycles=cycles, initial_cycle=None)
    form.is_valid()
    return None, form


SECTIONS_TEMPLATE = "comparison/_comparison.html"
CHOOSER_TEMPLATE = "comparison/_cycle_chooser.html"


@require_safe
def comparison(request, ods_code):
    icb, icbs = access_icb_as_ics_lead(request.user, ods_code)
    cycles = list(CYCLES.objects())
    chosen, invalid = _resolve_cycle(request, cycles)
    context = {"icb": icb, "other_icbs": [other for other in icbs if other.pk != icb.pk], "form": invalid}
    if invalid is not None:
        return render(request, "comparison/compare.html", context, status=400)
    cycle, chooser, sections = _rendered(request, icb, cycles, chosen)
    return render(
        request, "comparison/compare.html", context | {"cycle": cycle, "chooser": chooser, "sections": sections}
    )


def _rendered(request, icb: ICB, cycles: list[Cycle], chosen: Cycle | None) -> tuple[Cycle | None, str, str]:
    """The cycle the page shows, its cycle chooser and the page below it, rendered from the comparison.

    They are the same for every ICS lead of the ICB (no name, no other ICBs, no CSRF token: the
    templates are rendered without the request), so they are cached, compressed, in the cache
    every app server shares, and each process keeps its own copy of what it has read from there
    (in its "comparison" cache, uncompressed) so that the next view needs no query.
    The key names everything they were made from: the data (``comparison_version``: the ICB,
    cycles, memberships, assessment states, approvals and today's date), the code and templates
    that made them (``_code_version``), the cycle asked for and the sort and view parameters. A
    change to any of them is a new key, so nothing stale is ever shown; old entries expire.
    """
    sort, direction, plain = request.GET.get("sort", "name"), request.GET.get("dir"), request.GET.get("view")
    key_parts = (
        _code_version(),
        selectors.comparison_version(icb, cycles),
        chosen.pk if chosen else None,
        sort,
        direction == "desc",
        plain == "plain",
    )
    key = f"comparison:page:{selectors.CACHE_FORMAT}:{icb.pk}:" + hashlib.sha256(repr(key_parts).encode()).hexdigest()
    own_copy = caches["comparison"]  # this process's copies, uncompressed, of what it read from the shared cache
    rendered = own_copy.get(key)
    if rendered is None:
        cached = cache.get(key)
        if cached is None:
            result = selectors.build_comparison(icb=icb, cycle=chosen, cycles=cycles)
            chooser = render_to_string(
                CHOOSER_TEMPLATE, {"form": CycleForm(None, cycles=cycles, initial_cycle=chosen or result.cycle)}
            )
            sections = render_to_string(SECTIONS_TEMPLATE, _sections_context(request, icb, result))
            cached = (
                result.cycle.pk if result.cycle else None,
                zlib.compress(chooser.encode()),
                zlib.compress(sections.encode()),
            )
            cache.set(key, cached, selectors.CACHE_TIMEOUT)
        cycle_pk, chooser, sections = cached
        rendered = (cycle_pk, zlib.decompress(chooser).decode(), zlib.decompress(sections).decode())
        own_copy.set(key, rendered, selectors.CACHE_TIMEOUT)
    cycle_pk, chooser, sections = rendered
    cycle = next((c for c in cycles if c.pk == cycle_pk), None)
    # Rendered from our templates, above or by another request: marked safe as render_to_string made them.
    return cycle, mark_safe(chooser), mark_safe(sections)  # noqa: S308


def _sections_context(request, icb: ICB, result) -> dict:
    context = {"icb": icb, "comparison": result}
    if result.cycle is None:
        return context
    sort, direction = _sort_params(request, [r.code for r in result.requirements])
    plain = request.GET.get("view") == "plain"
    cycle_query = {"cycle": result.cycle.label}
    return context | {
        "rows": selectors.sort_rows(result.rows, sort, direction),
        "headers": _sort_headers(result, sort=sort, direction=direction, plain=plain),
        "sort": sort,
        "direction": direction,
        "plain": plain,
        "plain_url": _query(cycle=result.cycle.label, sort=sort, dir=direction, view="" if plain else "plain")
        + "#heatmap",
        "distribution_chart": selectors.distribution_chart(result),
        "trend_charts": selectors.trend_charts(result),
        "notes": selectors.notes(result),
        "csv_url": reverse("comparison-export", args=[icb.ods_code, "csv"]) + "?" + urlencode(cycle_query),
        "xlsx_url": reverse("comparison-export", args=[icb.ods_code, "xlsx"]) + "?" + urlencode(cycle_query),
        "later_url": _query(cycle=result.later.cycle.label) if result.later else "",
        "latest_approved_url": _query(cycle=result.latest_approved.label) if result.latest_approved else "",
    }


@functools.cache
def _code_version() -> str:
    """A digest of the code and templates that render the sections: a release that changes them changes the key."""
    digest = hashlib.sha256()
    for source in (selectors.__file__, __file__):
        digest.update(Path(source).read_bytes())
    for name in (CHOOSER_TEMPLATE, SECTIONS_TEMPLATE, "comparison/_charts.html"):
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()


@require_safe
def comparison_export(request, ods_code, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    icb, _ = access_icb_as_ics_lead(request.user, ods_code)
    cycles = list(Cycle.objects.order_by("-label"))
    label = request.GET.get("cycle")
    chosen = next((c for c in cycles if c.label == label), None)
    if label is not None and chosen is None:
        raise Http404
    result = selectors.build_comparison(icb=icb, cycle=chosen, cycles=cycles)
    if result.cycle is None:
        raise Http404
    body = exports.to_csv(result).encode("utf-8-sig") if fmt == "csv" else exports.to_xlsx(result)
    response = HttpResponse(body, content_type=EXPORT_FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(result, fmt)}"'
    response["Cache-Control"] = "private, no-store"
    return response
