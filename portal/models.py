"""People and organisations: users, NHS regions, ICBs, trusts, and who holds which role where."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # E-mail addresses are matched without regard to case.
        return self.get(email__iexact=username)

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("Users need an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with their e-mail address.

    Platform administrators are staff; every other right comes from memberships.
    """

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200)
    job_title = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("platform administrator", default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="An account with this email address already exists.",
            )
        ]

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = self.email.lower()
        super().save(*args, **kwargs)


class OrganisationManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(**{self.model.natural_key_field: code})


class Region(models.Model):
    """One of NHS England's seven regions."""

    code = models.CharField("ODS code", max_length=5, unique=True)
    name = models.CharField(max_length=200, unique=True)

    natural_key_field = "code"
    objects = OrganisationManager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class Organisation(models.Model):
    """What ICBs and trusts share: an ODS code, a name, a region and dates of operation."""

    ods_code = models.CharField("ODS code", max_length=5, unique=True)
    name = models.CharField(max_length=250)
    region = models.ForeignKey(Region, on_delete=models.PROTECT)
    open_date = models.DateField(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)

    natural_key_field = "ods_code"
    objects = OrganisationManager()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.ods_code,)

    @property
    def is_open(self) -> bool:
        return self.close_date is None or self.close_date > timezone.localdate()


class ICB(Organisation):
    """An integrated care board, the statutory body of an integrated care system."""

    class Meta(Organisation.Meta):
        verbose_name = "ICB"
        verbose_name_plural = "ICBs"


def in_icb_led_by(user, *, on, prefix: str = "") -> Q:
    """Rows whose trust belonged, on a date, to an ICB where the user is ICS lead.

    ``on`` is a date or an F() expression (such as the cycle's snapshot date), so that past
    assessments roll up to the ICB the trust belonged to at the time. ``prefix`` is the path
    from the queried model to the trust (``"trust__"`` for an assessment).
    """
    link = f"{prefix}icb_memberships__"
    return Q(
        Q(**{f"{link}end_date__isnull": True}) | Q(**{f"{link}end_date__gte": on}),
        **{f"{link}icb__memberships__user": user, f"{link}start_date__lte": on},
    )


class TrustQuerySet(models.QuerySet):
    def visible_to(self, user) -> TrustQuerySet:
        """Trusts whose data this user may read: their own, and those in ICBs they lead today."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(memberships__user=user) | in_icb_led_by(user, on=timezone.localdate())).distinct()


class Trust(Organisation):
    """An NHS trust that provides mental health services."""

    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="predecessors",
        help_text="The trust that took over this one's services when it closed.",
    )

    objects = OrganisationManager.from_queryset(TrustQuerySet)()

    class Meta(Organisation.Meta):
        pass

    def icbs_on(self, date: datetime.date):
        """The ICBs this trust belonged to on a date (a trust can serve several)."""
        return ICB.objects.filter(
            trust_memberships__in=TrustICBMembership.objects.effective_on(date).filter(trust=self)
        ).distinct()


class TrustICBQuerySet(models.QuerySet):
    def effective_on(self, date: datetime.date) -> TrustICBQuerySet:
        return self.filter(Q(end_date__isnull=True) | Q(end_date__gte=date), start_date__lte=date)


class TrustICBManager(models.Manager.from_queryset(TrustICBQuerySet)):
    def get_by_natural_key(self, trust_code, icb_code, start_date):
        return self.get(trust__ods_code=trust_code, icb__ods_code=icb_code, start_date=start_date)


class TrustICBMembership(models.Model):
    """A trust serving an ICB over a period; one of a trust's ICBs is its host."""

    trust = models.ForeignKey(Trust, on_delete=models.CASCADE, related_name="icb_memberships")
    icb = models.ForeignKey(ICB, on_delete=models.PROTECT, related_name="trust_memberships")
    is_host = models.BooleanField(default=False, help_text="The ICB that leads for this trust.")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    objects = TrustICBManager()

    class Meta:
        verbose_name = "trust's ICB membership"
        ordering = ["trust__name", "-is_host", "icb__name"]
        constraints = [
            models.UniqueConstraint(fields=["trust", "icb", "start_date"], name="trust_icb_unique_start"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="trust_icb_end_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.trust} in {self.icb}"

    def natural_key(self):
        return (self.trust.ods_code, self.icb.ods_code, self.start_date.isoformat())

    natural_key.dependencies = ["portal.trust", "portal.icb"]


class TrustRole(models.TextChoices):
    CONTRIBUTOR = "contributor", "Contributor"
    LEAD = "lead", "Social work lead"
    EXECUTIVE = "executive", "Executive sponsor"
    BOARD_READER = "board_reader", "Board reader"


TRUST_ROLE_DESCRIPTIONS = {
    TrustRole.LEAD: "Runs the trust's self-assessment: answers any requirement, assigns requirements "
    "to colleagues, submits for sign-off and manages who has access.",
    TrustRole.CONTRIBUTOR: "Answers the requirements assigned to them, attaches evidence and enters workforce figures.",
    TrustRole.EXECUTIVE: "Signs off the trust's self-assessment, or sends it back with reasons.",
    TrustRole.BOARD_READER: "Reads signed-off assessments and downloads the board report.",
}


class TrustMembership(models.Model):
    """A person's role at a trust. One role per person per trust."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="trust_memberships")
    trust = models.ForeignKey(Trust, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=TrustRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trust__name", "user__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "trust"], name="one_role_per_person_per_trust"),
            models.CheckConstraint(condition=Q(role__in=TrustRole.values), name="trust_membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} at {self.trust}"

    @property
    def role_description(self) -> str:
        return TRUST_ROLE_DESCRIPTIONS[self.role]


class ICBRole(models.TextChoices):
    ICS_LEAD = "ics_lead", "ICS lead"


class ICBMembership(models.Model):
    """A person's role at an ICB: ICS leads compare the trusts in their system."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="icb_memberships")
    icb = models.ForeignKey(ICB, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=ICBRole.choices, default=ICBRole.ICS_LEAD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ICB membership"
        ordering = ["icb__name", "user__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "icb"], name="one_role_per_person_per_icb"),
            models.CheckConstraint(condition=Q(role__in=ICBRole.values), name="icb_membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} at {self.icb}"


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """A single-use, expiring invitation to join a trust with a role.

    Only a hash of the token is stored: the link in the e-mail is the only copy.
    """

    trust = models.ForeignKey(Trust, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=TrustRole.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="invitations_sent")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_accepted"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=TrustRole.values), name="invitation_role_valid"),
        ]

    def __str__(self):
        return f"Invitation for {self.email} to {self.trust}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class AuditEvent(models.Model):
    """A change someone made, kept for the trust to read: who, what, when, and field before → after.

    Written by the service function that makes the change, in the same transaction.
    """

    trust = models.ForeignKey(Trust, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=60)
    summary = models.CharField(max_length=500)
    changes = models.JSONField(default=dict, blank=True, help_text="Field name → [before, after].")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.summary
