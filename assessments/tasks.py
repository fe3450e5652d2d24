"""Background tasks: rendering an approved board report once, from its frozen snapshot."""

import hashlib
import io

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.tasks import task
from pypdf import PdfReader

from assessments.models import Approval, BoardReport


@task
def render_board_report(approval_id: int) -> int:
    """Render and store the board report of an approval; returns the BoardReport id.

    Idempotent: a report already stored is kept as it is, so a retried or duplicated task
    never produces a second, different file for the same approval. The file's name comes from
    the approval and the content's hash, so a worker stopped after writing it leaves a file
    that the retry finds and uses, never a second one.
    """
    from assessments import report

    existing = BoardReport.objects.filter(approval_id=approval_id).first()
    if existing:
        return existing.pk
    approval = Approval.objects.select_related("assessment__trust", "assessment__cycle").get(pk=approval_id)
    pdf = report.render_pdf(report.report_for_approval(approval))
    sha256 = hashlib.sha256(pdf).hexdigest()
    board_report = BoardReport(
        approval=approval, sha256=sha256, size=len(pdf), pages=len(PdfReader(io.BytesIO(pdf)).pages)
    )
    storage = board_report.file.storage
    name = f"reports/{approval.assessment.trust_id}/{approval.pk}-{sha256[:32]}.pdf"
    stored_sha256 = _stored_sha256(storage, name)
    if stored_sha256 != sha256:
        if stored_sha256 is not None:
            # A partial write from a stopped worker (on a disk: an S3 object appears only when
            # whole). Deleted only once read and found wrong, never a racing worker's good copy.
            storage.delete(name)
        name = storage.save(name, ContentFile(pdf))
    board_report.file.name = name
    try:
        with transaction.atomic():
            board_report.save()
    except IntegrityError:
        # Another worker stored it first: keep theirs. Racing writers can end with two names for
        # the same bytes (the storage adds a suffix), so drop ours unless it is the one kept.
        stored = BoardReport.objects.get(approval_id=approval_id)
        if stored.file.name != name:
            storage.delete(name)
        return stored.pk
    return board_report.pk


def _stored_sha256(storage, name: str) -> str | None:
    """The SHA-256 of the file stored under ``name``, or None when there is none."""
    try:
        with storage.open(name, "rb") as stored:
            return hashlib.sha256(stored.read()).hexdigest()
    except FileNotFoundError:
        return None
