from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "People and organisations"


class PortalAdminConfig(admin_apps.AdminConfig):
    """The admin, on a site that also insists on two-factor sign-in (see portal.admin_site)."""

    default = False  # PortalConfig stays this module's default

    default_site = "portal.admin_site.PortalAdminSite"
