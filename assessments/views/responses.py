"""Answering an assessment: starting it, the task list, responses, workforce figures and the improvement plan.

Every view fetches through ``portal.access`` or ``assessments.access``: outsiders get 404,
members without the right get 403. Changes go through ``services.py``. Editing is possible
only while the assessment is a draft or returned; otherwise the pages are read-only and a
POST is refused with a page that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from assessments import sections, services
from assessments.access import access_assessment, access_response
from assessments.comparison import own_ratings, peer_context_for
from assessments.forms import (
    ActionForm,
    AssignForm,
    ResponseForm,
    StartAssessmentForm,
    WorkforceForm,
    plain_figure,
)
from assessments.models import (
    WORKING_ROLES,
    ActionStatus,
    Approval,
    Assessment,
    AssessmentState,
    Cycle,
    EvidenceVersion,
    ResponseStatus,
)
from assessments.services import AssessmentError, EditConflict
from assessments.suppression import reveals_small_count
from portal.access import access_trust
from portal.models import TrustRole
from requirements.models import Framework

EDITORS = {TrustRole.LEAD, TrustRole.CONTRIBUTOR}


def _to_approved_record(assessment: Assessment, role):
    """Board readers and ICS leads read what was approved, never the live assessment.

    The live pages could differ from the approved snapshot (a new evidence version, say), so
    they are sent to the latest approved revision instead.
    """
    if role in WORKING_ROLES:
        return None
    revision = assessment.approvals.order_by("-revision").values_list("revision", flat=True).first()
    if revision is None:
        raise Http404
    return redirect("approval-detail", pk=assessment.pk, revision=revision)


def _not_editable(request, assessment: Assessment):
    return render(request, "assessments/not_editable.html", {"assessment": assessment}, status=403)


# ---- the trust's assessments -------------------------------------------------------------------


@dataclass
class CycleRow:
    cycle: Cycle
    assessment: Assessment | None
    approvals: list[Approval]

    @property
    def is_overdue(self) -> bool:
        return (
            self.assessment is not None
            and self.assessment.state != AssessmentState.APPROVED
            and self.cycle.is_past_deadline
        )


@require_safe
def assessment_list(request, ods_code):
    """The trust's assessments by cycle; board readers see approved ones and earlier approved revisions."""
    trust, role = access_trust(request.user, ods_code)
    if role is None:  # ICS leads compare trusts elsewhere; this page is the trust's own
        raise Http404
    assessments = Assessment.objects.visible_to(request.user).filter(trust=trust).select_related("cycle", "framework")
    approvals = (
        Approval.objects.visible_to(request.user)
        .filter(assessment__trust=trust)
        .select_related("assessment__cycle")
        .defer("snapshot")
        .order_by("revision")
    )
    rows: dict[int, CycleRow] = {}
    for assessment in assessments:
        rows[assessment.pk] = CycleRow(cycle=assessment.cycle, assessment=assessment, approvals=[])
    for approval in approvals:
        row = rows.setdefault(
            approval.assessment_id, CycleRow(cycle=approval.assessment.cycle, assessment=None, approvals=[])
        )
        row.approvals.append(approval)
    can_start = role == TrustRole.LEAD and Cycle.objects.exclude(assessments__trust=trust).exists()
    return render(
        request,
        "assessments/assessment_list.html",
        {
            "trust": trust,
            "role": role,
            "rows": sorted(rows.values(), key=lambda row: row.cycle.label, reverse=True),
            "can_start": can_start,
        },
    )


@require_http_methods(["GET", "POST"])
def assessment_start(request, ods_code):
    trust, _ = access_trust(request.user, ods_code, roles={TrustRole.LEAD})
    cycles = Cycle.objects.exclude(assessments__trust=trust).order_by("-label")
    framework = Framework.objects.current()
    can_carry_forward = Approval.objects.filter(assessment__trust=trust).exists()
    form = StartAssessmentForm(
        request.POST if request.method == "POST" else None,
        cycles=cycles,
        can_carry_forward=can_carry_forward,
    )
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.start_assessment(
                trust=trust,
                cycle=form.cleaned_data["cycle"],
                started_by=request.user,
                carry_forward=form.carry_forward,
            )
        except AssessmentError as error:
            form.add_error(None, str(error))
        else:
            if assessment.carried_forward_from_id:
                source = assessment.carried_forward_from.cycle
                messages.success(request, f"Assessment for {assessment.cycle} started from {source}'s answers")
            else:
                messages.success(request, f"Assessment for {assessment.cycle} started")
            return redirect("assessment-overview", pk=assessment.pk)
    return render(
        request,
        "assessments/start.html",
        {"trust": trust, "form": form, "framework": framework, "has_cycles": cycles.exists()},
    )


# ---- the overview: a task list -----------------------------------------------------------------


@require_safe
def assessment_overview(request, pk):
    assessment, role = access_assessment(request.user, pk, versioned=True)
    if elsewhere := _to_approved_record(assessment, role):
        return elsewhere
    # Everything below the header depends only on the data and the role: see assessments.sections.
    section = sections.cached(
        "overview",
        (assessment.data_version, role),
        lambda: render_to_string("assessments/_overview.html", _overview_context(request.user, assessment, role)),
    )
    return render(
        request,
        "assessments/overview.html",
        {"assessment": assessment, "is_member": role is not None, "section": section},
    )


def _overview_context(user, assessment: Assessment, role) -> dict:
    responses = list(
        assessment.responses.select_related("requirement", "rating", "assignee").only(
            "assessment_id",
            "status",
            "carried_forward",
            "requirement__code",
            "requirement__title",
            "requirement__order",
            "rating__value",
            "rating__label",
            "assignee__full_name",
        )
    )
    actions = assessment.actions.aggregate(
        action_count=Count("pk"),
        overdue_count=Count("pk", filter=~Q(status=ActionStatus.COMPLETE) & Q(due_date__lt=timezone.localdate())),
    )
    approvals = list(
        assessment.approvals.only("assessment_id", "revision", "approved_at", "approver_name").order_by("revision")
    )
    # The peer context panel, from the responses just read (members of the trust only).
    peer = peer_context_for(user, assessment=assessment, is_member=role is not None, own=own_ratings(responses))
    return {
        "assessment": assessment,
        "role": role,
        "responses": responses,
        "ready_count": sum(r.status == ResponseStatus.READY for r in responses),
        **actions,  # action_count, overdue_count (Action.is_overdue, counted in the database)
        "indicator_count": assessment.framework.indicators.count(),
        "figures_entered": assessment.indicator_values.filter(numerator__isnull=False).count(),
        "approvals": approvals,
        "is_member": role is not None,
        "can_use_library": role in WORKING_ROLES,
        "can_submit": role == TrustRole.LEAD and assessment.is_editable,
        "can_sign_off": role == TrustRole.EXECUTIVE and assessment.state == AssessmentState.AWAITING_SIGN_OFF,
        "can_assign": role == TrustRole.LEAD and assessment.is_editable,
        "can_reopen": role in {TrustRole.LEAD, TrustRole.EXECUTIVE} and assessment.state == AssessmentState.APPROVED,
        **peer,
    }


# ---- one requirement's response ------------------------------------------------------------------


def _answers_it(user, response, role) -> bool:
    """Whether the person could answer this requirement if the assessment were open for editing."""
    return role == TrustRole.LEAD or (role == TrustRole.CONTRIBUTOR and response.assignee_id == user.pk)


def _conflict_message(conflict: EditConflict, user, code: str) -> str:
    saved = conflict.response
    at = timezone.localtime(saved.updated_at).strftime("%H:%M")
    if saved.updated_by_id == user.pk:
        return f"You saved changes to {code} at {at} in another window while you were editing here"
    who = saved.updated_by.full_name if saved.updated_by else "Someone"
    return f"{who} saved changes to {code} at {at} while you were editing"


def _draw_ratings_from(form: ResponseForm, levels) -> None:
    """Draw the form's rating radios from ``levels``, read once here with an ordinary query.

    A model choice field reads its queryset through ``iterator()`` each time its widget is drawn:
    on PostgreSQL a server-side cursor, three round trips. The choices are the same levels in the
    same order; checking a submitted rating still uses the field's queryset.
    """
    field = form.fields["rating"]
    choice = field.iterator(field).choice
    field.widget.choices = [choice(level) for level in levels]


@require_http_methods(["GET", "POST"])
def response_edit(request, pk, code):
    reading = request.method == "GET"
    assessment, response, role = access_response(request.user, pk, code, versioned=reading)
    if elsewhere := _to_approved_record(assessment, role):
        return elsewhere
    can_edit = services.can_edit_response(request.user, response, role)
    if reading:
        # Below the header, the page depends only on the data, the role and whether this person may
        # answer: see assessments.sections. The form's CSRF token is the request's own.
        section = sections.cached(
            "response",
            (assessment.data_version, sections.rows(response, response.requirement), role, can_edit),
            lambda: render_to_string(
                "assessments/_response.html",
                _response_context(assessment, response, role, form=_unbound_form(response, can_edit))
                | {"csrf_token": sections.CSRF_PLACEHOLDER},
            ),
        )
        context = {
            "assessment": assessment,
            "requirement": response.requirement,
            "section": sections.with_csrf_token(request, section),
        }
        return render(request, "assessments/response.html", context)

    if not can_edit and not (_answers_it(request.user, response, role) and not assessment.is_editable):
        raise PermissionDenied
    conflict = None
    status = 200
    form = ResponseForm(request.POST, response=response)
    if not can_edit:
        # The assessment was submitted while this person was typing: keep what they wrote.
        form.is_valid()
        form.add_error(None, f"This assessment is {assessment.get_state_display().lower()} and cannot be changed.")
        status = 409
    elif form.is_valid():
        try:
            services.save_response(
                response=response,
                expected_version=form.cleaned_data["version"],
                edited_by=request.user,
                rating=form.cleaned_data["rating"],
                rationale=form.cleaned_data["rationale"],
                strengths=form.cleaned_data["strengths"],
                gaps_and_risks=form.cleaned_data["gaps_and_risks"],
                ready=form.cleaned_data["ready"],
            )
        except EditConflict as error:
            conflict = error
            # Their text stays; the new version means a second Save replaces the other change on purpose.
            data = request.POST.copy()
            data["version"] = str(error.response.version)
            form = ResponseForm(data, response=response)
            form.is_valid()
            form.add_error(None, _conflict_message(error, request.user, code))
            status = 409
        except AssessmentError as error:
            form.add_error(None, str(error))
            status = 409
        else:
            messages.success(request, f"{code} saved")
            return redirect("assessment-overview", pk=assessment.pk)
    context = _response_context(assessment, response, role, form=form) | {
        "conflict": conflict,
        "conflict_saved_by": conflict.response.updated_by if conflict else None,
    }
    return render(request, "assessments/response.html", context, status=status)


def _unbound_form(response, can_edit: bool) -> ResponseForm | None:
    return ResponseForm(initial=ResponseForm.initial_for(response), response=response) if can_edit else None


def _response_context(assessment: Assessment, response, role, *, form: ResponseForm | None) -> dict:
    """What a requirement page shows below the header; ``form`` is None for someone who cannot answer."""
    if form is not None:
        _draw_ratings_from(form, assessment.framework.rating_levels.all())
    latest_version = EvidenceVersion.objects.filter(item=OuterRef("item")).order_by("-number").values("number")[:1]
    evidence_links = list(
        response.evidence_links.select_related("item")
        .only("response_id", "item__title", "item__kind", "item__evidence_date")
        .annotate(latest_version_number=Subquery(latest_version))
    )
    actions = list(
        assessment.actions.filter(requirements=response.requirement).only(
            "assessment_id", "title", "owner", "due_date", "status"
        )
    )
    return {
        "assessment": assessment,
        "response": response,
        "requirement": response.requirement,
        "role": role,
        "form": form,
        "evidence_links": evidence_links,
        "actions": actions,
        "can_edit": form is not None,
        "can_assign": role == TrustRole.LEAD and assessment.is_editable,
        "can_change_plan": role in EDITORS and assessment.is_editable,
        "can_use_library": role in WORKING_ROLES,
    }


@require_http_methods(["GET", "POST"])
def response_assign(request, pk, code):
    assessment, response, _ = access_response(request.user, pk, code, roles={TrustRole.LEAD})
    if not assessment.is_editable:
        return _not_editable(request, assessment)
    people = list(
        assessment.trust.memberships.filter(role__in=[TrustRole.LEAD, TrustRole.CONTRIBUTOR])
        .select_related("user")
        .order_by("user__full_name")
    )
    initial = {"assignee": str(response.assignee_id) if response.assignee_id else AssignForm.NOT_ASSIGNED}
    form = AssignForm(
        request.POST if request.method == "POST" else None, initial=initial, response=response, people=people
    )
    if request.method == "POST" and form.is_valid():
        assignee = form.chosen_person()
        try:
            services.assign_response(response=response, assignee=assignee, assigned_by=request.user)
        except AssessmentError as error:
            form.add_error("assignee", str(error))
        else:
            if assignee is None:
                messages.success(request, f"{code} is not assigned to anyone")
            else:
                messages.success(request, f"{code} assigned to {assignee.full_name}")
            return redirect("assessment-overview", pk=assessment.pk)
    return render(
        request,
        "assessments/assign.html",
        {"assessment": assessment, "response": response, "requirement": response.requirement, "form": form},
    )


# ---- workforce figures -------------------------------------------------------------------------------


@dataclass
class FigureRow:
    indicator: object
    numerator: Decimal | None
    denominator: Decimal | None
    rate: Decimal | None
    suppressed: bool

    @property
    def numerator_display(self) -> str:
        return plain_figure(self.numerator)

    @property
    def denominator_display(self) -> str:
        return plain_figure(self.denominator)

    @property
    def is_implausible(self) -> bool:
        maximum = self.indicator.plausible_maximum_percent
        return self.rate is not None and maximum is not None and self.rate > maximum


def _figure_rows(indicators, values, *, inside_trust: bool) -> list[FigureRow]:
    rows = []
    for indicator in indicators:
        value = values.get(indicator.pk)
        numerator = value.numerator if value else None
        denominator = value.denominator if value and indicator.is_rate else None
        suppressed = not inside_trust and indicator.special_category and reveals_small_count(numerator, denominator)
        rows.append(
            FigureRow(
                indicator=indicator,
                numerator=None if suppressed else numerator,
                denominator=None if suppressed else denominator,
                rate=None if suppressed or not indicator.is_rate or value is None else value.rate,
                suppressed=suppressed,
            )
        )
    return rows


@require_http_methods(["GET", "POST"])
def workforce(request, pk):
    """Workforce figures: leads and contributors enter them; everyone who can see the assessment reads them."""
    assessment, role = access_assessment(request.user, pk)
    if elsewhere := _to_approved_record(assessment, role):
        return elsewhere
    can_edit = role in EDITORS and assessment.is_editable
    indicators = list(assessment.framework.indicators.all())
    values = {value.indicator_id: value for value in assessment.indicator_values.all()}
    form = None
    if request.method == "POST":
        if role not in EDITORS:
            raise PermissionDenied
        if not can_edit:
            return _not_editable(request, assessment)
        form = WorkforceForm(request.POST, indicators=indicators, values=values)
        if form.is_valid():
            try:
                services.save_indicator_values(assessment=assessment, values=form.values(), edited_by=request.user)
            except AssessmentError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "Workforce figures saved")
                return redirect("assessment-workforce", pk=assessment.pk)
    elif can_edit:
        form = WorkforceForm(indicators=indicators, values=values)
    rows = _figure_rows(indicators, values, inside_trust=role is not None)
    return render(
        request,
        "assessments/workforce.html",
        {
            "assessment": assessment,
            "role": role,
            "form": form,
            "rows": rows,
            "implausible": [row for row in rows if row.is_implausible],
            "can_enter": role in EDITORS,
            "any_suppressed": any(row.suppressed for row in rows),
            "has_figures": any(row.numerator is not None or row.suppressed for row in rows),
        },
    )


# ---- improvement plan ----------------------------------------------------------------------------------


@require_safe
def action_list(request, pk):
    assessment, role = access_assessment(request.user, pk)
    if elsewhere := _to_approved_record(assessment, role):
        return elsewhere
    actions = list(assessment.actions.prefetch_related("requirements"))
    return render(
        request,
        "assessments/action_list.html",
        {
            "assessment": assessment,
            "actions": actions,
            "can_change": role in EDITORS and assessment.is_editable,
            "can_remove": role == TrustRole.LEAD and assessment.is_editable,
        },
    )


def _plan_editor(request, pk, *, roles=EDITORS):
    assessment, _ = access_assessment(request.user, pk, roles=roles)
    return assessment


def _requirement_to_return_to(assessment, code: str | None):
    if not code:
        return None
    return assessment.framework.requirements.filter(code=code).first()


@require_http_methods(["GET", "POST"])
def action_add(request, pk):
    assessment = _plan_editor(request, pk)
    if not assessment.is_editable:
        return _not_editable(request, assessment)
    back_to = _requirement_to_return_to(assessment, request.GET.get("requirement"))
    initial = {"status": "not_started", "requirements": [back_to.pk] if back_to else []}
    form = ActionForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        framework=assessment.framework,
        submit_label="Add action",
    )
    if request.method == "POST" and form.is_valid():
        try:
            action = services.save_action(
                assessment=assessment, edited_by=request.user, **_action_values(form.cleaned_data)
            )
        except AssessmentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Action added: {action.title}")
            if back_to is not None:
                return redirect("response-edit", pk=assessment.pk, code=back_to.code)
            return redirect("action-list", pk=assessment.pk)
    return render(
        request,
        "assessments/action_form.html",
        {"assessment": assessment, "form": form, "action": None, "back_to": back_to},
    )


def _action_values(cleaned: dict) -> dict:
    return {
        "title": cleaned["title"].strip(),
        "requirements": list(cleaned["requirements"]),
        "owner": cleaned["owner"].strip(),
        "due_date": cleaned["due_date"],
        "status": cleaned["status"],
        "progress_notes": cleaned["progress_notes"].strip(),
    }


@require_http_methods(["GET", "POST"])
def action_edit(request, pk, action_id):
    assessment = _plan_editor(request, pk)
    action = get_object_or_404(assessment.actions.prefetch_related("requirements"), pk=action_id)
    if not assessment.is_editable:
        return _not_editable(request, assessment)
    form = ActionForm(
        request.POST if request.method == "POST" else None,
        initial=ActionForm.initial_for(action),
        framework=assessment.framework,
        submit_label="Save action",
    )
    if request.method == "POST" and form.is_valid():
        try:
            action = services.save_action(
                assessment=assessment, edited_by=request.user, action=action, **_action_values(form.cleaned_data)
            )
        except AssessmentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Action saved: {action.title}")
            return redirect("action-list", pk=assessment.pk)
    return render(
        request,
        "assessments/action_form.html",
        {"assessment": assessment, "form": form, "action": action, "back_to": None},
    )


@require_http_methods(["GET", "POST"])
def action_remove(request, pk, action_id):
    assessment = _plan_editor(request, pk, roles={TrustRole.LEAD})
    action = get_object_or_404(assessment.actions.all(), pk=action_id)
    if not assessment.is_editable:
        return _not_editable(request, assessment)
    error = None
    if request.method == "POST":
        try:
            services.remove_action(action=action, removed_by=request.user)
        except AssessmentError as problem:
            error = str(problem)
        else:
            messages.success(request, f"Action removed: {action.title}")
            return redirect("action-list", pk=assessment.pk)
    return render(
        request,
        "assessments/action_remove.html",
        {"assessment": assessment, "action": action, "error": error},
        status=409 if error else 200,
    )
