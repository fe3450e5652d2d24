"""Where the portal keeps the files it writes: folders under ``PORTAL_VAR_DIR``, or an S3-compatible bucket.

``file_storages(os.environ, VAR_DIR)`` gives the "default", "evidence" and "reports" entries of
``STORAGES``. Without ``OBJECT_STORAGE_BUCKET`` they are folders on this server's disk, which
suits one app server. With it, every app server shares one bucket (AWS S3 or any S3-compatible
service), each storage under its own prefix. Objects are private: they are never linked to, only
read by the views that check access and serve them. Credentials never appear here: boto3 finds
them itself (``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, a profile, or the instance's or
container's role).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

FILE_SYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"
ADDRESSING_STYLES = ("auto", "path", "virtual")
# Downloads from the bucket are buffered in memory up to this size, then in a temporary file
# that lasts as long as the request (an evidence file can be 20 MB).
S3_MAX_MEMORY_SIZE = 5 * 1024 * 1024


def file_storages(env: Mapping[str, str], var_dir: Path) -> dict[str, dict]:
    """The "default", "evidence" and "reports" storages for these environment variables."""
    bucket = env.get("OBJECT_STORAGE_BUCKET", "").strip()
    if not bucket:
        return {
            "default": {"BACKEND": FILE_SYSTEM_BACKEND},
            "evidence": {
                "BACKEND": FILE_SYSTEM_BACKEND,
                "OPTIONS": {"location": var_dir / "evidence", "base_url": None},
            },
            # Approved board reports, served byte for byte through a view that checks access.
            "reports": {
                "BACKEND": FILE_SYSTEM_BACKEND,
                "OPTIONS": {"location": var_dir / "reports", "base_url": None},
            },
        }

    addressing_style = env.get("OBJECT_STORAGE_ADDRESSING_STYLE", "").strip() or "auto"
    if addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(f"OBJECT_STORAGE_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}.")
    encryption = env.get("OBJECT_STORAGE_SERVER_SIDE_ENCRYPTION", "").strip() or "AES256"
    options = {
        "bucket_name": bucket,
        "endpoint_url": env.get("OBJECT_STORAGE_ENDPOINT_URL", "").strip() or None,
        "region_name": env.get("OBJECT_STORAGE_REGION", "").strip() or None,
        "addressing_style": addressing_style,
        # A name already taken gets a suffix, never overwritten: evidence versions and stored
        # reports are never changed once written.
        "file_overwrite": False,
        # Private objects (the bucket's own policy applies); any URL made for one would be signed.
        "default_acl": None,
        "querystring_auth": True,
        # "none" leaves encryption to the bucket's default (for services that refuse the header).
        "object_parameters": {} if encryption.lower() == "none" else {"ServerSideEncryption": encryption},
        "max_memory_size": S3_MAX_MEMORY_SIZE,
    }

    def in_bucket(location: str) -> dict:
        return {"BACKEND": S3_BACKEND, "OPTIONS": {**options, "location": location}}

    return {"default": in_bucket("uploads"), "evidence": in_bucket("evidence"), "reports": in_bucket("reports")}
