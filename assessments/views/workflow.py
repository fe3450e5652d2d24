"""Sign-off: submitting, approving, returning and reopening an assessment; its audit trail; approved revisions.

Only trust members act here: anyone else who can see the assessment (an ICS lead, for
an approved one) gets 404, as an outsider does; a member without the right gets 403.
Approved revisions are read from their frozen snapshot, never from the live assessment.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from assessments import services
from assessments.access import access_assessment
from assessments.models import (
    WORKING_ROLES,
    ActionStatus,
    Approval,
    Assessment,
    AssessmentState,
)
from assessments.services import AssessmentError
from assessments.suppression import reveals_small_count
from assessments.workflow_forms import ApproveForm, reopen_form, return_form, sign_off_statement
from portal.access import trust_role
from portal.models import TrustRole

HISTORY_PAGE_SIZE = 50
# Special category figures (ethnicity) with counts from 1 to 7 are suppressed outside the trust (DOMAIN §6).


def _access_as_member(user, pk: int, roles: set[str]) -> tuple[Assessment, str]:
    """The assessment, for a member of its trust holding one of ``roles``.

    People who can read it without being members (ICS leads) get 404 like outsiders.
    """
    assessment, role = access_assessment(user, pk)
    if role is None:
        raise Http404
    if role not in roles:
        raise PermissionDenied
    return assessment, role


def _not_now(request, assessment: Assessment, message: str):
    messages.info(request, message)
    return redirect("assessment-overview", pk=assessment.pk)


# ---- submitting -----------------------------------------------------------------------------


def missing_items(assessment: Assessment) -> list[dict]:
    """What stops submission, one line per requirement, in the words of the NHS error summary."""
    items = []
    for response in services.missing_for_submission(assessment):
        code = response.requirement.code
        if response.rating_id is None and not response.rationale.strip():
            message = f"Select a rating for {code} and explain it"
        elif response.rating_id is None:
            message = f"Select a rating for {code}"
        else:
            message = f"Explain the rating for {code}"
        items.append({"code": code, "title": response.requirement.title, "message": message})
    return items


@require_http_methods(["GET", "POST"])
def submit(request, pk):
    assessment, _ = _access_as_member(request.user, pk, {TrustRole.LEAD})
    if not assessment.is_editable:
        return _not_now(
            request,
            assessment,
            f"This assessment is {assessment.get_state_display().lower()}: there is nothing to submit.",
        )
    error = None
    if request.method == "POST":
        try:
            services.submit_for_sign_off(assessment=assessment, submitted_by=request.user)
        except AssessmentError as problem:
            error = str(problem)
        else:
            messages.success(
                request, "Submitted for sign-off. Your executive sponsor can now approve the assessment or return it."
            )
            return redirect("assessment-overview", pk=assessment.pk)
    missing = missing_items(assessment)
    responses = [] if missing else assessment.responses.select_related("requirement", "rating")
    return render(
        request,
        "assessments/workflow/submit.html",
        {"assessment": assessment, "missing": missing, "responses": responses, "error": error},
        status=400 if error else 200,
    )


# ---- signing off ----------------------------------------------------------------------------


def figure_text(*, unit: str, numerator: Decimal | None, denominator: Decimal | None) -> str:
    """A workforce figure as people read it: '12.5% (5 of 40)', '35.6 WTE' or '42'."""
    if numerator is None:
        return "Not given"
    if denominator:
        rate = round(numerator * 100 / denominator, 1)
        return f"{rate:.1f}% ({_plain(numerator)} of {_plain(denominator)})"
    if unit == "wte":
        return f"{_plain(numerator)} WTE"
    return _plain(numerator)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _sign_off_summary(assessment: Assessment) -> dict:
    """The one-page summary an executive reads before approving."""
    responses = list(assessment.responses.select_related("requirement", "rating"))
    counts = {}
    for response in responses:
        if response.rating_id:
            counts[response.rating.value] = counts.get(response.rating.value, 0) + 1
    levels = [
        {"level": level, "count": counts.get(level.value, 0)}
        for level in assessment.framework.rating_levels.order_by("-value")
    ]
    figures = [
        {
            "label": value.indicator.label,
            "text": figure_text(unit=value.indicator.unit, numerator=value.numerator, denominator=value.denominator),
        }
        for value in assessment.indicator_values.select_related("indicator").filter(numerator__isnull=False)
    ]
    today = timezone.localdate()
    actions = assessment.actions.aggregate(
        total=Count("id"),
        overdue=Count("id", filter=~Q(status=ActionStatus.COMPLETE) & Q(due_date__lt=today)),
    )
    return {
        "responses": responses,
        "levels": levels,
        "figures": figures,
        "actions_total": actions["total"],
        "actions_overdue": actions["overdue"],
    }


@require_http_methods(["GET", "POST"])
def sign_off(request, pk):
    assessment, _ = _access_as_member(request.user, pk, {TrustRole.EXECUTIVE})
    if assessment.state != AssessmentState.AWAITING_SIGN_OFF:
        return _not_now(
            request,
            assessment,
            f"This assessment is {assessment.get_state_display().lower()}: there is nothing to sign off.",
        )
    statement = sign_off_statement(assessment)
    form = ApproveForm(
        request.POST if request.method == "POST" else None,
        initial={
            "approver_name": request.user.full_name,
            "approver_role": request.user.job_title,
            "submission": assessment.submitted_at.isoformat() if assessment.submitted_at else "",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            approval = services.approve(
                assessment=assessment,
                approved_by=request.user,
                approver_name=form.cleaned_data["approver_name"],
                approver_role=form.cleaned_data["approver_role"],
                statement=statement,
                seen_submission=form.cleaned_data["submission"] or None,
            )
        except AssessmentError as problem:
            # Keep what they typed, but let the page now stand for the submission as it is.
            assessment.refresh_from_db(fields=["submitted_at"])
            data = request.POST.copy()
            data["submission"] = assessment.submitted_at.isoformat() if assessment.submitted_at else ""
            form = ApproveForm(data)
            form.is_valid()
            form.add_error(None, str(problem))
        else:
            messages.success(
                request,
                f"Assessment approved. Revision {approval.revision} is kept exactly as you approved it.",
            )
            return redirect("approval-detail", pk=assessment.pk, revision=approval.revision)
    submitted_by = assessment.submitted_by
    return render(
        request,
        "assessments/workflow/sign_off.html",
        {
            "assessment": assessment,
            "form": form,
            "statement": statement,
            "submitted_by": submitted_by,
            **_sign_off_summary(assessment),
        },
    )


@require_http_methods(["GET", "POST"])
def return_to_lead(request, pk):
    assessment, _ = _access_as_member(request.user, pk, {TrustRole.EXECUTIVE})
    if assessment.state != AssessmentState.AWAITING_SIGN_OFF:
        return _not_now(
            request,
            assessment,
            f"This assessment is {assessment.get_state_display().lower()}: there is nothing to return.",
        )
    form = return_form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.return_assessment(
                assessment=assessment, returned_by=request.user, reason=form.cleaned_data["reason"]
            )
        except AssessmentError as problem:
            form.add_error("reason", str(problem))
        else:
            messages.success(request, "Assessment returned to the social work lead with your reason.")
            return redirect("assessment-overview", pk=assessment.pk)
    return render(request, "assessments/workflow/return.html", {"assessment": assessment, "form": form})


@require_http_methods(["GET", "POST"])
def reopen(request, pk):
    assessment, _ = _access_as_member(request.user, pk, {TrustRole.LEAD, TrustRole.EXECUTIVE})
    if assessment.state != AssessmentState.APPROVED:
        return _not_now(request, assessment, "Only an approved assessment can be reopened.")
    approval = assessment.approvals.filter(revision=assessment.revision).first()
    form = reopen_form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            reopened = services.reopen(
                assessment=assessment, reopened_by=request.user, reason=form.cleaned_data["reason"]
            )
        except AssessmentError as problem:
            form.add_error("reason", str(problem))
        else:
            messages.success(
                request,
                f"Revision {reopened.revision} started as a draft. "
                f"Revision {reopened.revision - 1} stays as it was approved.",
            )
            return redirect("assessment-overview", pk=assessment.pk)
    return render(
        request, "assessments/workflow/reopen.html", {"assessment": assessment, "approval": approval, "form": form}
    )


# ---- the audit trail ------------------------------------------------------------------------


@require_safe
def history(request, pk):
    assessment, _ = _access_as_member(request.user, pk, WORKING_ROLES)
    events = assessment.events.select_related("actor").order_by("-created_at", "-id")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    page_links = []
    if page.paginator.num_pages > 1:
        page_links = [
            {"number": number, "ellipsis": number == page.paginator.ELLIPSIS, "current": number == page.number}
            for number in page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
        ]
    return render(
        request,
        "assessments/workflow/history.html",
        {"assessment": assessment, "page": page, "page_links": page_links},
    )


# ---- approved revisions ---------------------------------------------------------------------


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _suppressed(indicator: dict) -> bool:
    return indicator["special_category"] and reveals_small_count(indicator["numerator"], indicator["denominator"])


def frozen_view(snapshot: dict, *, inside_trust: bool) -> dict:
    """The snapshot made ready for the page: dates parsed, labels looked up, small numbers suppressed."""
    approved_on = datetime.datetime.fromisoformat(snapshot["sign_off"]["approved_at"])
    counts: dict[int, int] = {}
    for response in snapshot["responses"]:
        if response["rating"]:
            counts[response["rating"]["value"]] = counts.get(response["rating"]["value"], 0) + 1
    responses = [
        {**response, "evidence": [{**item, "date": _date(item["date"])} for item in response["evidence"]]}
        for response in snapshot["responses"]
    ]
    figures = []
    for indicator in snapshot["indicators"]:
        if indicator["numerator"] is None:
            continue
        if not inside_trust and _suppressed(indicator):
            text = "Suppressed (fewer than 8)"
        else:
            text = figure_text(
                unit=indicator["unit"],
                numerator=_decimal(indicator["numerator"]),
                denominator=_decimal(indicator["denominator"]),
            )
        figures.append({"label": indicator["label"], "text": text})
    actions = []
    for action in snapshot["actions"]:
        due = _date(action["due_date"])
        status = action["status"]
        actions.append(
            {
                **action,
                "due_date": due,
                "status_label": ActionStatus(status).label if status in ActionStatus.values else status,
                "overdue_at_sign_off": status != ActionStatus.COMPLETE and due < approved_on.date(),
            }
        )
    return {
        "trust": snapshot["trust"],
        "cycle": {**snapshot["cycle"], "snapshot_date": _date(snapshot["cycle"]["snapshot_date"])},
        "framework": snapshot["framework"],
        "sign_off": {**snapshot["sign_off"], "approved_at": approved_on},
        "levels": [
            {**level, "count": counts.get(level["value"], 0)}
            for level in sorted(snapshot["rating_levels"], key=lambda level: -level["value"])
        ],
        "responses": responses,
        "figures": figures,
        "actions": actions,
    }


@require_safe
def approval_detail(request, pk, revision):
    approval = get_object_or_404(
        Approval.objects.visible_to(request.user).select_related("assessment__trust"),
        assessment_id=pk,
        revision=revision,
    )
    assessment = approval.assessment
    role = trust_role(request.user, assessment.trust)
    revisions = list(
        Approval.objects.visible_to(request.user)
        .filter(assessment_id=pk)
        .order_by("revision")
        .values_list("revision", flat=True)
    )
    return render(
        request,
        "assessments/workflow/approval_detail.html",
        {
            "approval": approval,
            "assessment": assessment,
            "frozen": frozen_view(approval.snapshot, inside_trust=role is not None),
            "hash_matches": services.content_hash(approval.snapshot) == approval.content_hash,
            "revisions": revisions,
            "is_current_revision": assessment.state == AssessmentState.APPROVED
            and assessment.revision == approval.revision,
            "can_reopen": role in {TrustRole.LEAD, TrustRole.EXECUTIVE}
            and assessment.state == AssessmentState.APPROVED
            and assessment.revision == approval.revision,
            "can_read_history": role in WORKING_ROLES,
            "can_read_live": Assessment.objects.visible_to(request.user).filter(pk=pk).exists(),
        },
    )
