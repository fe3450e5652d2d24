"""Evidence files and board reports in an S3-compatible bucket, as several stateless app servers share them.

A real S3-compatible server (moto's, on 127.0.0.1) runs for the session; each test gets a bucket of
its own and the STORAGES that ``portal.storage_settings.file_storages`` makes for
``OBJECT_STORAGE_BUCKET`` (the code path ``portal/settings.py`` uses), with dummy credentials in the
environment only. Everything goes through the real views with the test client; the bucket is then
read back with boto3, and the local folders are checked to have gained nothing.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.urls import reverse
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from assessments import evidence, report, services
from assessments.models import Approval, BoardReport, EvidenceItem, EvidenceVersion
from assessments.tasks import render_board_report
from portal.models import AuditEvent
from portal.storage_settings import file_storages
from tests.test_evidence_upload import VALID_NHS_NUMBER, details, hidden_token, make_pdf, page_text, upload

REGION = "eu-west-2"
DUMMY_KEY_ID = "testing-key-id"
DUMMY_SECRET = "testing-secret-not-a-secret"


# ---- the S3-compatible server and a bucket per test -----------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free port of 127.0.0.1, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """Dummy credentials in the environment, where boto3's own chain finds them; no profile or config file."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def s3_client(s3_endpoint, aws_environment):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)


def object_storage_env(bucket: str, endpoint: str) -> dict[str, str]:
    return {
        "OBJECT_STORAGE_BUCKET": bucket,
        "OBJECT_STORAGE_ENDPOINT_URL": endpoint,
        "OBJECT_STORAGE_REGION": REGION,
        "OBJECT_STORAGE_ADDRESSING_STYLE": "path",
    }


def use_object_storage(settings, monkeypatch, env: dict[str, str]) -> None:
    """STORAGES from the settings code for ``env``; the model fields (resolved at import) follow them."""
    settings.STORAGES = {**settings.STORAGES, **file_storages(env, Path(settings.VAR_DIR))}
    # Django resets its storages handler when STORAGES changes (django/test/signals.py).
    assert isinstance(storages["evidence"], S3Storage)
    assert isinstance(storages["reports"], S3Storage)
    monkeypatch.setattr(EvidenceVersion._meta.get_field("file"), "storage", storages["evidence"])
    monkeypatch.setattr(BoardReport._meta.get_field("file"), "storage", storages["reports"])


def as_another_app_server(monkeypatch) -> None:
    """Fresh storage objects, as on another server that shares only the database and the bucket."""
    storages._storages = {}
    monkeypatch.setattr(EvidenceVersion._meta.get_field("file"), "storage", storages["evidence"])
    monkeypatch.setattr(BoardReport._meta.get_field("file"), "storage", storages["reports"])


@pytest.fixture
def bucket(s3_endpoint, s3_client, settings, monkeypatch) -> str:
    """A new, empty bucket, with the evidence and reports storages in it."""
    name = f"portal-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    use_object_storage(settings, monkeypatch, object_storage_env(name, s3_endpoint))
    return name


def keys(s3_client, bucket: str, prefix: str = "") -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def object_bytes(s3_client, bucket: str, key: str) -> bytes:
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def local_files():
    """Every file under PORTAL_VAR_DIR (evidence/, reports/, uploads/) now; compare with it afterwards."""
    root = Path(django_settings.VAR_DIR)

    def snapshot() -> set[Path]:
        return {path for path in root.rglob("*") if path.is_file()}

    before = snapshot()
    return lambda: snapshot() - before


# ---- the settings -----------------------------------------------------------------------------------


def test_without_a_bucket_the_storages_are_the_local_folders(settings, tmp_path):
    """No OBJECT_STORAGE_BUCKET (or an empty one): the file system storages, exactly as before."""
    expected = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "evidence": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "evidence", "base_url": None},
        },
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "reports", "base_url": None},
        },
    }

    assert file_storages({}, tmp_path) == expected
    assert file_storages({"OBJECT_STORAGE_BUCKET": " ", "OBJECT_STORAGE_REGION": REGION}, tmp_path) == expected
    # What the test settings (no bucket) got from portal/settings.py.
    assert {alias: settings.STORAGES[alias] for alias in expected} == file_storages({}, Path(settings.VAR_DIR))


def test_with_a_bucket_every_storage_is_a_private_encrypted_prefix_of_it_with_no_credentials(tmp_path):
    """S3 for default, evidence and reports, each under its own prefix; never a key or secret in the settings."""
    env = {
        "OBJECT_STORAGE_BUCKET": "nhs-portal-files",
        "OBJECT_STORAGE_ENDPOINT_URL": "https://s3.example.nhs.uk",
        "OBJECT_STORAGE_REGION": REGION,
        # Present in the environment (boto3 reads them), never copied into the settings.
        "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
    }

    configured = file_storages(env, tmp_path)

    assert set(configured) == {"default", "evidence", "reports"}
    locations = {}
    for alias, entry in configured.items():
        assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
        options = entry["OPTIONS"]
        locations[alias] = options["location"]
        assert options["bucket_name"] == "nhs-portal-files"
        assert options["endpoint_url"] == "https://s3.example.nhs.uk"
        assert options["region_name"] == REGION
        assert options["addressing_style"] == "auto"
        assert options["file_overwrite"] is False
        assert options["default_acl"] is None
        assert options["querystring_auth"] is True
        assert options["object_parameters"] == {"ServerSideEncryption": "AES256"}
        assert not {"access_key", "secret_key", "security_token", "session_profile"} & set(options)
    assert locations == {"default": "uploads", "evidence": "evidence", "reports": "reports"}
    assert DUMMY_KEY_ID not in repr(configured)
    assert DUMMY_SECRET not in repr(configured)
    # The storage itself holds no credentials either: boto3's chain supplies them per connection.
    storage = S3Storage(**configured["evidence"]["OPTIONS"])
    assert (storage.access_key, storage.secret_key, storage.security_token) == (None, None, None)


def test_optional_object_storage_settings(tmp_path):
    """AWS itself needs neither endpoint nor region; the addressing style and encryption can be chosen."""
    minimal = file_storages({"OBJECT_STORAGE_BUCKET": "b"}, tmp_path)["evidence"]["OPTIONS"]
    assert (minimal["endpoint_url"], minimal["region_name"]) == (None, None)

    chosen = file_storages(
        {
            "OBJECT_STORAGE_BUCKET": "b",
            "OBJECT_STORAGE_ADDRESSING_STYLE": "path",
            "OBJECT_STORAGE_SERVER_SIDE_ENCRYPTION": "none",
        },
        tmp_path,
    )["reports"]["OPTIONS"]
    assert chosen["addressing_style"] == "path"
    assert chosen["object_parameters"] == {}

    with pytest.raises(ImproperlyConfigured, match="OBJECT_STORAGE_ADDRESSING_STYLE"):
        file_storages({"OBJECT_STORAGE_BUCKET": "b", "OBJECT_STORAGE_ADDRESSING_STYLE": "sideways"}, tmp_path)


# ---- evidence -------------------------------------------------------------------------------------


def test_contributor_upload_is_stored_in_the_bucket_and_downloads_byte_for_byte(
    client_for, contributor, trust, bucket, s3_client, monkeypatch, local_files
):
    """An uploaded PDF lands under evidence/ in the bucket, encrypted; the access-checked download returns it."""
    content = make_pdf("Supervision audit kept in object storage")
    client = client_for(contributor)

    response = upload(client, trust, "audit.pdf", content)

    assert response.status_code == 302
    version = EvidenceVersion.objects.get()
    [key] = keys(s3_client, bucket)
    assert key == f"evidence/{version.file.name}"
    assert key.startswith(f"evidence/evidence/{trust.pk}/")
    assert object_bytes(s3_client, bucket, key) == content
    assert s3_client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    assert version.sha256 == hashlib.sha256(content).hexdigest()
    assert local_files() == set()

    as_another_app_server(monkeypatch)  # the download may reach any server
    download = client.get(reverse("evidence-download", args=[trust.ods_code, version.item_id, version.number]))

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert int(download["Content-Length"]) == len(content)
    assert local_files() == set()


def test_download_of_an_object_missing_from_the_bucket_is_not_found(client_for, lead, trust, bucket, s3_client):
    """A version whose object has gone from the bucket is a 404, as a missing file on disk is."""
    upload(client_for(lead), trust, "audit.pdf", make_pdf())
    version = EvidenceVersion.objects.get()
    s3_client.delete_object(Bucket=bucket, Key=f"evidence/{version.file.name}")

    response = client_for(lead).get(reverse("evidence-download", args=[trust.ods_code, version.item_id, 1]))

    assert response.status_code == 404


def test_flagged_upload_is_held_in_the_bucket_until_confirmed_on_another_app_server(
    client_for, contributor, trust, bucket, s3_client, monkeypatch, local_files
):
    """A file with an NHS-number look-alike is held under evidence/held/ in the bucket, so the confirm step
    works whichever app server it reaches; once stored, the held copy is removed."""
    client = client_for(contributor)
    content = f"Staff number,Team\r\n{VALID_NHS_NUMBER},AMHP\r\n".encode()

    first = upload(client, trust, "staff.csv", content, title="AMHP rota")

    assert first.status_code == 200
    assert "such as 943 *** **19" in page_text(first)
    assert not EvidenceItem.objects.exists()
    [held] = keys(s3_client, bucket)
    assert held.startswith(f"evidence/held/{trust.pk}/")
    assert object_bytes(s3_client, bucket, held) == content

    as_another_app_server(monkeypatch)
    second = client.post(
        reverse("evidence-upload", args=[trust.ods_code]),
        {**details(title="AMHP rota"), "upload_token": hidden_token(first), "not_nhs_numbers": "on"},
    )

    assert second.status_code == 302
    version = EvidenceVersion.objects.get()
    assert (version.original_name, version.possible_nhs_numbers) == ("staff.csv", 1)
    assert keys(s3_client, bucket) == [f"evidence/{version.file.name}"]
    assert object_bytes(s3_client, bucket, f"evidence/{version.file.name}") == content
    assert local_files() == set()


def test_expired_held_files_are_purged_from_the_bucket(lead, trust, bucket, s3_client, monkeypatch):
    """The purge lists held/ and reads each object's time through the storage API, in a bucket too."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=lead, trust=trust)
    assert evidence.purge_expired_holds() == 0
    assert len(keys(s3_client, bucket, "evidence/held/")) == 1

    monkeypatch.setattr(evidence, "HOLD_MAX_AGE", -1)

    assert evidence.purge_expired_holds() == 1
    assert keys(s3_client, bucket) == []


def test_held_file_removed_by_another_server_during_the_purge_is_skipped(
    client_for, lead, trust, bucket, s3_client, monkeypatch
):
    """Two servers purging at once: a held object listed by one and deleted by the other is no error."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=lead, trust=trust)
    monkeypatch.setattr(evidence, "HOLD_MAX_AGE", -1)
    store = EvidenceVersion._meta.get_field("file").storage
    original_listdir = store.listdir

    def listdir_then_another_server_purges(path):
        listed = original_listdir(path)
        if path.startswith(f"{evidence.HOLD_FOLDER}/"):  # held/<trust>: the other server deletes what was listed
            for key in keys(s3_client, bucket, "evidence/held/"):
                s3_client.delete_object(Bucket=bucket, Key=key)
        return listed

    monkeypatch.setattr(store, "listdir", listdir_then_another_server_purges)

    response = client_for(lead).get(reverse("evidence-upload", args=[trust.ods_code]))

    assert response.status_code == 200
    assert keys(s3_client, bucket) == []


def test_unreachable_bucket_gives_a_clear_message_and_keeps_the_form(
    client_for, lead, trust, s3_endpoint, aws_environment, settings, monkeypatch, local_files
):
    """A bucket that refuses every request (here: it does not exist) is treated like a full disk."""
    use_object_storage(settings, monkeypatch, object_storage_env(f"missing-{uuid.uuid4().hex[:12]}", s3_endpoint))
    client = client_for(lead)
    client.raise_request_exception = False

    response = client.post(
        reverse("evidence-upload", args=[trust.ods_code]),
        {**details(title="Audit for the missing bucket"), "file": SimpleUploadedFile("audit.pdf", make_pdf())},
    )

    assert response.status_code == 200
    assert evidence.STORAGE_FAILED in page_text(response)
    assert 'value="Audit for the missing bucket"' in response.content.decode()
    assert not EvidenceItem.objects.exists()
    assert not AuditEvent.objects.filter(action="evidence_uploaded").exists()
    assert local_files() == set()


# ---- board reports --------------------------------------------------------------------------------


def report_keys(s3_client, bucket: str) -> list[str]:
    return keys(s3_client, bucket, "reports/")


def test_approval_stores_the_report_in_the_bucket_and_the_download_serves_exactly_those_bytes(
    client_for,
    complete_assessment,
    lead,
    executive,
    board_reader,
    bucket,
    s3_client,
    django_capture_on_commit_callbacks,
    local_files,
):
    """Approved through the sign-off page, the report renders into reports/; the approved PDF is those bytes."""
    assert client_for(lead).post(reverse("assessment-submit", args=[complete_assessment.pk])).status_code == 302
    complete_assessment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(executive).post(
            reverse("assessment-sign-off", args=[complete_assessment.pk]),
            {
                "approver_name": "Esther Executive",
                "approver_role": "Chief Nurse",
                "submission": complete_assessment.submitted_at.isoformat(),
                "confirm": "on",
            },
        )
    assert response.status_code == 302

    stored = BoardReport.objects.get()
    [key] = report_keys(s3_client, bucket)
    assert key == f"reports/{stored.file.name}"
    assert key.startswith(f"reports/reports/{complete_assessment.trust_id}/{stored.approval_id}-")
    pdf = object_bytes(s3_client, bucket, key)
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == stored.sha256
    assert len(pdf) == stored.size
    assert s3_client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"

    download = client_for(board_reader).get(reverse("approval-report-pdf", args=[complete_assessment.pk, 1]))

    assert download.status_code == 200
    assert download.content == pdf
    assert download["ETag"] == f'"{stored.sha256}"'
    assert local_files() == set()


@pytest.fixture
def approval_without_report(complete_assessment, lead, executive, django_capture_on_commit_callbacks):
    """An approval whose render task has not run yet."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    with django_capture_on_commit_callbacks(execute=False):
        return services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name=executive.full_name,
            approver_role="Chief Nurse",
            statement="I confirm this self-assessment.",
        )


def test_rendering_twice_leaves_one_report_object(approval_without_report, bucket, s3_client, monkeypatch):
    """A duplicated task, and a worker stopped after writing the object but before recording it: one object."""
    first = render_board_report.call(approval_without_report.pk)
    assert render_board_report.call(approval_without_report.pk) == first
    [key] = report_keys(s3_client, bucket)

    # A worker that wrote the object and died before its row committed: the retry finds the object.
    BoardReport.objects.all().delete()
    as_another_app_server(monkeypatch)
    render_board_report.call(approval_without_report.pk)

    stored = BoardReport.objects.get()
    assert report_keys(s3_client, bucket) == [key] == [f"reports/{stored.file.name}"]
    assert hashlib.sha256(object_bytes(s3_client, bucket, key)).hexdigest() == stored.sha256


@pytest.mark.django_db(transaction=True)
def test_two_workers_rendering_at_once_leave_one_report_object(
    complete_assessment, lead, executive, bucket, s3_client, monkeypatch
):
    """Two workers render the same approval at once, both before either stores it: one row, one object."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    with monkeypatch.context() as m:
        m.setattr(services, "render_board_report", type("Unqueued", (), {"enqueue": staticmethod(lambda pk: None)}))
        approval = services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name=executive.full_name,
            approver_role="Chief Nurse",
            statement="I confirm this self-assessment.",
        )
    both_rendered = threading.Barrier(2, timeout=120)
    renders: list[int] = []
    original = report.render_pdf

    def render_pdf(*args, **kwargs):
        pdf = original(*args, **kwargs)
        renders.append(threading.get_ident())
        both_rendered.wait()  # both have looked for a stored report before either stores one
        return pdf

    monkeypatch.setattr(report, "render_pdf", render_pdf)

    def worker() -> int:
        try:
            return render_board_report.call(approval.pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [future.result(timeout=300) for future in [pool.submit(worker) for _ in range(2)]]

    assert len(set(renders)) == 2, "both workers must have rendered, or the race was not exercised"
    stored = BoardReport.objects.get()
    assert results == [stored.pk, stored.pk]
    assert report_keys(s3_client, bucket) == [f"reports/{stored.file.name}"]
    assert Approval.objects.count() == 1
