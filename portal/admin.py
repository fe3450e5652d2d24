from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from portal import two_factor
from portal.models import (
    ICB,
    AuditEvent,
    ICBMembership,
    Invitation,
    Region,
    Trust,
    TrustICBMembership,
    TrustMembership,
    User,
)


class TrustMembershipInline(admin.TabularInline):
    model = TrustMembership
    extra = 0
    autocomplete_fields = ["trust"]


class ICBMembershipInline(admin.TabularInline):
    model = ICBMembership
    extra = 0
    autocomplete_fields = ["icb"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "job_title", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_staff", "is_active"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal details", {"fields": ["full_name", "job_title"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})]
    inlines = [TrustMembershipInline, ICBMembershipInline]
    actions = ["reset_two_factor"]

    @admin.action(description="Reset two-factor sign-in (lost phone): they set up a new app at their next sign-in")
    def reset_two_factor(self, request, queryset):
        people = list(queryset)
        for person in people:
            two_factor.reset(person, actor=request.user)
        noun = "person" if len(people) == 1 else "people"
        self.message_user(request, f"Two-factor sign-in reset for {len(people)} {noun}", messages.SUCCESS)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]


class TrustICBMembershipInline(admin.TabularInline):
    model = TrustICBMembership
    extra = 0
    autocomplete_fields = ["icb"]


@admin.register(ICB)
class ICBAdmin(admin.ModelAdmin):
    list_display = ["name", "ods_code", "region", "open_date", "close_date"]
    list_filter = ["region"]
    search_fields = ["name", "ods_code"]


@admin.register(Trust)
class TrustAdmin(admin.ModelAdmin):
    list_display = ["name", "ods_code", "region", "open_date", "close_date"]
    list_filter = ["region"]
    search_fields = ["name", "ods_code"]
    autocomplete_fields = ["successor"]
    inlines = [TrustICBMembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "trust", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "trust__name"]
    exclude = ["token_hash"]
    readonly_fields = [
        "trust",
        "email",
        "full_name",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]

    def has_add_permission(self, request):
        # Invitations are sent by trust leads from the portal, so that the e-mail and audit trail exist.
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "trust", "actor", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "trust__name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
