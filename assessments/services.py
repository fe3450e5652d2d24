"""Every change to an assessment: keyword-only functions, each one transaction that writes its audit rows.

Views call these; nothing changes an assessment from a signal or ``save()``. Functions that
two people could race on lock the assessment row first (``_lock``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from assessments.models import (
    EDITABLE_STATES,
    Action,
    ActionStatus,
    Approval,
    Assessment,
    AssessmentEvent,
    AssessmentState,
    AuditAction,
    CoverSheet,
    Cycle,
    EvidenceItem,
    IndicatorValue,
    Response,
    ResponseEvidence,
    ResponseStatus,
)
from assessments.tasks import render_board_report
from portal.models import Trust, TrustMembership, TrustRole, User
from requirements.models import Framework, RatingLevel, Requirement


class AssessmentError(Exception):
    """A change the rules do not allow; the message is written for the user."""


@dataclass
class EditConflict(Exception):
    """Someone else saved the response after this person opened it."""

    response: Response
    changed_fields: dict[str, tuple[str, str]]  # field label -> (value they started from, value now saved)


# ---- helpers --------------------------------------------------------------------------------


def _lock(assessment: Assessment) -> Assessment:
    # of=("self",): lock the assessment row only, not the trust, cycle and framework rows every trust shares.
    return (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("trust", "cycle", "framework")
        .get(pk=assessment.pk)
    )


def _ensure_editable(assessment: Assessment) -> None:
    if assessment.state not in EDITABLE_STATES:
        raise AssessmentError(f"This assessment is {assessment.get_state_display().lower()} and cannot be changed.")


def _event(
    assessment: Assessment,
    actor: User | None,
    action: AuditAction,
    *,
    subject: str = "",
    field: str = "",
    before: object = "",
    after: object = "",
    response_version: int | None = None,
) -> None:
    AssessmentEvent.objects.create(
        response_version=response_version,
        assessment=assessment,
        actor=actor,
        action=action,
        subject=subject,
        field=field,
        before="" if before is None else str(before),
        after="" if after is None else str(after),
        revision=assessment.revision,
    )


def role_at(user: User, trust: Trust) -> str | None:
    return TrustMembership.objects.filter(user=user, trust=trust).values_list("role", flat=True).first()


def _require_role(user: User, trust: Trust, roles: set[str], doing: str) -> str:
    role = role_at(user, trust)
    if role not in roles:
        who = " or ".join(sorted(TrustRole(r).label.lower() for r in roles))
        raise AssessmentError(f"Only {'an' if who[0] in 'aeiou' else 'a'} {who} can {doing}.")
    return role


# ---- starting and assigning -----------------------------------------------------------------


@transaction.atomic
def start_assessment(
    *, trust: Trust, cycle: Cycle, started_by: User, carry_forward: bool = True, framework: Framework | None = None
) -> Assessment:
    """Start the trust's assessment for a cycle against the current published framework version.

    With ``carry_forward``, ratings, rationale, strengths, gaps, evidence links and open actions
    are copied from what was last approved: the latest approved revision of the trust's most
    recent earlier cycle (never an unapproved draft). Each copied response is marked "carried
    forward: review" until someone saves it. Requirements are matched by code, so a new
    framework version carries forward whatever it shares with the old one.
    """
    _require_role(started_by, trust, {TrustRole.LEAD}, "start an assessment")
    framework = framework or Framework.objects.current()
    if framework is None:
        raise AssessmentError("There is no published framework to assess against.")
    if Assessment.objects.filter(trust=trust, cycle=cycle).exists():
        raise AssessmentError(f"{trust.name} already has an assessment for {cycle}.")
    source = None
    if carry_forward:
        source = (
            Approval.objects.filter(assessment__trust=trust, assessment__cycle__label__lt=cycle.label)
            .select_related("assessment__cycle")
            .order_by("-assessment__cycle__label", "-revision")
            .first()
        )
    try:
        # A savepoint, so that a second "Start" racing this one becomes a clear message, not a 500.
        with transaction.atomic():
            assessment = Assessment.objects.create(
                trust=trust,
                cycle=cycle,
                framework=framework,
                started_by=started_by,
                carried_forward_from=source.assessment if source else None,
            )
    except IntegrityError:
        raise AssessmentError(f"{trust.name} already has an assessment for {cycle}.") from None
    Response.objects.bulk_create(Response(assessment=assessment, requirement=r) for r in framework.requirements.all())
    _event(
        assessment,
        started_by,
        AuditAction.STARTED,
        subject=str(cycle),
        after=f"carried forward from {source.assessment.cycle} revision {source.revision}" if source else "blank",
    )
    if source is not None:
        _carry_forward(source.snapshot, assessment, started_by)
    return assessment


def _carry_forward(snapshot: dict, assessment: Assessment, actor: User) -> None:
    """Copy an approved snapshot's answers, evidence links and open actions, writing the audit trail."""
    levels = {level.value: level for level in assessment.framework.rating_levels.all()}
    old = {answer["code"]: answer for answer in snapshot["responses"]}
    library = set(EvidenceItem.objects.filter(trust=assessment.trust).values_list("pk", flat=True))
    for response in assessment.responses.select_related("requirement"):
        answer = old.get(response.requirement.code)
        if answer is None or not _has_answer(answer):
            continue  # nothing to review: the response starts blank
        response.rating = levels.get(answer["rating"]["value"]) if answer["rating"] else None
        response.rationale = answer["rationale"] if response.rating else ""
        response.strengths = answer["strengths"]
        response.gaps_and_risks = answer["gaps_and_risks"]
        response.carried_forward = True
        response.status = ResponseStatus.IN_PROGRESS
        response.save()
        for evidence in answer["evidence"]:
            if evidence["item_id"] in library:
                ResponseEvidence.objects.create(response=response, item_id=evidence["item_id"])
                _event(
                    assessment,
                    actor,
                    AuditAction.EVIDENCE_LINKED,
                    subject=response.requirement.code,
                    after=f"{evidence['title']} (carried forward)",
                )
    requirements = {r.code: r for r in assessment.framework.requirements.all()}
    for action in snapshot["actions"]:
        if action["status"] == ActionStatus.COMPLETE:
            continue
        copy = Action.objects.create(
            assessment=assessment,
            title=action["title"],
            owner=action["owner"],
            due_date=action["due_date"],
            status=action["status"],
            progress_notes=action["progress_notes"],
            carried_forward=True,
        )
        copy.requirements.set([requirements[code] for code in action["requirements"] if code in requirements])
        _event(assessment, actor, AuditAction.ACTION_ADDED, subject=action["title"], after="carried forward")


def _has_answer(answer: dict) -> bool:
    return bool(
        answer["rating"] or answer["rationale"] or answer["strengths"] or answer["gaps_and_risks"] or answer["evidence"]
    )


@transaction.atomic
def assign_response(*, response: Response, assignee: User | None, assigned_by: User) -> Response:
    """The lead gives a requirement to a contributor (or the lead); ``None`` unassigns."""
    assessment = _lock(response.assessment)
    _ensure_editable(assessment)
    _require_role(assigned_by, assessment.trust, {TrustRole.LEAD}, "assign requirements")
    if assignee is not None and role_at(assignee, assessment.trust) not in {TrustRole.LEAD, TrustRole.CONTRIBUTOR}:
        raise AssessmentError("Requirements can only be assigned to the trust's contributors and leads.")
    # of=("self",): PostgreSQL cannot lock the nullable side of the outer join to the assignee.
    response = (
        Response.objects.select_for_update(of=("self",)).select_related("requirement", "assignee").get(pk=response.pk)
    )
    before = response.assignee
    if before == assignee:
        return response
    response.assignee = assignee
    response.save(update_fields=["assignee", "updated_at"])
    _event(
        assessment,
        assigned_by,
        AuditAction.ASSIGNED,
        subject=response.requirement.code,
        field="assignee",
        before=before.full_name if before else "",
        after=assignee.full_name if assignee else "",
    )
    return response


# ---- answering ------------------------------------------------------------------------------

RESPONSE_FIELDS = {
    "rating": "Rating",
    "rationale": "Rationale",
    "strengths": "Strengths",
    "gaps_and_risks": "Gaps and risks",
    "status": "Status",
}


def can_edit_response(user: User, response: Response, role: str | None) -> bool:
    if not response.assessment.is_editable:
        return False
    return role == TrustRole.LEAD or (role == TrustRole.CONTRIBUTOR and response.assignee_id == user.pk)


def _display(field: str, value) -> str:
    if value is None:
        return ""
    if field == "status":
        return ResponseStatus(value).label
    return str(value)


@transaction.atomic
def save_response(
    *,
    response: Response,
    expected_version: int,
    edited_by: User,
    rating: RatingLevel | None,
    rationale: str,
    strengths: str,
    gaps_and_risks: str,
    ready: bool,
) -> Response:
    """Save an answer, refusing it if someone else saved since ``expected_version`` was read.

    Raises ``EditConflict`` with what changed, so the view can show it and keep the person's text.
    """
    assessment = _lock(response.assessment)
    _ensure_editable(assessment)
    current = (
        Response.objects.select_for_update(of=("self",))
        .select_related("requirement", "rating", "assignee")
        .get(pk=response.pk)
    )
    if not can_edit_response(edited_by, current, role_at(edited_by, assessment.trust)):
        raise AssessmentError("You can only answer the requirements assigned to you.")
    if rating is not None and rating.framework_id != assessment.framework_id:
        raise AssessmentError("Choose a rating from this framework's scale.")
    rationale, strengths, gaps_and_risks = rationale.strip(), strengths.strip(), gaps_and_risks.strip()
    if rating is not None and not rationale:
        raise AssessmentError(f"Explain the rating for {current.requirement.code}: a rating needs a rationale.")
    if ready and rating is None:
        raise AssessmentError(f"Select a rating for {current.requirement.code} before marking it ready.")
    if current.version != expected_version:
        raise EditConflict(response=current, changed_fields=_changes_since(current, expected_version))

    if ready:
        status = ResponseStatus.READY
    elif rating is None and not any([rationale, strengths, gaps_and_risks]):
        status = ResponseStatus.NOT_STARTED
    else:
        status = ResponseStatus.IN_PROGRESS
    new_values = {
        "rating": rating,
        "rationale": rationale,
        "strengths": strengths,
        "gaps_and_risks": gaps_and_risks,
        "status": status,
    }
    changed = [(field, getattr(current, field), value) for field, value in new_values.items()]
    changed = [(field, old, new) for field, old, new in changed if old != new]
    if not changed and not current.carried_forward:
        return current
    current.version += 1
    for field, old, new in changed:
        _event(
            assessment,
            edited_by,
            AuditAction.RESPONSE_CHANGED,
            subject=current.requirement.code,
            field=RESPONSE_FIELDS[field],
            before=_display(field, old),
            after=_display(field, new),
            response_version=current.version,
        )
        setattr(current, field, new)
    if current.carried_forward:
        _event(
            assessment,
            edited_by,
            AuditAction.RESPONSE_CHANGED,
            subject=current.requirement.code,
            field="Carried forward",
            before="Carried forward: review",
            after="Reviewed",
            response_version=current.version,
        )
    current.carried_forward = False
    current.updated_by = edited_by
    current.save()
    return current


def _changes_since(current: Response, expected_version: int) -> dict[str, tuple[str, str]]:
    """What other people changed on this response since the version the editor started from."""
    events = AssessmentEvent.objects.filter(
        assessment_id=current.assessment_id,
        action=AuditAction.RESPONSE_CHANGED,
        subject=current.requirement.code,
        response_version__gt=expected_version,
    ).order_by("response_version", "id")
    changes: dict[str, tuple[str, str]] = {}
    for event in events:
        before = changes[event.field][0] if event.field in changes else event.before
        changes[event.field] = (before, event.after)
    return {field: values for field, values in changes.items() if values[0] != values[1]}


# ---- evidence links -------------------------------------------------------------------------


def _lock_response(response: Response, assessment: Assessment) -> Response:
    """The response as it is now (its assignee may have changed), locked, on the locked assessment."""
    current = Response.objects.select_for_update(of=("self",)).select_related("requirement").get(pk=response.pk)
    current.assessment = assessment
    return current


@transaction.atomic
def link_evidence(*, response: Response, item: EvidenceItem, linked_by: User) -> None:
    assessment = _lock(response.assessment)
    _ensure_editable(assessment)
    response = _lock_response(response, assessment)
    if not can_edit_response(linked_by, response, role_at(linked_by, assessment.trust)):
        raise AssessmentError("You can only add evidence to the requirements assigned to you.")
    if item.trust_id != assessment.trust_id:
        raise AssessmentError("Evidence must come from your trust's library.")
    _, created = ResponseEvidence.objects.get_or_create(response=response, item=item, defaults={"linked_by": linked_by})
    if created:
        _event(assessment, linked_by, AuditAction.EVIDENCE_LINKED, subject=response.requirement.code, after=item.title)


@transaction.atomic
def unlink_evidence(*, response: Response, item: EvidenceItem, unlinked_by: User) -> None:
    assessment = _lock(response.assessment)
    _ensure_editable(assessment)
    response = _lock_response(response, assessment)
    if not can_edit_response(unlinked_by, response, role_at(unlinked_by, assessment.trust)):
        raise AssessmentError("You can only change the evidence of the requirements assigned to you.")
    deleted, _ = ResponseEvidence.objects.filter(response=response, item=item).delete()
    if deleted:
        _event(
            assessment,
            unlinked_by,
            AuditAction.EVIDENCE_UNLINKED,
            subject=response.requirement.code,
            before=item.title,
        )


# ---- workforce figures ----------------------------------------------------------------------


@transaction.atomic
def save_indicator_values(
    *, assessment: Assessment, values: dict[int, tuple[Decimal | None, Decimal | None]], edited_by: User
) -> None:
    """Store figures by indicator id as (numerator, denominator); validation is the form's job."""
    assessment = _lock(assessment)
    _ensure_editable(assessment)
    _require_role(edited_by, assessment.trust, {TrustRole.LEAD, TrustRole.CONTRIBUTOR}, "enter workforce figures")
    indicators = {i.pk: i for i in assessment.framework.indicators.all()}
    existing = {v.indicator_id: v for v in assessment.indicator_values.all()}
    for indicator_id, (numerator, denominator) in values.items():
        indicator = indicators[indicator_id]
        value = existing.get(indicator_id) or IndicatorValue(assessment=assessment, indicator=indicator)
        before = (value.numerator, value.denominator)
        if before == (numerator, denominator):
            continue
        value.numerator, value.denominator = numerator, denominator
        value.save()
        _event(
            assessment,
            edited_by,
            AuditAction.INDICATORS_CHANGED,
            subject=indicator.label,
            before=_figure(*before),
            after=_figure(numerator, denominator),
        )


def _figure(numerator, denominator) -> str:
    if numerator is None:
        return ""
    numerator = _decimal(Decimal(numerator))
    return f"{numerator} / {_decimal(Decimal(denominator))}" if denominator is not None else numerator


# ---- improvement plan -----------------------------------------------------------------------

ACTION_FIELDS = {
    "title": "Title",
    "owner": "Owner",
    "due_date": "Due date",
    "status": "Status",
    "progress_notes": "Progress notes",
}


@transaction.atomic
def save_action(
    *,
    assessment: Assessment,
    edited_by: User,
    action: Action | None = None,
    title: str,
    requirements: list[Requirement],
    owner: str,
    due_date,
    status: str,
    progress_notes: str = "",
) -> Action:
    """Add an action to the improvement plan, or change one."""
    assessment = _lock(assessment)
    _ensure_editable(assessment)
    _require_role(edited_by, assessment.trust, {TrustRole.LEAD, TrustRole.CONTRIBUTOR}, "change the improvement plan")
    if any(r.framework_id != assessment.framework_id for r in requirements):
        raise AssessmentError("Choose requirements from this assessment's framework.")
    values = {"title": title, "owner": owner, "due_date": due_date, "status": status, "progress_notes": progress_notes}
    if action is None:
        action = Action.objects.create(assessment=assessment, **values)
        _event(assessment, edited_by, AuditAction.ACTION_ADDED, subject=title)
    else:
        action = Action.objects.select_for_update().get(pk=action.pk, assessment=assessment)
        for field, value in values.items():
            old = getattr(action, field)
            if old != value:
                _event(
                    assessment,
                    edited_by,
                    AuditAction.ACTION_CHANGED,
                    subject=title,
                    field=ACTION_FIELDS[field],
                    before=old,
                    after=value,
                )
                setattr(action, field, value)
        action.carried_forward = False
        action.save()
    before_codes = sorted(r.code for r in action.requirements.all())
    after_codes = sorted(r.code for r in requirements)
    if before_codes != after_codes:
        action.requirements.set(requirements)
        _event(
            assessment,
            edited_by,
            AuditAction.ACTION_CHANGED,
            subject=title,
            field="Requirements",
            before=", ".join(before_codes),
            after=", ".join(after_codes),
        )
    return action


@transaction.atomic
def remove_action(*, action: Action, removed_by: User) -> None:
    assessment = _lock(action.assessment)
    _ensure_editable(assessment)
    _require_role(removed_by, assessment.trust, {TrustRole.LEAD}, "remove actions")
    _event(assessment, removed_by, AuditAction.ACTION_REMOVED, subject=action.title)
    action.delete()


# ---- board report cover sheet ---------------------------------------------------------------

COVER_SHEET_FIELDS = [
    "meeting",
    "meeting_date",
    "agenda_item",
    "title",
    "author",
    "lead_executive",
    "purpose",
    "assurance_level",
    "strategic_objectives",
    "baf_risks",
    "recommendation",
    "key_messages",
    "ask_of_the_board",
]


@transaction.atomic
def save_cover_sheet(*, assessment: Assessment, edited_by: User, **values) -> CoverSheet:
    """The lead writes the board paper's cover sheet and executive summary; it is approved with the rest."""
    assessment = _lock(assessment)
    _ensure_editable(assessment)
    _require_role(edited_by, assessment.trust, {TrustRole.LEAD}, "write the board report cover sheet")
    unknown = set(values) - set(COVER_SHEET_FIELDS)
    if unknown:
        raise TypeError(f"Unknown cover sheet fields: {sorted(unknown)}")
    cover, _ = CoverSheet.objects.select_for_update().get_or_create(assessment=assessment)
    for field in COVER_SHEET_FIELDS:
        if field not in values:
            continue
        old, new = getattr(cover, field), values[field]
        if old != new:
            _event(
                assessment,
                edited_by,
                AuditAction.COVER_SHEET_CHANGED,
                subject="Cover sheet",
                field=str(CoverSheet._meta.get_field(field).verbose_name).capitalize(),
                before=old,
                after=new,
            )
            setattr(cover, field, new)
    cover.updated_by = edited_by
    cover.save()
    return cover


# ---- sign-off -------------------------------------------------------------------------------


def missing_for_submission(assessment: Assessment) -> list[Response]:
    """Responses that stop the assessment being submitted: no rating, or no rationale."""
    return [r for r in assessment.responses.select_related("requirement", "rating") if not r.is_complete]


@transaction.atomic
def submit_for_sign_off(*, assessment: Assessment, submitted_by: User) -> Assessment:
    assessment = _lock(assessment)
    _require_role(submitted_by, assessment.trust, {TrustRole.LEAD}, "submit the assessment")
    _ensure_editable(assessment)
    missing = missing_for_submission(assessment)
    if missing:
        codes = ", ".join(r.requirement.code for r in missing)
        raise AssessmentError(f"Every requirement needs a rating and a rationale before submission. Missing: {codes}.")
    before = assessment.get_state_display()
    assessment.state = AssessmentState.AWAITING_SIGN_OFF
    assessment.submitted_at = timezone.now()
    assessment.submitted_by = submitted_by
    assessment.save(update_fields=["state", "submitted_at", "submitted_by"])
    _event(assessment, submitted_by, AuditAction.SUBMITTED, field="State", before=before, after="Awaiting sign-off")
    return assessment


def _ensure_awaiting(assessment: Assessment) -> None:
    if assessment.state != AssessmentState.AWAITING_SIGN_OFF:
        raise AssessmentError("Only an assessment awaiting sign-off can be approved or returned.")


@transaction.atomic
def return_assessment(*, assessment: Assessment, returned_by: User, reason: str) -> Assessment:
    assessment = _lock(assessment)
    _require_role(returned_by, assessment.trust, {TrustRole.EXECUTIVE}, "return the assessment")
    _ensure_awaiting(assessment)
    reason = reason.strip()
    if not reason:
        raise AssessmentError("Give a reason for returning the assessment.")
    assessment.state = AssessmentState.RETURNED
    assessment.returned_reason = reason
    assessment.save(update_fields=["state", "returned_reason"])
    _event(assessment, returned_by, AuditAction.RETURNED, field="State", before="Awaiting sign-off", after="Returned")
    _event(assessment, returned_by, AuditAction.RETURNED, field="Reason", after=reason)
    return assessment


@transaction.atomic
def approve(
    *,
    assessment: Assessment,
    approved_by: User,
    approver_name: str,
    approver_role: str,
    statement: str,
    seen_submission: str | None = None,
) -> Approval:
    """Sign the assessment off and freeze exactly what was approved, with its content hash.

    All or nothing: the state change, the snapshot and the audit row commit together.
    """
    assessment = _lock(assessment)
    _require_role(approved_by, assessment.trust, {TrustRole.EXECUTIVE}, "approve the assessment")
    _ensure_awaiting(assessment)
    if seen_submission is not None and seen_submission != assessment.submitted_at.isoformat():
        raise AssessmentError(
            "The assessment has been returned and submitted again since you opened this page. "
            "Read the new submission before you approve it."
        )
    if not (approver_name.strip() and approver_role.strip() and statement.strip()):
        raise AssessmentError("Give your name, your role and the sign-off statement.")
    approved_at = timezone.now()
    sign_off = {
        "name": approver_name.strip(),
        "role": approver_role.strip(),
        "statement": statement.strip(),
        "approved_at": approved_at.isoformat(),
    }
    snapshot = build_snapshot(assessment, sign_off=sign_off)
    approval = Approval.objects.create(
        assessment=assessment,
        revision=assessment.revision,
        approved_by=approved_by,
        approver_name=sign_off["name"],
        approver_role=sign_off["role"],
        statement=sign_off["statement"],
        approved_at=approved_at,
        snapshot=snapshot,
        content_hash=content_hash(snapshot),
    )
    assessment.state = AssessmentState.APPROVED
    assessment.save(update_fields=["state"])
    # Rendered once, from the frozen snapshot, after the approval is safely committed.
    transaction.on_commit(partial(render_board_report.enqueue, approval.pk))
    _event(assessment, approved_by, AuditAction.APPROVED, field="State", before="Awaiting sign-off", after="Approved")
    return approval


@transaction.atomic
def reopen(*, assessment: Assessment, reopened_by: User, reason: str) -> Assessment:
    """Start a new revision of an approved assessment; the approved revision stays as it was."""
    assessment = _lock(assessment)
    _require_role(reopened_by, assessment.trust, {TrustRole.LEAD, TrustRole.EXECUTIVE}, "reopen the assessment")
    if assessment.state != AssessmentState.APPROVED:
        raise AssessmentError("Only an approved assessment can be reopened.")
    reason = reason.strip()
    if not reason:
        raise AssessmentError("Give a reason for reopening the assessment.")
    assessment.state = AssessmentState.DRAFT
    assessment.revision += 1
    assessment.reopened_reason = reason
    assessment.returned_reason = ""
    assessment.save(update_fields=["state", "revision", "reopened_reason", "returned_reason"])
    _event(assessment, reopened_by, AuditAction.REOPENED, field="State", before="Approved", after="Draft")
    _event(assessment, reopened_by, AuditAction.REOPENED, field="Reason", after=reason)
    return assessment


# ---- the frozen snapshot --------------------------------------------------------------------


def content_hash(snapshot: dict) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def build_snapshot(assessment: Assessment, *, sign_off: dict) -> dict:
    """Everything that was approved, as plain JSON: answers, ratings, figures, actions and evidence versions.

    Evidence is recorded by the exact version (number and SHA-256) that was current at approval,
    so later uploads never change what was approved.
    """
    framework = assessment.framework
    responses = assessment.responses.select_related("requirement", "rating", "assignee").prefetch_related(
        "evidence_links__item__versions"
    )
    actions = assessment.actions.prefetch_related("requirements")
    values = {v.indicator_id: v for v in assessment.indicator_values.all()}
    return {
        "schema": 1,
        "trust": {"ods_code": assessment.trust.ods_code, "name": assessment.trust.name},
        "cycle": {
            "label": assessment.cycle.label,
            "snapshot_date": assessment.cycle.snapshot_date.isoformat(),
        },
        "framework": {"slug": framework.slug, "version": framework.version, "title": framework.title},
        "revision": assessment.revision,
        "submitted": {
            "by": assessment.submitted_by.full_name if assessment.submitted_by else None,
            "at": assessment.submitted_at.isoformat() if assessment.submitted_at else None,
        },
        "rating_levels": [
            {"value": level.value, "label": level.label, "meaning": level.meaning}
            for level in framework.rating_levels.all()
        ],
        "responses": [
            {
                "code": r.requirement.code,
                "title": r.requirement.title,
                "rating": {"value": r.rating.value, "label": r.rating.label} if r.rating else None,
                "rationale": r.rationale,
                "strengths": r.strengths,
                "gaps_and_risks": r.gaps_and_risks,
                "assignee": r.assignee.full_name if r.assignee else None,
                "evidence": [_evidence(link.item) for link in r.evidence_links.all()],
            }
            for r in responses
        ],
        "indicators": [
            {
                "code": indicator.code,
                "label": indicator.label,
                "unit": indicator.unit,
                "special_category": indicator.special_category,
                "numerator": _decimal(values[indicator.pk].numerator) if indicator.pk in values else None,
                "denominator": _decimal(values[indicator.pk].denominator) if indicator.pk in values else None,
            }
            for indicator in framework.indicators.all()
        ],
        "actions": [
            {
                "title": a.title,
                "requirements": sorted(r.code for r in a.requirements.all()),
                "owner": a.owner,
                "due_date": a.due_date.isoformat(),
                "status": a.status,
                "progress_notes": a.progress_notes,
            }
            for a in actions
        ],
        "cover_sheet": _cover_sheet(assessment),
        "sign_off": sign_off,
    }


def _cover_sheet(assessment: Assessment) -> dict:
    cover = CoverSheet.objects.filter(assessment=assessment).first() or CoverSheet(assessment=assessment)
    return {
        "meeting": cover.get_meeting_display(),
        "meeting_date": cover.meeting_date.isoformat() if cover.meeting_date else None,
        "agenda_item": cover.agenda_item,
        "title": cover.title,
        "author": cover.author,
        "lead_executive": cover.lead_executive,
        "purpose": cover.get_purpose_display(),
        "assurance_level": cover.get_assurance_level_display(),
        "strategic_objectives": cover.strategic_objectives,
        "baf_risks": cover.baf_risks,
        "recommendation": cover.recommendation,
        "key_messages": cover.key_messages,
        "ask_of_the_board": cover.ask_of_the_board,
    }


def _evidence(item: EvidenceItem) -> dict:
    versions = sorted(item.versions.all(), key=lambda v: v.number)
    latest = versions[-1] if versions else None
    return {
        "item_id": item.pk,
        "title": item.title,
        "kind": item.kind,
        "date": item.evidence_date.isoformat(),
        "owner": item.owner,
        "url": item.url or None,
        "version": latest.number if latest else None,
        "version_id": latest.pk if latest else None,
        "file_name": latest.original_name if latest else None,
        "sha256": latest.sha256 if latest else None,
    }
