"""Faults: the database dying mid-transaction, a report render killed part-way, a full disk on upload.

Everything runs against the real PostgreSQL that `make test` starts. The faults are injected at a
precise point by wrapping a function the code calls at that point (a pure function such as
``build_snapshot``, or the storage's ``_save``); the database, the transactions and the files are real:

- the database connection is killed from a second connection with ``pg_terminate_backend``, as a
  database restart or a failover does, while the service's transaction is open;
- a board report render dies with ``SystemExit`` or ``KeyboardInterrupt``, as a worker killed
  while rendering does, and the task runs again;
- the evidence storage refuses to write with ``ENOSPC``, as a full disk does.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError, connection, connections
from django.urls import reverse

from assessments import report, services
from assessments.models import (
    Approval,
    Assessment,
    AssessmentEvent,
    AssessmentState,
    AuditAction,
    BoardReport,
    EvidenceItem,
    EvidenceVersion,
)
from assessments.tasks import render_board_report
from portal.models import AuditEvent
from tests.test_evidence_upload import details, make_pdf, stored_files, use_temporary_evidence_storage

CONNECTION_LOST = (OperationalError, InterfaceError)


# ---- helpers ------------------------------------------------------------------------------------


def terminate_own_backend() -> int:
    """Kill this thread's database connection from a second connection, as a database restart would.

    Waits (up to 10 s) until the server has ended that backend, so the next statement or the
    COMMIT on the first connection is certain to fail. Returns the killed backend's pid.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = connection.copy()
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
            (terminated,) = cursor.fetchone()
    finally:
        killer.close()
    assert terminated, f"backend {pid} was not terminated"
    return pid


def dies_after(original, killed: list[int]):
    """``original``, but the database connection is terminated after it returns (and before the caller goes on)."""

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if not killed:  # once: a retry afterwards must run normally
            killed.append(terminate_own_backend())
        return result

    return wrapper


def reconnect() -> None:
    """Drop the dead connection; the next query opens a fresh one."""
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def approve(assessment, executive):
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name=executive.full_name,
        approver_role="Chief Nurse",
        statement="I confirm this self-assessment is accurate.",
    )


@pytest.fixture
def reports_root(monkeypatch, settings, tmp_path) -> Path:
    """A folder of its own for the reports storage, so a test can see every file written there."""
    root = tmp_path / "reports-storage"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    # The model field resolved its storage when it was defined: point it at the same folder.
    monkeypatch.setattr(BoardReport._meta.get_field("file"), "storage", FileSystemStorage(location=root))
    return root


def report_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def assert_one_sound_report(approval: Approval, root: Path) -> BoardReport:
    """Exactly one stored report for the approval, its file present, with the recorded hash and size."""
    stored = BoardReport.objects.get(approval=approval)
    assert BoardReport.objects.count() == 1
    data = (root / stored.file.name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored.sha256
    assert len(data) == stored.size
    assert data.startswith(b"%PDF-")
    return stored


# ---- the database dies in the middle of a submission or an approval -----------------------------


@pytest.mark.django_db(transaction=True)
class TestDatabaseDiesMidTransaction:
    """The connection is terminated while the service's transaction is open: nothing of it is kept."""

    @pytest.mark.parametrize(
        "hook",
        [
            # After the row lock and the snapshot are taken, before anything is written.
            "build_snapshot",
            # After the snapshot is hashed, just before the Approval row is inserted.
            "content_hash",
            # After the Approval row, the state change and the audit row are written: only COMMIT is left.
            "_event",
        ],
    )
    def test_approval_is_all_or_nothing(self, monkeypatch, complete_assessment, lead, executive, reports_root, hook):
        """Approval killed part-way: still awaiting sign-off, no Approval, no approval event, no report."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        events_before = AssessmentEvent.objects.filter(assessment=complete_assessment).count()
        killed: list[int] = []
        monkeypatch.setattr(services, hook, dies_after(getattr(services, hook), killed))

        with pytest.raises(CONNECTION_LOST):
            approve(complete_assessment, executive)

        assert killed, f"{hook} was never called, so no fault was injected"
        reconnect()
        assessment = Assessment.objects.get(pk=complete_assessment.pk)
        assert assessment.state == AssessmentState.AWAITING_SIGN_OFF
        assert not Approval.objects.filter(assessment=assessment).exists()
        assert not AssessmentEvent.objects.filter(assessment=assessment, action=AuditAction.APPROVED).exists()
        assert AssessmentEvent.objects.filter(assessment=assessment).count() == events_before
        assert not BoardReport.objects.exists()
        assert report_files(reports_root) == []  # the render is queued on commit only

        # The executive tries again on the fresh connection, and the approval goes through whole.
        approval = approve(assessment, executive)
        assessment.refresh_from_db()
        assert assessment.state == AssessmentState.APPROVED
        assert Approval.objects.filter(assessment=assessment).count() == 1
        assert AssessmentEvent.objects.filter(assessment=assessment, action=AuditAction.APPROVED).count() == 1
        assert approval.content_hash == services.content_hash(approval.snapshot)
        assert_one_sound_report(approval, reports_root)  # rendered once, on the real commit

    @pytest.mark.parametrize(
        "hook",
        [
            # After the row lock, while the responses are checked: nothing written yet.
            "missing_for_submission",
            # After the state change and the audit row are written: only COMMIT is left.
            "_event",
        ],
    )
    def test_submission_is_all_or_nothing(self, monkeypatch, complete_assessment, lead, hook):
        """Submission killed part-way: still a draft, not marked submitted, no submission event."""
        killed: list[int] = []
        monkeypatch.setattr(services, hook, dies_after(getattr(services, hook), killed))

        with pytest.raises(CONNECTION_LOST):
            services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)

        assert killed, f"{hook} was never called, so no fault was injected"
        reconnect()
        assessment = Assessment.objects.get(pk=complete_assessment.pk)
        assert assessment.state == AssessmentState.DRAFT
        assert assessment.submitted_at is None
        assert assessment.submitted_by is None
        assert not AssessmentEvent.objects.filter(assessment=assessment, action=AuditAction.SUBMITTED).exists()

        services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
        assessment.refresh_from_db()
        assert assessment.state == AssessmentState.AWAITING_SIGN_OFF
        assert AssessmentEvent.objects.filter(assessment=assessment, action=AuditAction.SUBMITTED).count() == 1


# ---- a worker killed while rendering the board report -------------------------------------------


@pytest.fixture
def unrendered_approval(complete_assessment, lead, executive, django_capture_on_commit_callbacks):
    """An approval whose render task has not run yet (its on-commit callback is captured, not run)."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approval = approve(complete_assessment, executive)
    assert len(callbacks) == 1  # the render task, queued for the commit
    return approval


def killed_on_first_render(monkeypatch, kill: type[BaseException]) -> list[str]:
    """``report.render_pdf`` dies with ``kill`` the first time and renders normally after that."""
    calls: list[str] = []
    original = report.render_pdf

    def render_pdf(*args, **kwargs):
        calls.append("render")
        if len(calls) == 1:
            raise kill("worker killed while rendering")
        return original(*args, **kwargs)

    monkeypatch.setattr(report, "render_pdf", render_pdf)
    return calls


class TestRenderKilled:
    @pytest.mark.parametrize("kill", [SystemExit, KeyboardInterrupt])
    def test_killed_render_leaves_nothing_and_the_retry_stores_one_report(
        self, monkeypatch, unrendered_approval, reports_root, kill
    ):
        """A worker killed mid-render stores nothing; running the task again stores exactly one report."""
        calls = killed_on_first_render(monkeypatch, kill)

        with pytest.raises(kill):
            render_board_report.call(unrendered_approval.pk)
        assert not BoardReport.objects.exists()
        assert report_files(reports_root) == []

        first = render_board_report.call(unrendered_approval.pk)
        again = render_board_report.call(unrendered_approval.pk)  # a duplicate delivery of the task

        assert first == again
        assert calls == ["render", "render"]  # the duplicate found the stored report and did not render
        stored = assert_one_sound_report(unrendered_approval, reports_root)
        assert report_files(reports_root) == [reports_root / stored.file.name]
        assert Approval.objects.filter(assessment=unrendered_approval.assessment).count() == 1
        unrendered_approval.refresh_from_db()
        assert unrendered_approval.content_hash == services.content_hash(unrendered_approval.snapshot)

    def test_kill_after_the_file_is_written_leaves_no_orphan_file(self, monkeypatch, unrendered_approval, reports_root):
        """Killed between writing the PDF and committing its row: the retry leaves one report and one file."""
        storage = BoardReport._meta.get_field("file").storage
        original_save = storage._save
        killed: list[str] = []

        def save_then_die(name, content):
            stored_name = original_save(name, content)
            if not killed:
                killed.append(stored_name)
                raise SystemExit("worker killed after writing the file")
            return stored_name

        monkeypatch.setattr(storage, "_save", save_then_die)
        with pytest.raises(SystemExit):
            render_board_report.call(unrendered_approval.pk)
        assert not BoardReport.objects.exists()

        render_board_report.call(unrendered_approval.pk)

        stored = assert_one_sound_report(unrendered_approval, reports_root)
        assert report_files(reports_root) == [reports_root / stored.file.name]

    @pytest.mark.django_db(transaction=True)
    def test_failed_render_on_approval_is_queued_again_by_the_download(
        self, monkeypatch, client_for, complete_assessment, lead, executive, reports_root
    ):
        """End to end: the render queued by the approval's commit dies; the download later queues it again."""
        cache.clear()  # the re-queue throttle lives in the cache
        calls = killed_on_first_render(monkeypatch, SystemExit)
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)

        approval = approve(complete_assessment, executive)  # commits; the task runs at once and dies

        assert calls == ["render"]
        assert not BoardReport.objects.exists()
        assert Assessment.objects.get(pk=complete_assessment.pk).state == AssessmentState.APPROVED
        # Past the grace period, the download notices the missing report and queues the render again.
        Approval.objects.filter(pk=approval.pk).update(
            approved_at=approval.approved_at - datetime.timedelta(minutes=10)
        )
        client = client_for(lead)
        url = reverse("approval-report-pdf", args=[approval.assessment_id, approval.revision])
        assert client.get(url).status_code == 503
        stored = assert_one_sound_report(approval, reports_root)
        response = client.get(url)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == stored.sha256
        assert calls == ["render", "render"]
        assert report_files(reports_root) == [reports_root / stored.file.name]

    @pytest.mark.django_db(transaction=True)
    def test_two_concurrent_renders_store_one_report_and_no_orphan_file(
        self, monkeypatch, complete_assessment, lead, executive, reports_root
    ):
        """Two workers render the same approval at once: one BoardReport, and the loser's file is deleted."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        with monkeypatch.context() as m:
            # Approve without running the task on commit: the two workers below run it.
            m.setattr(services, "render_board_report", type("Unqueued", (), {"enqueue": staticmethod(lambda pk: None)}))
            approval = approve(complete_assessment, executive)
        assert not BoardReport.objects.exists()

        both_rendered = threading.Barrier(2, timeout=120)
        renders: list[int] = []
        original = report.render_pdf

        def render_pdf(*args, **kwargs):
            pdf = original(*args, **kwargs)
            renders.append(threading.get_ident())
            # Both workers have looked for a stored report and found none before either stores one.
            both_rendered.wait()
            return pdf

        monkeypatch.setattr(report, "render_pdf", render_pdf)

        def worker() -> int:
            try:
                return render_board_report.call(approval.pk)
            finally:
                connections.close_all()  # this thread's own connection

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = [future.result(timeout=300) for future in [pool.submit(worker) for _ in range(2)]]

        assert len(set(renders)) == 2, "both workers must have rendered, or the race was not exercised"
        stored = assert_one_sound_report(approval, reports_root)
        assert results == [stored.pk, stored.pk]
        assert report_files(reports_root) == [reports_root / stored.file.name]
        assert Approval.objects.filter(assessment=approval.assessment).count() == 1


# ---- a full disk when evidence is uploaded ------------------------------------------------------

DISK_FULL_MESSAGE = "The file could not be saved. Try again later."
STORAGE_FIX = (
    "assessments/views/evidence.py evidence_upload (and evidence_new_version) let an OSError from the evidence "
    "storage escape as a 500: assessments/evidence.py _store_version's version.file.save() and hold_upload's "
    "storage().save() raise OSError(ENOSPC) uncaught. Catch OSError around them (raise EvidenceError with a clear "
    "message from _store_version; make keep_file_for_retry skip holding when the storage fails) and re-show the form."
)


@pytest.fixture
def full_evidence_storage(monkeypatch, settings, tmp_path) -> Path:
    """The evidence storage in a temporary folder, on a disk that is full: every write fails with ENOSPC."""
    root = use_temporary_evidence_storage(monkeypatch, settings, tmp_path)
    storage = EvidenceVersion._meta.get_field("file").storage

    def disk_full(name, content):
        raise OSError(errno.ENOSPC, "No space left on device", name)

    monkeypatch.setattr(storage, "_save", disk_full)
    return root


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


class TestDiskFullOnUpload:
    def test_full_disk_gives_a_clear_message_and_keeps_the_form(self, client_for, lead, trust, full_evidence_storage):
        """A complete, valid upload that cannot be written: the form again, with a message, nothing stored."""
        client = client_for(lead)
        client.raise_request_exception = False  # see the page a person would see
        title = "Supervision audit for the disk-full test"

        response = client.post(
            reverse("evidence-upload", args=[trust.ods_code]),
            {**details(title=title), "file": SimpleUploadedFile("audit.pdf", make_pdf())},
        )

        assert response.status_code == 200
        text = page_text(response)
        assert "There is a problem" in text
        assert DISK_FULL_MESSAGE in text
        assert f'value="{title}"' in response.content.decode()
        assert not EvidenceItem.objects.exists()
        assert not EvidenceVersion.objects.exists()
        assert not AuditEvent.objects.filter(action="evidence_uploaded").exists()
        assert stored_files(full_evidence_storage) == []

    def test_full_disk_while_holding_the_file_still_shows_the_form_errors(
        self, client_for, lead, trust, full_evidence_storage
    ):
        """A good file with a missing title: the file cannot be held for the retry, but the form comes back."""
        client = client_for(lead)
        client.raise_request_exception = False

        response = client.post(
            reverse("evidence-upload", args=[trust.ods_code]),
            {**details(title="", owner="Team typed by the uploader"), "file": SimpleUploadedFile("a.pdf", make_pdf())},
        )

        assert response.status_code == 200
        assert "Enter a title" in page_text(response)
        assert 'value="Team typed by the uploader"' in response.content.decode()
        assert not EvidenceItem.objects.exists()
        assert stored_files(full_evidence_storage) == []

    def test_full_disk_stores_nothing_in_the_database(self, client_for, lead, trust, full_evidence_storage):
        """Whatever the page shows, a failed write leaves no item, version or audit row behind."""
        client = client_for(lead)
        client.raise_request_exception = False

        client.post(
            reverse("evidence-upload", args=[trust.ods_code]),
            {**details(), "file": SimpleUploadedFile("audit.pdf", make_pdf())},
        )

        assert not EvidenceItem.objects.exists()
        assert not EvidenceVersion.objects.exists()
        assert not AuditEvent.objects.filter(action="evidence_uploaded").exists()
        assert stored_files(full_evidence_storage) == []
