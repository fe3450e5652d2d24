"""The framework as versioned data: requirements, rating levels and workforce indicators.

Nothing here assumes how many requirements or levels a version has. A version that an
assessment has used is frozen: the loader refuses to change it (see ``loader.py``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class FrameworkStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class FrameworkQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=FrameworkStatus.PUBLISHED)

    def public(self):
        """Versions anyone may read: published and retired ones, never drafts."""
        return self.filter(status__in=[FrameworkStatus.PUBLISHED, FrameworkStatus.RETIRED])

    def with_requirements_and_scale(self):
        """Everything a framework page shows, in a fixed number of queries."""
        return self.prefetch_related("requirements", "rating_levels", "indicators")

    def current(self, slug: str | None = None) -> Framework | None:
        """The newest published version (of one framework, if a slug is given)."""
        versions = self.published()
        if slug:
            versions = versions.filter(slug=slug)
        return versions.order_by("-publication_date", "-id").first()


class Framework(models.Model):
    """One version of a framework, such as the eight organisational requirements, 2026 refresh."""

    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=250)
    publisher = models.CharField(max_length=250)
    version = models.CharField(max_length=20)
    publication_date = models.DateField()
    status = models.CharField(max_length=12, choices=FrameworkStatus.choices, default=FrameworkStatus.DRAFT)
    summary = models.TextField(blank=True)
    source_note = models.TextField(
        blank=True, help_text="Where the wording comes from, and how far it is a summary of the official text."
    )

    objects = FrameworkQuerySet.as_manager()

    class Meta:
        ordering = ["slug", "-publication_date"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="framework_version_unique"),
            models.CheckConstraint(condition=Q(status__in=FrameworkStatus.values), name="framework_status_valid"),
            models.CheckConstraint(condition=~Q(title=""), name="framework_title_not_empty"),
        ]

    def __str__(self):
        return f"{self.title} (version {self.version})"

    def is_in_use(self) -> bool:
        """Whether any assessment uses this version, which freezes its content."""
        return self.assessments.exists()


class Requirement(models.Model):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="requirements")
    code = models.CharField(max_length=10, help_text="Stable across versions, such as R1.")
    order = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=250)
    summary = models.TextField()
    what_good_looks_like = models.TextField(blank=True)
    typical_evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["framework", "order"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="requirement_code_unique"),
            models.UniqueConstraint(fields=["framework", "order"], name="requirement_order_unique"),
            models.CheckConstraint(condition=~Q(code=""), name="requirement_code_not_empty"),
            models.CheckConstraint(condition=~Q(title=""), name="requirement_title_not_empty"),
        ]

    def __str__(self):
        return f"{self.code}: {self.title}"

    @property
    def typical_evidence_items(self) -> list[str]:
        """Typical evidence is stored one item a line."""
        return [line.strip() for line in self.typical_evidence.splitlines() if line.strip()]


class RatingLevel(models.Model):
    """A point on the framework version's rating scale, such as 3, Largely met."""

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="rating_levels")
    value = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100)
    meaning = models.TextField()

    class Meta:
        ordering = ["framework", "value"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "value"], name="rating_level_value_unique"),
            models.CheckConstraint(condition=Q(value__gte=1), name="rating_level_value_positive"),
            models.CheckConstraint(condition=~Q(label=""), name="rating_level_label_not_empty"),
        ]

    def __str__(self):
        # Label and number together, everywhere: never colour alone.
        return f"{self.value} – {self.label}"


class IndicatorUnit(models.TextChoices):
    COUNT = "count", "Count"
    WTE = "wte", "Whole-time equivalent"
    PERCENTAGE = "percentage", "Percentage"


class IndicatorDefinition(models.Model):
    """A workforce figure captured beside the ratings, as a count or a numerator over a denominator."""

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="indicators")
    code = models.CharField(max_length=40)
    order = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=250)
    definition = models.TextField()
    unit = models.CharField(max_length=12, choices=IndicatorUnit.choices)
    numerator_label = models.CharField(max_length=250)
    denominator_label = models.CharField(max_length=250, blank=True, help_text="Blank for a plain count or total.")
    data_source = models.CharField(max_length=250)
    special_category = models.BooleanField(
        default=False,
        help_text="Special category data (such as ethnicity): counts from 1 to 7 are suppressed outside the trust.",
    )
    plausible_maximum_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A rate above this is flagged as implausible, to be checked."
    )

    class Meta:
        ordering = ["framework", "order"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="indicator_code_unique"),
            models.UniqueConstraint(fields=["framework", "order"], name="indicator_order_unique"),
            models.CheckConstraint(condition=Q(unit__in=IndicatorUnit.values), name="indicator_unit_valid"),
            models.CheckConstraint(
                condition=Q(plausible_maximum_percent__isnull=True) | Q(plausible_maximum_percent__range=(1, 100)),
                name="indicator_plausible_maximum_is_a_percentage",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def is_rate(self) -> bool:
        return bool(self.denominator_label)
