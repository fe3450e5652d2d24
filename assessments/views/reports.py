"""The board report: cover sheet, HTML preview and PDF, for drafts and for approved revisions.

Drafts are rendered on request with a DRAFT mark on every page. Approved reports were rendered
once, from the frozen snapshot, when the approval committed, and are served byte for byte.
"""

import datetime
import logging

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_safe

from assessments import services
from assessments.access import access_approval, access_assessment
from assessments.models import CoverSheet
from assessments.report_forms import CoverSheetForm
from assessments.services import COVER_SHEET_FIELDS, AssessmentError
from assessments.tasks import render_board_report
from portal.models import TrustRole

DRAFT_READERS = {TrustRole.LEAD, TrustRole.CONTRIBUTOR, TrustRole.EXECUTIVE}
RENDER_GRACE = datetime.timedelta(minutes=3)
logger = logging.getLogger(__name__)


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def report_filename(trust_code: str, cycle: str, suffix: str) -> str:
    return f"{trust_code}-{slugify(cycle.replace('/', '-'))}-board-report-{suffix}.pdf"


@require_http_methods(["GET", "POST"])
def cover_sheet(request, pk):
    assessment, _ = access_assessment(request.user, pk, roles={TrustRole.LEAD})
    if not assessment.is_editable:
        return render(request, "assessments/not_editable.html", {"assessment": assessment}, status=403)
    cover = CoverSheet.objects.filter(assessment=assessment).first() or CoverSheet(assessment=assessment)
    initial = {field: getattr(cover, field) for field in COVER_SHEET_FIELDS}
    form = CoverSheetForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_cover_sheet(assessment=assessment, edited_by=request.user, **form.cleaned_data)
        except AssessmentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Cover sheet saved")
            return redirect("assessment-overview", pk=assessment.pk)
    return render(request, "assessments/report/cover_sheet.html", {"assessment": assessment, "form": form})


@require_safe
def draft_preview(request, pk):
    """The board report of the live assessment, as a web page."""
    from assessments import report

    assessment, _ = access_assessment(request.user, pk, roles=DRAFT_READERS)
    return render(
        request,
        "reports/board_report_preview.html",
        {"report": report.report_for_draft(assessment), "assessment": assessment},
    )


@require_safe
def draft_pdf(request, pk):
    """A draft PDF of the live assessment, marked DRAFT on every page."""
    from assessments import report

    assessment, _ = access_assessment(request.user, pk, roles=DRAFT_READERS)
    try:
        pdf = report.render_pdf(report.report_for_draft(assessment))
    except report.ReportRenderError:
        logger.exception("Could not render the draft board report of assessment %s", assessment.pk)
        return render(request, "assessments/report/unavailable.html", {"assessment": assessment}, status=503)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return pdf_response(pdf, report_filename(assessment.trust.ods_code, assessment.cycle.label, f"DRAFT-{stamp}"))


@require_safe
def approved_preview(request, pk, revision):
    """The approved board report as a web page, from the frozen snapshot."""
    from assessments import report

    approval = access_approval(request.user, pk, revision)
    return render(
        request,
        "reports/board_report_preview.html",
        {"report": report.report_for_approval(approval), "assessment": approval.assessment, "approval": approval},
    )


@require_safe
def approved_pdf(request, pk, revision):
    """The stored PDF, byte for byte as rendered at approval."""
    approval = access_approval(request.user, pk, revision, with_snapshot=False)
    board_report = approval.stored_report
    if board_report is None:
        # The worker renders it when the approval commits. If that has not happened after a few
        # minutes (a failed render, a lost task), queue it again, at most every few minutes.
        overdue = timezone.now() - approval.approved_at > RENDER_GRACE
        if overdue and cache.add(f"board-report-requeued:{approval.pk}", True, RENDER_GRACE.total_seconds()):
            render_board_report.enqueue(approval.pk)
        response = render(request, "assessments/report/preparing.html", {"approval": approval}, status=503)
        response["Retry-After"] = "30"
        return response
    with board_report.file.open("rb") as stored:
        pdf = stored.read()
    assessment = approval.assessment
    response = pdf_response(
        pdf, report_filename(assessment.trust.ods_code, assessment.cycle.label, f"revision-{approval.revision}")
    )
    response["ETag"] = f'"{board_report.sha256}"'
    return response
