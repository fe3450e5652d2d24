"""Settings for the portal, driven by environment variables.

Development (``DJANGO_DEBUG=1``) needs no configuration at all: SQLite in ``var/``,
e-mail printed to the console. Production refuses to start without ``SECRET_KEY``.
Every variable is documented in the README's "Configuration" section.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.storage_settings import file_storages

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DJANGO_DEBUG=1 for local development).")
    # Development only: a throwaway key that changes nothing outside this machine.
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Where the portal keeps what it writes: the embedded database and uploaded evidence.
# Outside the web root and outside STATIC_ROOT; files are served only through views.
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))

INSTALLED_APPS = [
    "portal",
    "requirements",
    "assessments",
    "portal.apps.PortalAdminConfig",  # django.contrib.admin, with a site that asks for two-factor sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

# Background tasks (rendering approved board reports) in a database queue: no extra service to run.
# `make run` starts the worker (`manage.py db_worker`); tests run tasks in-process.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RejectNulMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.IdleTimeoutSessionMiddleware",  # Django's SessionMiddleware, saving at most once a minute
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # After LoginRequiredMiddleware: a password alone reaches only the security-code pages.
    "portal.two_factor.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its lockout page still passes through the CSP and security middleware above.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.context_processors.service",
            ],
        },
    },
]

if "DATABASE_URL" not in os.environ:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set DATABASE_URL (postgres://user@host/name): a live portal runs on PostgreSQL. "
            "The embedded SQLite database is only for trying the portal with DJANGO_DEBUG=1 (`make run`)."
        )
    # The embedded SQLite database for a person just running the portal.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "signed-out"
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT_SECONDS", str(2 * 60 * 60)))

# Two-factor sign-in (django-otp, see portal/two_factor.py): the name authenticator apps show, and
# the base of the growing wait after each wrong code (1 s, 2 s, 4 s, ... per device).
OTP_TOTP_ISSUER = "MH social work self-assessment"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sessions end after a period of inactivity and when the browser closes: shared NHS workstations
# are common. Activity renews the session: portal.middleware.IdleTimeoutSessionMiddleware (in place
# of Django's SessionMiddleware) saves it at most once a minute, so an idle session ends within a
# minute of SESSION_COOKIE_AGE after its last request. With Django's, every request saves it.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = "portal.middleware.IdleTimeoutSessionMiddleware" not in MIDDLEWARE
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# A cache every app server shares, in the database (its table comes with `migrate`: portal
# migration 0003): what the comparison computes from approved snapshots, under keys naming the data
# it came from, and the board report re-queue throttle.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portal_cache",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
    # Each process's own: rendered page sections under keys that name the data they show
    # (assessments.sections). At most 500 entries: about 10 MB.
    "sections": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal-sections",
        "OPTIONS": {"MAX_ENTRIES": 500},
    },
    # Each process's own copies of the ICS comparison's sections, as read from the shared cache above
    # and uncompressed (about 250 KB for an ICB of 20 trusts): at most 40 of them, about 10 MB.
    "comparison": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal-comparison",
        "OPTIONS": {"MAX_ENTRIES": 40},
    },
}

# Sign-in throttling (django-axes). The axes backend comes first: it refuses a locked-out sign-in
# before any password is checked, so the right password does not get through a lockout either.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]


def _axes_username(request, credentials):
    """The e-mail address tried, lower-cased: sign-in ignores case, so the count must too."""
    data = credentials or getattr(request, "data", request.POST)
    username = data.get("username") or ""
    return username.strip().lower()


# How many proxies of our own (load balancer, TLS terminator) stand in front of the portal; 0 when
# clients connect straight to gunicorn. Without it, behind a proxy every sign-in seems to come
# from the proxy's address. (django-ipware is not installed, so axes' AXES_IPWARE_* settings
# would do nothing.)
AXES_TRUSTED_PROXY_COUNT = int(os.environ.get("AXES_TRUSTED_PROXY_COUNT", "0"))


def _axes_client_ip(request):
    """The client's address: ``REMOTE_ADDR``, or the address our own proxies saw when there are any.

    Each trusted proxy appends the address the request came to it from to ``X-Forwarded-For``,
    so with N of them the client is the Nth entry from the right; entries further left are
    whatever the client chose to send and are ignored, as is anything that is not an IP address.
    """
    import ipaddress

    from django.conf import settings

    proxies = settings.AXES_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies:
        try:
            return str(ipaddress.ip_address(forwarded[-proxies]))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")


AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
# Failures count per e-mail address and network address together: someone guessing a colleague's
# password cannot lock that colleague out from elsewhere, and a trust's staff sharing one outbound
# address do not lock each other out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = _axes_username
AXES_CLIENT_IP_CALLABLE = _axes_client_ip
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"

INVITATION_MAX_AGE = timedelta(days=int(os.environ.get("INVITATION_MAX_AGE_DAYS", "7")))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Compiled by `npm run build` from nhsuk-frontend's Sass (see package.json).
    BASE_DIR / "build" / "static",
]
# Evidence files and approved board reports (served only through views that check access): folders
# under VAR_DIR, or, with OBJECT_STORAGE_BUCKET set, one S3-compatible bucket that every app server
# shares (also OBJECT_STORAGE_ENDPOINT_URL, _REGION, _ADDRESSING_STYLE, _SERVER_SIDE_ENCRYPTION).
# Credentials come only from boto3's own chain: AWS_* environment variables or the instance's role.
STORAGES = {
    **file_storages(os.environ, VAR_DIR),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "portal.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "uploads"
EVIDENCE_MAX_UPLOAD_BYTES = int(os.environ.get("EVIDENCE_MAX_UPLOAD_MB", "20")) * 1024 * 1024

# Messages live in the session: the only cookies are the session and CSRF cookies (see the cookies page).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

CRISPY_ALLOWED_TEMPLATE_PACKS = ("nhsuk",)
CRISPY_TEMPLATE_PACK = "nhsuk"
CRISPY_FAIL_SILENTLY = not DEBUG

# E-mail: printed to the console unless an SMTP host is configured.
if os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": int(os.environ.get("EMAIL_PORT", "587")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Mental health social work portal <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security. Production defaults are strict; each can be relaxed by its variable.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER") else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe the health check over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 60 * 60)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload, as check --deploy asks; SECURE_HSTS_PRELOAD=0 leaves it out.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere: everything comes from our own static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

SERVICE_NAME = "Mental health social work self-assessment"
SERVICE_PHASE = os.environ.get("SERVICE_PHASE", "Beta")
SERVICE_CONTACT_EMAIL = os.environ.get("SERVICE_CONTACT_EMAIL", "portal-support@example.nhs.uk")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint and fontTools narrate every render at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
