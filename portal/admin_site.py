from functools import wraps

from django.contrib import admin

# The platform's audit trail entry for a change made in /admin/ (see PortalAdminSite.admin_view).
ADMIN_CHANGE = "admin_change"


class PortalAdminSite(admin.AdminSite):
    """The platform administrators' site. TwoFactorRequiredMiddleware already sends an administrator
    who has only given a password to the security-code page; the site checks it again itself."""

    site_header = "Mental health social work self-assessment: administration"
    site_title = "Administration"

    def has_permission(self, request):
        user = request.user
        return super().has_permission(request) and getattr(user, "is_verified", lambda: False)()

    def admin_view(self, view, cacheable=False):
        """Every admin page, and a line in the platform's audit trail for each change made through one.

        A POST the admin answers with a redirect is a change it made (an add, a change, a deletion,
        an action). Django's own admin log records what changed, but its rows go when the person
        who made them is deleted; the platform's trail keeps them, and pages cached under its
        latest entry (assessments.sections) are rendered again.
        """
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def audited(request, *args, **kwargs):
            response = inner(request, *args, **kwargs)
            if request.method == "POST" and 300 <= response.status_code < 400 and view != self.logout:
                from portal.models import AuditEvent, User  # the admin site is made before the models load

                user = request.user
                # Unless the change was to delete their own account.
                still_here = user.is_authenticated and User.objects.filter(pk=user.pk).exists()
                AuditEvent.objects.create(
                    trust=None,
                    actor=user if still_here else None,
                    action=ADMIN_CHANGE,
                    summary=f"Changed in the admin by {user.email}: {request.path}"[:500],
                )
            return response

        return audited
