"""The trust's evidence library: list, add a document or a link, new versions, downloads, and
linking evidence to a requirement's response.

Who may do what: the lead, contributors and the executive read the library and download;
the lead and contributors add to it. Board readers and ICS leads get 403, outsiders 404
(``access_trust``). Files are only ever served by ``evidence_download``, as attachments.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from assessments import evidence, services
from assessments.access import access_response
from assessments.evidence_forms import EvidenceLinkForm, EvidenceUploadForm, LinkChoiceForm, NewVersionForm
from assessments.models import (
    WORKING_ROLES,
    EvidenceItem,
    EvidenceKind,
    EvidenceVersion,
    Response,
    ResponseEvidence,
)
from portal.access import access_trust
from portal.models import TrustRole

logger = logging.getLogger(__name__)

UPLOADER_ROLES = evidence.UPLOADER_ROLES
# "<assessment pk>/<requirement code>": where to link a new item and return to after adding it.
NEXT_RESPONSE = re.compile(r"([0-9]{1,10})/([A-Za-z0-9._-]{1,20})")


def _library(user, trust):
    return EvidenceItem.objects.visible_to(user).filter(trust=trust)


def _item(request, trust, item_id: int) -> EvidenceItem:
    return get_object_or_404(_library(request.user, trust).select_related("created_by"), pk=item_id)


def _versions_newest_first():
    return Prefetch(
        "versions",
        queryset=EvidenceVersion.objects.select_related("uploaded_by").order_by("-number"),
        to_attr="version_list",
    )


def _uses():
    return Prefetch(
        "response_links",
        queryset=ResponseEvidence.objects.select_related(
            "response__assessment__cycle", "response__requirement"
        ).order_by("-response__assessment__cycle__label", "response__requirement__order"),
        to_attr="link_list",
    )


def _with_link_hosts(items):
    """Each link item gets ``link_host`` (www.example.nhs.uk), shown where a document shows its file."""
    for item in items:
        item.link_host = (urlsplit(item.url).hostname or "") if item.kind == EvidenceKind.LINK else ""
    return items


def _where_used(item: EvidenceItem) -> list[dict]:
    """[{cycle, assessment, requirements: [Requirement…]}], newest cycle first."""
    by_assessment: dict[int, dict] = {}
    for link in item.link_list:
        assessment = link.response.assessment
        entry = by_assessment.setdefault(
            assessment.pk, {"cycle": assessment.cycle, "assessment": assessment, "requirements": []}
        )
        entry["requirements"].append(link.response.requirement)
    return list(by_assessment.values())


# ---- the library --------------------------------------------------------------------------------


@require_safe
def evidence_library(request, ods_code):
    trust, role = access_trust(request.user, ods_code, roles=WORKING_ROLES)
    items = list(
        _library(request.user, trust).order_by("title", "pk").prefetch_related(_versions_newest_first(), _uses())
    )
    for item in _with_link_hosts(items):
        item.where_used = _where_used(item)
        item.latest_version = item.version_list[0] if item.version_list else None
    return render(
        request,
        "assessments/evidence/library.html",
        {"trust": trust, "items": items, "can_add": role in UPLOADER_ROLES},
    )


@require_safe
def evidence_detail(request, ods_code, item_id):
    trust, role = access_trust(request.user, ods_code, roles=WORKING_ROLES)
    item = get_object_or_404(
        _library(request.user, trust).select_related("created_by").prefetch_related(_versions_newest_first(), _uses()),
        pk=item_id,
    )
    return render(
        request,
        "assessments/evidence/detail.html",
        {
            "trust": trust,
            "item": item,
            "versions": item.version_list,
            "where_used": _where_used(item),
            "can_add": role in UPLOADER_ROLES,
        },
    )


# ---- adding evidence ----------------------------------------------------------------------------


def _next_response(request, trust) -> Response | None:
    """The response named by ?next_response=<pk>/<code>, if the person may add evidence to it.

    Anything else is ignored, so the parameter can never send anyone elsewhere.
    """
    match = NEXT_RESPONSE.fullmatch(request.GET.get("next_response", ""))
    if not match:
        return None
    try:
        assessment, response, role = access_response(request.user, int(match[1]), match[2])
    except (Http404, PermissionDenied):
        return None
    if assessment.trust_id != trust.pk or not services.can_edit_response(request.user, response, role):
        return None
    return response


def _next_query(response: Response | None) -> str:
    if response is None:
        return ""
    return "?" + urlencode({"next_response": f"{response.assessment_id}/{response.requirement.code}"})


def _finish_adding(request, trust, item: EvidenceItem, response: Response | None):
    """Link the new item to the response it was added for, if any, and go back there."""
    if response is None:
        messages.success(request, f"“{item.title}” has been added to the evidence library")
        return redirect("evidence-detail", ods_code=trust.ods_code, item_id=item.pk)
    code = response.requirement.code
    try:
        services.link_evidence(response=response, item=item, linked_by=request.user)
    except services.AssessmentError as error:
        messages.warning(request, f"“{item.title}” has been added to the evidence library, but not to {code}: {error}")
        return redirect("evidence-detail", ods_code=trust.ods_code, item_id=item.pk)
    messages.success(request, f"“{item.title}” has been added to the evidence library and to {code}")
    return redirect("response-edit", response.assessment_id, code)


def _purge_expired_holds() -> None:
    """Housekeeping at the start of every request that adds evidence: held files past their time go."""
    try:
        evidence.purge_expired_holds()
    except evidence.STORAGE_ERRORS:  # never a reason to refuse someone's upload
        logger.exception("Could not purge expired held uploads")


def _back(trust, response: Response | None) -> str:
    if response is not None:
        return reverse("response-evidence", args=[response.assessment_id, response.requirement.code])
    return reverse("evidence-library", args=[trust.ods_code])


@require_http_methods(["GET", "POST"])
def evidence_upload(request, ods_code):
    trust, _ = access_trust(request.user, ods_code, roles=UPLOADER_ROLES)
    _purge_expired_holds()
    response = _next_response(request, trust)
    form = EvidenceUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        trust=trust,
        user=request.user,
        initial={"owner": request.user.full_name},
        action=request.path + _next_query(response),
    )
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                item = evidence.create_file_evidence(
                    trust=trust,
                    created_by=request.user,
                    title=data["title"],
                    description=data["description"],
                    evidence_date=data["evidence_date"],
                    owner=data["owner"],
                    upload=form.checked,
                    confirmed_no_patient_data=data["confirm_no_patient_data"],
                    confirmed_not_nhs_numbers=form.confirmed_not_nhs_numbers,
                )
            except evidence.EvidenceError as error:
                form.add_error(None, str(error))
            else:
                form.discard_held_file()
                return _finish_adding(request, trust, item, response)
        form.keep_file_for_retry()
    return render(
        request,
        "assessments/evidence/upload.html",
        {"trust": trust, "form": form, "response": response, "back": _back(trust, response)},
    )


@require_http_methods(["GET", "POST"])
def evidence_add_link(request, ods_code):
    trust, _ = access_trust(request.user, ods_code, roles=UPLOADER_ROLES)
    _purge_expired_holds()
    response = _next_response(request, trust)
    form = EvidenceLinkForm(
        request.POST if request.method == "POST" else None,
        initial={"owner": request.user.full_name},
        action=request.path + _next_query(response),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = evidence.create_link_evidence(
                trust=trust,
                created_by=request.user,
                title=data["title"],
                description=data["description"],
                evidence_date=data["evidence_date"],
                owner=data["owner"],
                url=data["url"],
                confirmed_no_patient_data=data["confirm_no_patient_data"],
            )
        except evidence.EvidenceError as error:
            form.add_error(None, str(error))
        else:
            return _finish_adding(request, trust, item, response)
    return render(
        request,
        "assessments/evidence/add_link.html",
        {"trust": trust, "form": form, "response": response, "back": _back(trust, response)},
    )


@require_http_methods(["GET", "POST"])
def evidence_new_version(request, ods_code, item_id):
    trust, _ = access_trust(request.user, ods_code, roles=UPLOADER_ROLES)
    _purge_expired_holds()
    item = _item(request, trust, item_id)
    if item.kind != EvidenceKind.FILE:
        raise Http404("Links have no versions")
    latest = item.versions.order_by("-number").first()
    form = NewVersionForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        trust=trust,
        user=request.user,
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                version = evidence.add_evidence_version(
                    item=item,
                    uploaded_by=request.user,
                    upload=form.checked,
                    confirmed_no_patient_data=form.cleaned_data["confirm_no_patient_data"],
                    confirmed_not_nhs_numbers=form.confirmed_not_nhs_numbers,
                )
            except evidence.EvidenceError as error:
                form.add_error(None, str(error))
            else:
                form.discard_held_file()
                messages.success(request, f"Version {version.number} of “{item.title}” has been uploaded")
                return redirect("evidence-detail", ods_code=trust.ods_code, item_id=item.pk)
        form.keep_file_for_retry()
    return render(
        request,
        "assessments/evidence/new_version.html",
        {"trust": trust, "item": item, "latest": latest, "form": form},
    )


# ---- downloads ----------------------------------------------------------------------------------


@require_safe
@never_cache
def evidence_download(request, ods_code, item_id, number):
    """The stored file, as an attachment that browsers must neither render nor sniff."""
    trust, _ = access_trust(request.user, ods_code, roles=WORKING_ROLES)
    item = _item(request, trust, item_id)
    version = get_object_or_404(item.versions.all(), number=number)
    try:
        handle = version.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The stored file is missing") from error
    response = FileResponse(
        handle, as_attachment=True, filename=version.original_name, content_type=version.content_type
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# ---- evidence for one response ------------------------------------------------------------------


def _response_for_evidence(request, pk, code):
    """The response, for the lead or its assigned contributor; anyone else who can see it gets 403."""
    assessment, response, role = access_response(request.user, pk, code)
    if not (role == TrustRole.LEAD or (role == TrustRole.CONTRIBUTOR and response.assignee_id == request.user.pk)):
        raise PermissionDenied
    return assessment, response, role


@require_http_methods(["GET", "POST"])
def response_evidence(request, pk, code):
    """The evidence linked to one response: add items from the library, remove linked ones.

    Each item has its own button; a POST links or removes one item and comes back here.
    """
    assessment, response, role = _response_for_evidence(request, pk, code)
    if request.method == "POST":
        return _change_response_evidence(request, assessment, response)
    links = list(
        response.evidence_links.select_related("item").prefetch_related(
            Prefetch("item__versions", queryset=EvidenceVersion.objects.order_by("-number"), to_attr="version_list")
        )
    )
    library = list(
        _library(request.user, assessment.trust)
        .exclude(pk__in=[link.item_id for link in links])
        .order_by("title", "pk")
        .prefetch_related(_versions_newest_first())
    )
    used_for = defaultdict(list)
    for item_id, requirement_code in (
        ResponseEvidence.objects.filter(response__assessment=assessment)
        .order_by("response__requirement__order")
        .values_list("item_id", "response__requirement__code")
    ):
        used_for[item_id].append(requirement_code)
    for item in _with_link_hosts(library):
        item.used_for = used_for[item.pk]
    _with_link_hosts(link.item for link in links)
    next_query = _next_query(response)
    return render(
        request,
        "assessments/evidence/response_evidence.html",
        {
            "assessment": assessment,
            "response": response,
            "trust": assessment.trust,
            "links": links,
            "library": library,
            "editable": services.can_edit_response(request.user, response, role),
            "upload_url": reverse("evidence-upload", args=[assessment.trust.ods_code]) + next_query,
            "add_link_url": reverse("evidence-add-link", args=[assessment.trust.ods_code]) + next_query,
        },
    )


def _change_response_evidence(request, assessment, response):
    back = redirect("response-evidence", pk=assessment.pk, code=response.requirement.code)
    form = LinkChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a document to add or remove")
        return back
    adding = bool(form.cleaned_data["link"])
    item = get_object_or_404(
        _library(request.user, assessment.trust), pk=form.cleaned_data["link"] or form.cleaned_data["unlink"]
    )
    code = response.requirement.code
    try:
        if adding:
            services.link_evidence(response=response, item=item, linked_by=request.user)
        else:
            services.unlink_evidence(response=response, item=item, unlinked_by=request.user)
    except services.AssessmentError as error:
        messages.error(request, str(error))
    else:
        done = f"added to {code}" if adding else f"removed from {code}"
        messages.success(request, f"“{item.title}” has been {done}")
    return back
