"""Assessments: one per trust per cycle, against one framework version.

The foundation holds only what the scoping rules and the framework loader need;
responses, evidence, sign-off and snapshots are built on top of it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.models import Trust
from requirements.models import Framework


class Cycle(models.Model):
    """An annual assessment round, such as 2026/27, with its snapshot date and deadline."""

    label = models.CharField(max_length=7, unique=True, help_text="Such as 2026/27.")
    snapshot_date = models.DateField(help_text="The date the workforce figures describe, usually 31 March.")
    submission_deadline = models.DateField()

    class Meta:
        ordering = ["-label"]

    def __str__(self):
        return self.label


class AssessmentState(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_SIGN_OFF = "awaiting_sign_off", "Awaiting sign-off"
    RETURNED = "returned", "Returned"
    APPROVED = "approved", "Approved"


class AssessmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> AssessmentQuerySet:
        """Assessments this user may read.

        Trust contributors, leads and executives see their trust's assessments in every
        state; board readers and ICS leads see approved ones only. Platform
        administrators get no routine access to trusts' drafts.
        """
        from portal.models import TrustRole

        if not user.is_authenticated:
            return self.none()
        working_roles = [TrustRole.LEAD, TrustRole.CONTRIBUTOR, TrustRole.EXECUTIVE]
        return self.filter(
            Q(trust__memberships__user=user, trust__memberships__role__in=working_roles)
            | Q(trust__memberships__user=user, state=AssessmentState.APPROVED)
            | Q(trust__icb_memberships__icb__memberships__user=user, state=AssessmentState.APPROVED)
        ).distinct()


class Assessment(models.Model):
    trust = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="assessments")
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="assessments")
    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="assessments")
    state = models.CharField(max_length=20, choices=AssessmentState.choices, default=AssessmentState.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["trust__name", "-cycle__label"]
        constraints = [
            models.UniqueConstraint(fields=["trust", "cycle"], name="one_assessment_per_trust_per_cycle"),
            models.CheckConstraint(condition=Q(state__in=AssessmentState.values), name="assessment_state_valid"),
        ]

    def __str__(self):
        return f"{self.trust} {self.cycle}"
