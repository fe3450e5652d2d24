"""Test overrides: PostgreSQL from DATABASE_URL (the test command starts one), fast hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Evidence files written by tests go to a scratch folder, never the developer's var/ (and never a
# bucket the developer has configured: tests/test_object_storage.py starts its own S3 server).
if "PORTAL_VAR_DIR" not in os.environ:
    os.environ["PORTAL_VAR_DIR"] = tempfile.mkdtemp(prefix="portal-tests-")
for name in [name for name in os.environ if name.startswith("OBJECT_STORAGE_")]:
    del os.environ[name]

if "DATABASE_URL" not in os.environ:
    raise RuntimeError("Run the suite with `make test`: it starts a throwaway PostgreSQL and sets DATABASE_URL.")

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
SECURE_HSTS_SECONDS = 0
# Serve static files straight from the finders: no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Background tasks run in-process, immediately, so tests see their results.
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
