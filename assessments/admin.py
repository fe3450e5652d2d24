"""Platform administrators set up assessment cycles and their deadlines.

Trusts' assessments, answers and evidence are deliberately not in the admin: administrators
have no routine access to trusts' drafts.
"""

from django.contrib import admin

from assessments.models import Cycle


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    list_display = ["label", "snapshot_date", "submission_deadline"]
    ordering = ["-label"]

    def get_readonly_fields(self, request, obj=None):
        # Once a trust has started an assessment for a cycle, its label is fixed.
        if obj is not None and obj.assessments.exists():
            return ["label"]
        return []

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.assessments.exists()
