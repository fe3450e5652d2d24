"""Assessments: one per trust per cycle, against one framework version.

An assessment holds one response per requirement of its framework version, workforce
figures, links to the trust's evidence library and an improvement plan. Approval freezes
an ``Approval`` snapshot of exactly what was signed off; reopening starts a new revision.
Every change goes through ``services.py``, which writes ``AssessmentEvent`` audit rows in
the same transaction.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.models import Trust, TrustMembership, TrustRole, in_icb_led_by
from requirements.models import Framework, IndicatorDefinition, RatingLevel, Requirement


class Cycle(models.Model):
    """An annual assessment round, such as 2026/27, with its snapshot date and deadline.

    The platform administrator sets the deadline.
    """

    label = models.CharField(max_length=7, unique=True, help_text="Such as 2026/27.")
    snapshot_date = models.DateField(help_text="The date the workforce figures describe, usually 31 March.")
    submission_deadline = models.DateField()

    class Meta:
        ordering = ["-label"]

    def __str__(self):
        return self.label

    @property
    def is_past_deadline(self) -> bool:
        return timezone.localdate() > self.submission_deadline


class AssessmentState(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_SIGN_OFF = "awaiting_sign_off", "Awaiting sign-off"
    RETURNED = "returned", "Returned"
    APPROVED = "approved", "Approved"


EDITABLE_STATES = {AssessmentState.DRAFT, AssessmentState.RETURNED}
WORKING_ROLES = {TrustRole.LEAD, TrustRole.CONTRIBUTOR, TrustRole.EXECUTIVE}


class AssessmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> AssessmentQuerySet:
        """Assessments this user may read.

        Trust contributors, leads and executives see their trust's assessments in every
        state; board readers and ICS leads see approved ones only. An assessment that
        has been approved once and then reopened stays visible to them through its
        approvals (see ``Approval.objects.visible_to``), not as a live draft.
        Platform administrators get no routine access to trusts' drafts.
        """
        if not user.is_authenticated:
            return self.none()
        # Correlated EXISTS subqueries rather than joins and DISTINCT: the same rows, and PostgreSQL
        # plans them in a fraction of the time (this runs on every page of an assessment).
        member = TrustMembership.objects.filter(trust=OuterRef("trust"), user=user)
        led = Trust.objects.filter(in_icb_led_by(user, on=OuterRef("cycle__snapshot_date")), pk=OuterRef("trust"))
        return self.filter(
            Exists(member.filter(role__in=WORKING_ROLES))
            | Q(Exists(member) | Exists(led), state=AssessmentState.APPROVED)
        )


class Assessment(models.Model):
    trust = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="assessments")
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="assessments")
    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="assessments")
    state = models.CharField(max_length=20, choices=AssessmentState.choices, default=AssessmentState.DRAFT)
    revision = models.PositiveSmallIntegerField(default=1)
    carried_forward_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carried_forward_to"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    returned_reason = models.TextField(blank=True)
    reopened_reason = models.TextField(blank=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["trust__name", "-cycle__label"]
        constraints = [
            models.UniqueConstraint(fields=["trust", "cycle"], name="one_assessment_per_trust_per_cycle"),
            models.CheckConstraint(condition=Q(state__in=AssessmentState.values), name="assessment_state_valid"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="assessment_revision_positive"),
        ]

    def __str__(self):
        return f"{self.trust} {self.cycle}"

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES


class ResponseStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    READY = "ready", "Ready"


class Response(models.Model):
    """The trust's answer to one requirement: a rating with its rationale, strengths, gaps and evidence."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="responses")
    requirement = models.ForeignKey(Requirement, on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_responses"
    )
    rating = models.ForeignKey(RatingLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rationale = models.TextField(blank=True)
    strengths = models.TextField(blank=True)
    gaps_and_risks = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=ResponseStatus.choices, default=ResponseStatus.NOT_STARTED)
    carried_forward = models.BooleanField(
        default=False, help_text="Copied from last cycle and not yet reviewed: shown as 'carried forward: review'."
    )
    evidence = models.ManyToManyField("EvidenceItem", through="ResponseEvidence", related_name="responses")
    # Optimistic locking: a save must name the version it started from.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["requirement__order"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "requirement"], name="one_response_per_requirement"),
            models.CheckConstraint(condition=Q(status__in=ResponseStatus.values), name="response_status_valid"),
            # A rating always needs a written rationale (DOMAIN §4).
            models.CheckConstraint(condition=Q(rating__isnull=True) | ~Q(rationale=""), name="rating_needs_rationale"),
            models.CheckConstraint(
                condition=~Q(status=ResponseStatus.READY) | Q(rating__isnull=False), name="ready_needs_rating"
            ),
        ]

    def __str__(self):
        return f"{self.requirement.code} for {self.assessment}"

    @property
    def is_complete(self) -> bool:
        return self.rating_id is not None and bool(self.rationale.strip())


class AuditAction(models.TextChoices):
    STARTED = "started", "Started the assessment"
    ASSIGNED = "assigned", "Assigned a requirement"
    RESPONSE_CHANGED = "response_changed", "Changed a response"
    EVIDENCE_LINKED = "evidence_linked", "Linked evidence"
    EVIDENCE_UNLINKED = "evidence_unlinked", "Removed linked evidence"
    INDICATORS_CHANGED = "indicators_changed", "Changed workforce figures"
    ACTION_ADDED = "action_added", "Added an action"
    ACTION_CHANGED = "action_changed", "Changed an action"
    ACTION_REMOVED = "action_removed", "Removed an action"
    SUBMITTED = "submitted", "Submitted for sign-off"
    RETURNED = "returned", "Returned to draft"
    APPROVED = "approved", "Approved"
    REOPENED = "reopened", "Reopened"
    COVER_SHEET_CHANGED = "cover_sheet_changed", "Changed the board report cover sheet"


class AssessmentEvent(models.Model):
    """One line of an assessment's audit trail: who changed what, when, before and after."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    subject = models.CharField(max_length=250, blank=True, help_text="What was changed, such as 'R3' or an action.")
    field = models.CharField(max_length=100, blank=True)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    revision = models.PositiveSmallIntegerField()
    response_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="For response changes: the response version this change created."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_action_display()} {self.subject}".strip()


# ---- Evidence library -------------------------------------------------------------------


class EvidenceKind(models.TextChoices):
    FILE = "file", "Document"
    LINK = "link", "Link"


class EvidenceItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> EvidenceItemQuerySet:
        """Evidence of the trusts where the user is a lead, contributor or executive."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(trust__memberships__user=user, trust__memberships__role__in=WORKING_ROLES).distinct()


class EvidenceItem(models.Model):
    """A document or link in a trust's evidence library, reusable across requirements and cycles."""

    trust = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="evidence_items")
    kind = models.CharField(max_length=4, choices=EvidenceKind.choices)
    title = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    evidence_date = models.DateField(help_text="The date of the document, such as when minutes were approved.")
    owner = models.CharField(max_length=200, help_text="Who in the trust owns the document.")
    url = models.URLField(max_length=1000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EvidenceItemQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"),
            models.CheckConstraint(condition=~Q(kind=EvidenceKind.LINK) | ~Q(url=""), name="link_needs_url"),
        ]

    def __str__(self):
        return self.title


def evidence_upload_to(instance, filename):
    # A random storage name: the uploader's file name is kept in the database only.
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"evidence/{instance.item.trust_id}/{uuid.uuid4().hex}{suffix}"


def evidence_storage():
    # Outside the web root, never served directly: downloads go through a view that checks access.
    return storages["evidence"]


class EvidenceVersion(models.Model):
    """One uploaded file of an evidence item. Versions are never changed or deleted."""

    item = models.ForeignKey(EvidenceItem, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveSmallIntegerField()
    file = models.FileField(upload_to=evidence_upload_to, storage=evidence_storage, max_length=200)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    confirmed_no_patient_data = models.BooleanField()
    possible_nhs_numbers = models.PositiveIntegerField(
        default=0, help_text="How many NHS-number-like values were found and confirmed as not NHS numbers."
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="evidence_version_number_unique"),
            models.CheckConstraint(condition=Q(confirmed_no_patient_data=True), name="evidence_confirmed_no_pid"),
        ]

    def __str__(self):
        return f"{self.item} (version {self.number})"


class ResponseEvidence(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="evidence_links")
    item = models.ForeignKey(EvidenceItem, on_delete=models.PROTECT, related_name="response_links")
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item__title"]
        constraints = [models.UniqueConstraint(fields=["response", "item"], name="evidence_linked_once")]

    def __str__(self):
        return f"{self.item} for {self.response}"


# ---- Workforce figures and improvement plan ----------------------------------------------


class IndicatorValue(models.Model):
    """A workforce figure for the assessment: a count, or a numerator over a denominator."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="indicator_values")
    indicator = models.ForeignKey(IndicatorDefinition, on_delete=models.PROTECT, related_name="+")
    numerator = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    denominator = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["indicator__order"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "indicator"], name="one_value_per_indicator"),
            models.CheckConstraint(
                condition=Q(numerator__isnull=True) | Q(numerator__gte=0), name="numerator_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(denominator__isnull=True) | Q(denominator__gt=0), name="denominator_above_zero"
            ),
            models.CheckConstraint(
                condition=Q(numerator__isnull=True)
                | Q(denominator__isnull=True)
                | Q(numerator__lte=models.F("denominator")),
                name="numerator_not_above_denominator",
            ),
        ]

    def __str__(self):
        return f"{self.indicator} for {self.assessment}"

    @property
    def rate(self):
        """The percentage, for indicators captured as numerator over denominator."""
        if self.numerator is None or not self.denominator:
            return None
        return round(self.numerator * 100 / self.denominator, 1)


class ActionStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class Action(models.Model):
    """A step in the trust's improvement plan, against one or more requirements."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=250)
    requirements = models.ManyToManyField(Requirement, related_name="+")
    owner = models.CharField(max_length=200)
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.NOT_STARTED)
    progress_notes = models.TextField(blank=True)
    carried_forward = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ActionStatus.values), name="action_status_valid"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_overdue(self) -> bool:
        return self.status != ActionStatus.COMPLETE and self.due_date < timezone.localdate()

    @property
    def display_status(self) -> str:
        """Overdue is derived from the due date, never stored."""
        return "Overdue" if self.is_overdue else self.get_status_display()


# ---- Sign-off ------------------------------------------------------------------------------


class ApprovalQuerySet(models.QuerySet):
    def visible_to(self, user) -> ApprovalQuerySet:
        """Approved revisions: every member of the trust, and ICS leads of the trust's ICBs."""
        if not user.is_authenticated:
            return self.none()
        member = TrustMembership.objects.filter(trust=OuterRef("assessment__trust"), user=user)
        led = Trust.objects.filter(
            in_icb_led_by(user, on=OuterRef("assessment__cycle__snapshot_date")),
            pk=OuterRef("assessment__trust"),
        )
        return self.filter(Exists(member) | Exists(led))


class Approval(models.Model):
    """Exactly what an executive signed off: a frozen snapshot of one revision, with its content hash."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="approvals")
    revision = models.PositiveSmallIntegerField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    approver_name = models.CharField(max_length=200)
    approver_role = models.CharField(max_length=200)
    statement = models.TextField()
    approved_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField()
    content_hash = models.CharField(max_length=64)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["assessment", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "revision"], name="one_approval_per_revision"),
        ]

    def __str__(self):
        return f"{self.assessment}, revision {self.revision}"


# ---- Board report ----------------------------------------------------------------------------


class Meeting(models.TextChoices):
    BOARD = "board", "Trust Board"
    PEOPLE_COMMITTEE = "people_committee", "People Committee"


class Purpose(models.TextChoices):
    APPROVAL = "approval", "Approval"
    ASSURANCE = "assurance", "Assurance"
    DISCUSSION = "discussion", "Discussion"
    INFORMATION = "information", "Information"


class AssuranceLevel(models.TextChoices):
    """The board's assurance level: kept apart from requirement ratings (DOMAIN §4)."""

    NONE = "none", "No assurance"
    LIMITED = "limited", "Limited assurance"
    REASONABLE = "reasonable", "Reasonable assurance"
    SUBSTANTIAL = "substantial", "Substantial assurance"


class CoverSheet(models.Model):
    """The board paper's cover sheet and executive summary, in the lead's own words.

    Part of what the executive approves: it is frozen into the approval snapshot.
    """

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="cover_sheet")
    meeting = models.CharField(max_length=20, choices=Meeting.choices, default=Meeting.BOARD)
    meeting_date = models.DateField(null=True, blank=True)
    agenda_item = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=250, blank=True)
    author = models.CharField(max_length=200, blank=True)
    lead_executive = models.CharField(max_length=200, blank=True)
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.ASSURANCE)
    assurance_level = models.CharField(max_length=12, choices=AssuranceLevel.choices, default=AssuranceLevel.REASONABLE)
    strategic_objectives = models.TextField(blank=True, help_text="Links to the trust's strategic objectives.")
    baf_risks = models.TextField("Board Assurance Framework risks", blank=True)
    recommendation = models.TextField(blank=True)
    key_messages = models.TextField(blank=True)
    ask_of_the_board = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(meeting__in=Meeting.values), name="cover_meeting_valid"),
            models.CheckConstraint(condition=Q(purpose__in=Purpose.values), name="cover_purpose_valid"),
            models.CheckConstraint(
                condition=Q(assurance_level__in=AssuranceLevel.values), name="cover_assurance_valid"
            ),
        ]

    def __str__(self):
        return f"Cover sheet for {self.assessment}"


def report_storage():
    return storages["reports"]


def report_upload_to(instance, filename):
    return f"reports/{instance.approval.assessment.trust_id}/{uuid.uuid4().hex}.pdf"


class BoardReport(models.Model):
    """The approved board report: rendered once from the frozen snapshot and served byte for byte."""

    approval = models.OneToOneField(Approval, on_delete=models.PROTECT, related_name="board_report")
    file = models.FileField(upload_to=report_upload_to, storage=report_storage, max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    pages = models.PositiveSmallIntegerField()
    rendered_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Board report for {self.approval}"
