from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "People and organisations"


class PortalAdminConfig(admin_apps.AdminConfig):
    """The admin, on a site that also insists on two-factor sign-in (see portal.admin_site)."""

    default = False  # PortalConfig stays this module's default

    def ready(self):
        super().ready()  # autodiscovers every app's admin module
        from django.contrib import admin
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # django-otp's own admin pages show authenticator keys and unused recovery codes, and add
        # devices without the audit trail: two-factor is managed only through the audited reset.
        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)

    default_site = "portal.admin_site.PortalAdminSite"
