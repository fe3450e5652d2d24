"""Write a trust's board report for a cycle to a file, for batch board packs."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assessments.models import Approval, Assessment, BoardReport
from assessments.tasks import render_board_report


class Command(BaseCommand):
    help = (
        "Write the approved board report of a trust's assessment (the latest approved revision, byte for byte "
        "as stored at approval), or with --draft a DRAFT of the live assessment."
    )

    def add_arguments(self, parser):
        parser.add_argument("ods_code", help="The trust's ODS code, such as RGD")
        parser.add_argument("cycle", help="The cycle, such as 2026/27")
        parser.add_argument("--output", required=True, type=Path, help="Where to write the PDF")
        parser.add_argument("--draft", action="store_true", help="Render a DRAFT of the live assessment")

    def handle(self, *args, ods_code, cycle, output, draft, **options):
        from assessments import report

        assessment = (
            Assessment.objects.select_related("trust", "cycle")
            .filter(trust__ods_code=ods_code.upper(), cycle__label=cycle)
            .first()
        )
        if assessment is None:
            raise CommandError(f"No assessment for trust {ods_code.upper()} in cycle {cycle}.")
        try:
            pdf, what = self._pdf(assessment, cycle, draft=draft)
        except report.ReportRenderError as error:
            raise CommandError(f"Could not render the report: {error}") from None
        try:
            output.write_bytes(pdf)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror or error}") from None
        self.stdout.write(f"{what} board report for {assessment.trust.name}, {cycle}: {output} ({len(pdf):,} bytes)")

    def _pdf(self, assessment, cycle, *, draft) -> tuple[bytes, str]:
        from assessments import report

        if draft:
            return report.render_pdf(report.report_for_draft(assessment)), "Draft"
        approval = Approval.objects.filter(assessment=assessment).order_by("-revision").first()
        if approval is None:
            raise CommandError(
                f"{assessment.trust.name}'s {cycle} assessment has not been approved; use --draft for a draft."
            )
        # Normally rendered by the worker at approval; render now if it has not run yet.
        board_report = BoardReport.objects.get(pk=render_board_report.call(approval.pk))
        with board_report.file.open("rb") as stored:
            return stored.read(), f"Approved revision {approval.revision}"
