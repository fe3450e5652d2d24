"""Framework versions for platform administrators.

Versions are normally loaded from ``fixtures/frameworks/`` with ``manage.py load_framework``.
The admin follows the loader's rule: a version that assessments use is read-only, except
that it may move between published and retired.
"""

from django.contrib import admin
from django.db.models import Count

from requirements.models import Framework, FrameworkStatus, IndicatorDefinition, RatingLevel, Requirement


def _is_frozen(framework: Framework | None) -> bool:
    if framework is None or framework.pk is None:
        return False
    count = getattr(framework, "assessment_count", None)
    if count is None:
        count = framework.assessment_count = framework.assessments.count()
    return count > 0


class FrozenWhenUsedInline:
    """No adding, changing or removing entries of a version that assessments use."""

    extra = 0

    def has_add_permission(self, request, obj=None):
        return not _is_frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_frozen(obj) and super().has_delete_permission(request, obj)


class RequirementInline(FrozenWhenUsedInline, admin.StackedInline):
    model = Requirement
    fields = ("code", "order", "title", "summary", "what_good_looks_like", "typical_evidence")


class RatingLevelInline(FrozenWhenUsedInline, admin.TabularInline):
    model = RatingLevel
    fields = ("value", "label", "meaning")


class IndicatorInline(FrozenWhenUsedInline, admin.StackedInline):
    model = IndicatorDefinition
    fields = (
        ("code", "order"),
        "label",
        "definition",
        ("unit", "special_category", "plausible_maximum_percent"),
        "numerator_label",
        "denominator_label",
        "data_source",
    )


@admin.register(Framework)
class FrameworkAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "version", "status", "publication_date", "assessments_using")
    list_filter = ("status", "slug")
    search_fields = ("title", "slug", "version")
    inlines = [RatingLevelInline, RequirementInline, IndicatorInline]
    fieldsets = [
        (
            None,
            {
                "description": (
                    "Versions are normally loaded from a file with <code>manage.py load_framework</code>. "
                    "A version that assessments use is read-only; only its status can still change, "
                    "between published and retired."
                ),
                "fields": ["slug", "version", "status", "title", "publisher", "publication_date"],
            },
        ),
        ("Text", {"fields": ["summary", "source_note"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(assessment_count=Count("assessments"))

    @admin.display(description="Assessments", ordering="assessment_count")
    def assessments_using(self, framework):
        return framework.assessment_count

    def get_readonly_fields(self, request, obj=None):
        if _is_frozen(obj):
            return ["slug", "version", "title", "publisher", "publication_date", "summary", "source_note"]
        return []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if _is_frozen(obj):
            # Going back to draft would hide a version that assessments were made against.
            form.base_fields["status"].choices = [
                choice for choice in FrameworkStatus.choices if choice[0] != FrameworkStatus.DRAFT
            ]
        return form

    def has_delete_permission(self, request, obj=None):
        return not _is_frozen(obj) and super().has_delete_permission(request, obj)
