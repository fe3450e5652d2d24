"""Production settings refuse to start half-configured: each case runs Django in a fresh process."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION = {
    "SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-django-checks-0123456789",
    "ALLOWED_HOSTS": "portal.example.nhs.uk",
    "DATABASE_URL": "postgres://portal@db.example.nhs.uk/portal",
}


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "SECURE_", "SESSION_"))
    }
    base.pop("SECRET_KEY", None)
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_live_portal_without_a_database_url_refuses_to_start():
    result = run_settings({k: v for k, v in PRODUCTION.items() if k != "DATABASE_URL"}, "print('started')")
    assert result.returncode != 0
    assert "Set DATABASE_URL" in result.stderr
    assert "started" not in result.stdout


def test_a_live_portal_without_a_secret_key_refuses_to_start():
    result = run_settings({k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}, "print('started')")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_security_settings():
    result = run_settings(
        PRODUCTION,
        "print(settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_PRELOAD, settings.SESSION_COOKIE_SECURE,"
        " settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT, settings.X_FRAME_OPTIONS,"
        " settings.SECURE_REFERRER_POLICY, settings.DEBUG)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "True", "True", "True", "True", "DENY", "same-origin", "False"]


def test_the_demo_runs_on_sqlite_only_with_debug(tmp_path):
    result = run_settings(
        {"DJANGO_DEBUG": "1", "PORTAL_VAR_DIR": str(tmp_path)}, "print(settings.DATABASES['default']['ENGINE'])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
