from django.contrib import admin


class PortalAdminSite(admin.AdminSite):
    """The platform administrators' site. TwoFactorRequiredMiddleware already sends an administrator
    who has only given a password to the security-code page; the site checks it again itself."""

    site_header = "Mental health social work self-assessment: administration"
    site_title = "Administration"

    def has_permission(self, request):
        user = request.user
        return super().has_permission(request) and getattr(user, "is_verified", lambda: False)()
