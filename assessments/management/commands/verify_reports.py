"""Check that what was approved is intact: snapshots, stored board reports and evidence files."""

from __future__ import annotations

import hashlib
import io

from django.core.management.base import BaseCommand, CommandError
from pypdf import PdfReader

from assessments.models import Approval, BoardReport, EvidenceVersion
from assessments.services import content_hash

from ._backup import copy_hashing, plural


class Command(BaseCommand):
    help = (
        "Check every approval's frozen snapshot against its content hash, every stored board report against its "
        "SHA-256 (and that it is a PDF) and every evidence file against its SHA-256. One line per problem; "
        "exits non-zero if anything does not match or is missing."
    )

    def handle(self, *args, **options):
        self.problems = 0
        approvals = self._check_approvals()
        reports = self._check_reports()
        files = self._check_evidence()
        unrendered = Approval.objects.filter(board_report__isnull=True).count()
        if unrendered:
            self.stdout.write(
                f"Note: {plural(unrendered, 'approval has', 'approvals have')} no stored board report yet "
                "(the background worker renders it)."
            )
        checked = (
            f"{plural(approvals, 'approval')}, {plural(reports, 'report')}, {plural(files, 'evidence file')} checked"
        )
        if self.problems:
            self.stdout.write(f"{checked}: {plural(self.problems, 'problem')}")
            raise CommandError(f"{plural(self.problems, 'problem')} found (listed above).")
        self.stdout.write(f"{checked}: all match")

    def problem(self, text: str) -> None:
        self.problems += 1
        self.stderr.write(text)

    def _check_approvals(self) -> int:
        count = 0
        approvals = Approval.objects.select_related("assessment__trust", "assessment__cycle").order_by("pk")
        for approval in approvals.iterator(chunk_size=100):
            count += 1
            # The same function that hashed the snapshot when the approval was created.
            computed = content_hash(approval.snapshot)
            if computed != approval.content_hash:
                self.problem(
                    f"{self._approval(approval)}: the snapshot's SHA-256 {computed} does not match "
                    f"the stored content hash {approval.content_hash}"
                )
        return count

    def _check_reports(self) -> int:
        count = 0
        reports = (
            BoardReport.objects.select_related("approval__assessment__trust", "approval__assessment__cycle")
            .defer("approval__snapshot")
            .order_by("pk")
        )
        for report in reports.iterator(chunk_size=100):
            count += 1
            what = f"Board report {report.pk} for {self._approval(report.approval)}, file {report.file.name}"
            data = self._read(what, report.file)
            if data is None:
                continue
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 != report.sha256:
                self.problem(
                    f"{what}: the stored file's SHA-256 {sha256} ({len(data):,} bytes) does not match "
                    f"the recorded {report.sha256} ({report.size:,} bytes)"
                )
            if not data.startswith(b"%PDF-"):
                self.problem(f"{what}: not a PDF (it does not start with %PDF-)")
                continue
            try:
                pages = len(PdfReader(io.BytesIO(data)).pages)
            except Exception as error:  # any parser failure means the file is damaged
                self.problem(f"{what}: not a readable PDF ({error})")
                continue
            if pages != report.pages:
                self.problem(f"{what}: {plural(pages, 'page')}, but {report.pages} recorded")
        return count

    def _check_evidence(self) -> int:
        count = 0
        versions = EvidenceVersion.objects.exclude(file="").select_related("item__trust").order_by("pk")
        for version in versions.iterator(chunk_size=500):
            count += 1
            what = (
                f"Evidence version {version.pk} ({version.item.trust.ods_code}, “{version.item.title}” "
                f"version {version.number}), file {version.file.name}"
            )
            found = self._hash(what, version.file)
            if found is None:
                continue
            size, sha256 = found
            if sha256 != version.sha256 or size != version.size:
                self.problem(
                    f"{what}: the stored file's SHA-256 {sha256} ({size:,} bytes) does not match "
                    f"the recorded {version.sha256} ({version.size:,} bytes)"
                )
        return count

    def _approval(self, approval: Approval) -> str:
        assessment = approval.assessment
        return (
            f"Approval {approval.pk} ({assessment.trust.ods_code} {assessment.cycle.label}, "
            f"revision {approval.revision})"
        )

    def _exists(self, what: str, field_file) -> bool:
        if not field_file.name:
            self.problem(f"{what}: no file recorded")
            return False
        if not field_file.storage.exists(field_file.name):
            self.problem(f"{what}: the stored file is missing")
            return False
        return True

    def _read(self, what: str, field_file) -> bytes | None:
        if not self._exists(what, field_file):
            return None
        try:
            with field_file.storage.open(field_file.name, "rb") as stored:
                return stored.read()
        except Exception as error:  # whatever the storage raises: report it, go on
            self.problem(f"{what}: the stored file could not be read ({error})")
            return None

    def _hash(self, what: str, field_file) -> tuple[int, str] | None:
        if not self._exists(what, field_file):
            return None
        try:
            with field_file.storage.open(field_file.name, "rb") as stored:
                return copy_hashing(stored)
        except Exception as error:  # whatever the storage raises: report it, go on
            self.problem(f"{what}: the stored file could not be read ({error})")
            return None
