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
    never produces a second, different file for the same approval.
    """
    from assessments import report

    existing = BoardReport.objects.filter(approval_id=approval_id).first()
    if existing:
        return existing.pk
    approval = Approval.objects.select_related("assessment__trust", "assessment__cycle").get(pk=approval_id)
    pdf = report.render_pdf(report.report_for_approval(approval))
    board_report = BoardReport(
        approval=approval,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        pages=len(PdfReader(io.BytesIO(pdf)).pages),
    )
    board_report.file.save("report.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            board_report.save()
    except IntegrityError:
        # Another worker stored it first: keep theirs and drop our copy of the file.
        board_report.file.delete(save=False)
        return BoardReport.objects.get(approval_id=approval_id).pk
    return board_report.pk
