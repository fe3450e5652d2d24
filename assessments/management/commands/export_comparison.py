"""Write an ICB's trust comparison for a cycle to a CSV or Excel file, for analysts.

The file holds exactly what the ICB's ICS lead sees on the comparison page: approved
assessments only, with small special-category numbers suppressed.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assessments import exports
from assessments.comparison import build_comparison
from assessments.models import Cycle
from portal.models import ICB


class Command(BaseCommand):
    help = "Export an ICB's comparison of its trusts for a cycle (approved assessments only) as CSV or Excel."

    def add_arguments(self, parser):
        parser.add_argument("--icb", required=True, help="The ICB's ODS code, such as QWO")
        parser.add_argument("--cycle", required=True, help="The cycle, such as 2025/26")
        parser.add_argument("--format", required=True, choices=["csv", "xlsx"], help="csv or xlsx (Excel)")
        parser.add_argument("--output", required=True, type=Path, help="The file to write")

    def handle(self, *args, icb, cycle, output, **options):
        fmt = options["format"]
        found = ICB.objects.filter(ods_code=icb.upper()).first()
        if found is None:
            raise CommandError(f"There is no ICB with ODS code {icb.upper()}.")
        chosen = Cycle.objects.filter(label=cycle).first()
        if chosen is None:
            labels = ", ".join(Cycle.objects.order_by("-label").values_list("label", flat=True)) or "none yet"
            raise CommandError(f"There is no cycle {cycle}. Cycles: {labels}.")
        comparison = build_comparison(icb=found, cycle=chosen)
        if fmt == "csv":
            output.write_text(exports.to_csv(comparison), encoding="utf-8-sig", newline="")
        else:
            output.write_bytes(exports.to_xlsx(comparison))
        approved = len(comparison.approved_rows)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {output}: {found.name}, {chosen.label}, {len(comparison.rows)} trusts "
                f"({approved} with an approved assessment)."
            )
        )
