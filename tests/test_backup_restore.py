"""Backup and restore: ``verify_reports``, ``backup_portal``, ``restore_portal`` and the drill script.

Everything runs against the real PostgreSQL the suite uses, with committed data
(``transaction=True``) so that ``pg_dump`` sees it. A restore goes into a second, empty database
on the same server (named after the suite's own database: ``<name>_restore_<random>``, dropped
by the fixture) and a second, empty storage folder, through ``manage.py`` in a subprocess with
its own ``DATABASE_URL`` and ``PORTAL_VAR_DIR``, as an operator would run it.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from assessments import evidence, services
from assessments.models import Approval, BoardReport, EvidenceVersion
from tests.test_evidence_upload import make_pdf

ROOT = Path(settings.BASE_DIR)
# Extra databases are named after the database in DATABASE_URL (not pytest's test_ copy of it).
BASE_NAME = dj_database_url.parse(os.environ["DATABASE_URL"])["NAME"]

pytestmark = pytest.mark.django_db(transaction=True)


# ---- helpers ------------------------------------------------------------------------------------


def database_url(name: str) -> str:
    """A DATABASE_URL for database ``name`` on the server the suite uses (TCP or a unix socket directory)."""
    params = connection.settings_dict
    credentials = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        credentials += ":" + quote(params["PASSWORD"], safe="")
    host = quote(params["HOST"] or "", safe="")  # a socket directory's slashes become %2F
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(name, safe='')}"


def connect(name: str, **options) -> psycopg.Connection:
    """A connection to database ``name`` on the server the suite uses."""
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        dbname=name,
        **options,
    )


def server() -> psycopg.Connection:
    """For CREATE and DROP DATABASE, which run outside a transaction."""
    return connect(connection.settings_dict["NAME"], autocommit=True)


def database_exists(name: str) -> bool:
    with server() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def drop_database(name: str) -> None:
    with server() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def query(name: str, statement: str) -> list[tuple]:
    with connect(name) as conn:
        return conn.execute(statement).fetchall()


def tables_in(name: str) -> list[str]:
    rows = query(name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return [table for (table,) in rows]


def run_env(database: str, var_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "PORTAL_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **extra,
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own manage.py and script, arguments built here)
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def manage(*args: str, database: str, var_dir: Path) -> subprocess.CompletedProcess:
    """``manage.py`` in a subprocess against another database and storage folder."""
    return run([sys.executable, "manage.py", *args], run_env(database, var_dir))


def run_drill(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([shutil.which("bash") or "/bin/bash", str(ROOT / "scripts" / "backup_restore_drill.sh")], env)


def files_under(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def approve(assessment, lead, executive) -> Approval:
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name=executive.full_name,
        approver_role="Chief Nurse",
        statement="I confirm this self-assessment is accurate.",
    )


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def source_var(monkeypatch, settings, tmp_path) -> Path:
    """The portal's storage folder for these tests: ``PORTAL_VAR_DIR`` of the source copy.

    The evidence and reports storages (and the model fields that resolved them at import) point
    under it exactly as settings derive them from ``PORTAL_VAR_DIR``, so a subprocess given
    ``PORTAL_VAR_DIR`` sees the same files.
    """
    root = tmp_path / "source-var"
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root / "evidence", "base_url": None},
        },
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root / "reports", "base_url": None},
        },
    }
    monkeypatch.setattr(EvidenceVersion._meta.get_field("file"), "storage", storages["evidence"])
    monkeypatch.setattr(BoardReport._meta.get_field("file"), "storage", storages["reports"])
    return root


@pytest.fixture
def approved(source_var, complete_assessment, lead, executive) -> Approval:
    """The complete assessment with a document linked to R1, submitted and approved; its report rendered.

    Tests run tasks immediately, and with committed transactions the render runs on commit.
    """
    item = evidence.create_file_evidence(
        trust=complete_assessment.trust,
        created_by=lead,
        title="Supervision audit 2026",
        evidence_date=datetime.date(2026, 3, 31),
        owner="Principal social worker",
        upload=evidence.check_upload(SimpleUploadedFile("audit.pdf", make_pdf())),
        confirmed_no_patient_data=True,
    )
    services.link_evidence(response=complete_assessment.responses.first(), item=item, linked_by=lead)
    approval = approve(complete_assessment, lead, executive)
    assert BoardReport.objects.filter(approval=approval).exists()
    return approval


@pytest.fixture
def approved_twice(approved, lead, executive) -> list[Approval]:
    """Revision 1 approved, reopened and revision 2 approved: two approvals, two stored reports."""
    assessment = services.reopen(assessment=approved.assessment, reopened_by=lead, reason="New figures")
    second = approve(assessment, lead, executive)
    assert BoardReport.objects.count() == 2
    return [approved, second]


@pytest.fixture
def empty_database():
    """A second, empty database on the same server, dropped afterwards."""
    name = f"{BASE_NAME}_restore_{secrets.token_hex(4)}"
    with server() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    yield name
    drop_database(name)


def take_backup(folder: Path) -> Path:
    call_command("backup_portal", "--output", str(folder), stdout=io.StringIO())
    return folder


@pytest.fixture
def backup(approved, tmp_path) -> Path:
    """A backup of one approval with its report and an evidence file."""
    return take_backup(tmp_path / "backup")


@pytest.fixture
def full_backup(approved_twice, tmp_path) -> Path:
    """A backup of two approvals (revisions 1 and 2) with their reports and an evidence file."""
    return take_backup(tmp_path / "backup")


def verify() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_reports", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_fails() -> str:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_reports", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue() + str(raised.value)


# ---- verify_reports -----------------------------------------------------------------------------


class TestVerifyReports:
    def test_passes_on_good_data(self, approved):
        out, err = verify()
        assert "1 approval, 1 report, 1 evidence file checked: all match" in out
        assert err == ""

    def test_altered_report_bytes_fail_naming_the_report(self, approved, source_var):
        report = BoardReport.objects.get(approval=approved)
        path = source_var / "reports" / report.file.name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit, same size
        path.write_bytes(bytes(data))

        output = verify_fails()
        assert report.file.name in output
        assert "SHA-256" in output
        assert "1 problem" in output

    def test_missing_report_file_fails_naming_the_report(self, approved, source_var):
        report = BoardReport.objects.get(approval=approved)
        (source_var / "reports" / report.file.name).unlink()

        output = verify_fails()
        assert report.file.name in output
        assert "missing" in output

    def test_report_that_is_not_a_pdf_fails(self, approved, source_var):
        report = BoardReport.objects.get(approval=approved)
        junk = b"<html>not a pdf</html>"
        (source_var / "reports" / report.file.name).write_bytes(junk)
        BoardReport.objects.filter(pk=report.pk).update(sha256=hashlib.sha256(junk).hexdigest(), size=len(junk))

        output = verify_fails()
        assert report.file.name in output
        assert "not a PDF" in output

    def test_edited_snapshot_fails_naming_the_approval(self, approved):
        snapshot = Approval.objects.get(pk=approved.pk).snapshot
        snapshot["responses"][0]["rating"]["value"] = 4
        Approval.objects.filter(pk=approved.pk).update(snapshot=snapshot)

        output = verify_fails()
        assert f"Approval {approved.pk} " in output
        assert "RT1 2026/27, revision 1" in output
        assert "content hash" in output

    def test_altered_evidence_file_fails_naming_it(self, approved, source_var):
        version = EvidenceVersion.objects.get()
        (source_var / "evidence" / version.file.name).write_bytes(make_pdf("Something else entirely"))

        output = verify_fails()
        assert version.file.name in output


# ---- backup_portal and restore_portal -----------------------------------------------------------


class TestBackupAndRestore:
    def test_backup_writes_dump_files_and_manifest(self, full_backup, source_var):
        backup = full_backup
        manifest = json.loads((backup / "manifest.json").read_text())
        assert (backup / "database.dump").read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
        assert manifest["database"]["name"] == connection.settings_dict["NAME"]
        for alias in ("evidence", "reports"):
            listed = {entry["name"]: entry for entry in manifest["storages"][alias]}
            stored = files_under(source_var / alias)
            assert set(listed) == set(stored)
            for name, data in stored.items():
                assert (backup / "files" / alias / name).read_bytes() == data
                assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
                assert listed[name]["size"] == len(data)
        assert len(manifest["storages"]["reports"]) == 2

    def test_restore_into_empty_database_and_storage_reproduces_every_report(
        self, full_backup, source_var, empty_database, tmp_path
    ):
        backup = full_backup
        restored_var = tmp_path / "restored-var"
        restored = manage("restore_portal", "--input", str(backup), database=empty_database, var_dir=restored_var)
        assert restored.returncode == 0, restored.stdout + restored.stderr

        checked = manage("verify_reports", database=empty_database, var_dir=restored_var)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "2 approvals, 2 reports, 1 evidence file checked: all match" in checked.stdout

        # Every approved report, byte for byte, under the same name, with the same recorded hash.
        reports = list(BoardReport.objects.values_list("file", "sha256").order_by("file"))
        assert query(empty_database, "SELECT file, sha256 FROM assessments_boardreport ORDER BY file") == reports
        for name, sha256 in reports:
            data = (restored_var / "reports" / name).read_bytes()
            assert data == (source_var / "reports" / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256
        assert files_under(restored_var / "evidence") == files_under(source_var / "evidence")
        assert query(empty_database, "SELECT id, content_hash FROM assessments_approval ORDER BY id") == list(
            Approval.objects.values_list("id", "content_hash").order_by("id")
        )

    def test_restore_refuses_a_database_that_already_has_the_portals_tables(self, backup, settings, tmp_path):
        # Empty storages, so that the database is what is refused.
        settings.STORAGES = {
            **settings.STORAGES,
            **{
                alias: {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": tmp_path / f"empty-{alias}"},
                }
                for alias in ("evidence", "reports")
            },
        }
        approvals = Approval.objects.count()

        with pytest.raises(CommandError, match="already has the portal's tables"):
            call_command("restore_portal", "--input", str(backup), stdout=io.StringIO())
        assert Approval.objects.count() == approvals
        assert not (tmp_path / "empty-reports").exists()

    def test_restore_refuses_storage_that_already_holds_files(self, backup, source_var, empty_database):
        refused = manage("restore_portal", "--input", str(backup), database=empty_database, var_dir=source_var)
        assert refused.returncode != 0
        assert "already holds files" in refused.stderr
        assert tables_in(empty_database) == []  # nothing restored

    @pytest.mark.parametrize("altered", ["report file", "database dump"])
    def test_restore_refuses_an_altered_backup(self, backup, empty_database, tmp_path, altered):
        if altered == "report file":
            name = json.loads((backup / "manifest.json").read_text())["storages"]["reports"][0]["name"]
            path = backup / "files" / "reports" / name
        else:
            path = backup / "database.dump"
        data = bytearray(path.read_bytes())
        data[-100] ^= 0x01
        path.write_bytes(bytes(data))
        restored_var = tmp_path / "restored-var"

        refused = manage("restore_portal", "--input", str(backup), database=empty_database, var_dir=restored_var)
        assert refused.returncode != 0
        assert "SHA-256" in refused.stderr
        assert path.relative_to(backup).as_posix() in refused.stderr
        assert tables_in(empty_database) == []
        assert not restored_var.exists() or files_under(restored_var) == {}

    def test_backup_refuses_sqlite(self, tmp_path):
        env = {**run_env("unused", tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
        refused = run([sys.executable, "manage.py", "backup_portal", "--output", str(tmp_path / "backup")], env)
        assert refused.returncode != 0
        assert "backups are for PostgreSQL; on the embedded demo database just copy var/" in refused.stderr
        assert not (tmp_path / "backup").exists()


# ---- the drill script, end to end ---------------------------------------------------------------


def test_drill_script_restores_and_verifies_then_cleans_up(approved_twice, source_var, tmp_path):
    drill_database = f"{BASE_NAME}_drill_{secrets.token_hex(4)}"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = run_env(connection.settings_dict["NAME"], source_var, DRILL_DATABASE_NAME=drill_database, TMPDIR=str(scratch))
    try:
        result = run_drill(env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        # verify_reports on the source, then on the restored copy, with the same figures.
        assert output.count("2 approvals, 2 reports, 1 evidence file checked: all match") == 2
        assert f"Restored into database {drill_database}" in output
        assert "Database dump:" in output
        assert "Drill passed" in output
    finally:
        leftover = database_exists(drill_database)
        drop_database(drill_database)
    assert not leftover, "the drill left its database behind"
    # (tests/settings.py makes an empty portal-tests-* folder in TMPDIR each time it is imported.)
    assert list(scratch.glob("portal-drill.*")) == [], "the drill left temporary files behind"


def test_drill_script_stops_when_the_source_does_not_verify(approved, source_var, tmp_path):
    report = BoardReport.objects.get(approval=approved)
    (source_var / "reports" / report.file.name).unlink()
    drill_database = f"{BASE_NAME}_drill_{secrets.token_hex(4)}"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = run_env(connection.settings_dict["NAME"], source_var, DRILL_DATABASE_NAME=drill_database, TMPDIR=str(scratch))
    try:
        result = run_drill(env)
    finally:
        leftover = database_exists(drill_database)
        drop_database(drill_database)
    assert result.returncode != 0
    assert report.file.name in result.stderr
    assert "The source does not verify" in result.stderr
    assert not leftover
    assert list(scratch.glob("portal-drill.*")) == []


def test_drill_script_needs_postgresql(tmp_path):
    result = run_drill({**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "TMPDIR": str(tmp_path)})
    assert result.returncode != 0
    assert "backups are for PostgreSQL" in result.stderr
