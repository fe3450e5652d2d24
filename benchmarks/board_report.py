"""Board report benchmark: the portal's own work against WeasyPrint's, measured in the same run.

Seeds a full assessment in a throwaway database (8 requirements, 40 evidence items, 30 actions,
last cycle approved), approves it, and prints:
- pages, and the total time to build and render the approved report;
- the time WeasyPrint alone takes to lay out and write the same HTML;
- their ratio (target: the portal's data and templates add at most 15%, so ratio <= 1.15);
- the time to serve the stored approved report through its view (target: under 50 ms).

Run: `make bench-report` (or `.venv/bin/python benchmarks/board_report.py [--runs N]`).
Uses DATABASE_URL if set, otherwise a temporary SQLite file.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = tempfile.mkdtemp(prefix="portal-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
os.environ.setdefault("PORTAL_VAR_DIR", scratch)
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from tests.factories import sign_in_with_two_factor  # noqa: E402


def median_seconds(function, runs: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def seed():
    from assessments import services
    from assessments.models import ActionStatus, Cycle, EvidenceItem, EvidenceKind
    from portal.models import Region, Trust, TrustMembership, TrustRole, User

    call_command("migrate", verbosity=0)
    for path in sorted((settings.BASE_DIR / "fixtures" / "frameworks").glob("*.toml")):
        call_command("load_framework", str(path), verbosity=0)
    region = Region.objects.create(code="Y63", name="North East and Yorkshire")
    trust = Trust.objects.create(ods_code="RGD", name="Leeds and York Partnership NHS Foundation Trust", region=region)
    lead = User.objects.create_user("lead@example.nhs.uk", "x", full_name="Priya Shah", job_title="PSW")
    executive = User.objects.create_user("exec@example.nhs.uk", "x", full_name="Helen Marsh", job_title="Chief Nurse")
    TrustMembership.objects.create(user=lead, trust=trust, role=TrustRole.LEAD)
    TrustMembership.objects.create(user=executive, trust=trust, role=TrustRole.EXECUTIVE)
    evidence = [
        EvidenceItem.objects.create(
            trust=trust,
            kind=EvidenceKind.LINK,
            title=f"Evidence document {n}: supervision audit, policy or board minutes",
            evidence_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n),
            owner="Principal social worker",
            url=f"https://intranet.example.nhs.uk/doc/{n}",
        )
        for n in range(40)
    ]

    def approve_cycle(label, year, level_for, with_plan):
        cycle = Cycle.objects.create(
            label=label,
            snapshot_date=datetime.date(year, 3, 31),
            submission_deadline=datetime.date(year, 6, 30),
        )
        assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=False)
        levels = {level.value: level for level in assessment.framework.rating_levels.all()}
        for index, response in enumerate(assessment.responses.select_related("requirement")):
            services.save_response(
                response=response,
                expected_version=response.version,
                edited_by=lead,
                rating=levels[level_for(index)],
                rationale="The evidence shows arrangements in place and operating, with gaps described below. " * 3,
                strengths="Named executive lead; regular reports to the People Committee. " * 2,
                gaps_and_risks="Supervision recording is inconsistent in crisis teams. " * 2,
                ready=True,
            )
            if with_plan:
                for item in evidence[index * 5 : index * 5 + 5]:
                    services.link_evidence(response=response, item=item, linked_by=lead)
        if with_plan:
            requirements = list(assessment.framework.requirements.all())
            values = {
                i.pk: (Decimal(40), Decimal(200) if i.denominator_label else None)
                for i in assessment.framework.indicators.all()
            }
            services.save_indicator_values(assessment=assessment, values=values, edited_by=lead)
            for n in range(30):
                services.save_action(
                    assessment=assessment,
                    edited_by=lead,
                    title=f"Action {n + 1}: improve supervision recording and audit in community teams",
                    requirements=[requirements[n % len(requirements)]],
                    owner="Principal social worker",
                    due_date=datetime.date(2026, 4, 1) + datetime.timedelta(days=20 * n),
                    status=[ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS, ActionStatus.COMPLETE][n % 3],
                    progress_notes="On track.",
                )
        services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
        return services.approve(
            assessment=assessment,
            approved_by=executive,
            approver_name=executive.full_name,
            approver_role="Chief Nurse",
            statement="I confirm.",
        )

    approve_cycle("2025/26", 2025, lambda i: 2 + i % 2, with_plan=False)
    return approve_cycle("2026/27", 2026, lambda i: 1 + i % 4, with_plan=True), lead


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="renders per measurement (median is reported)")
    args = parser.parse_args()

    from django.db import connection

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from assessments import report
        from assessments.tasks import render_board_report

        approval, lead = seed()
        render_board_report.call(approval.pk)  # store the approved report, as the worker does

        # Warm up fonts and templates once so both measurements start equal, then interleave the
        # two measurements run by run, so that a busy machine slows both alike.
        html = report.report_html(report.report_for_approval(approval))
        report.write_pdf(html)
        totals, alone, own_work = [], [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            built = report.report_for_approval(approval)
            page_html = report.report_html(built)
            prepared = time.perf_counter()
            pdf = report.write_pdf(page_html)
            totals.append(time.perf_counter() - started)
            own_work.append(prepared - started)
            started = time.perf_counter()
            report.write_pdf(html)
            alone.append(time.perf_counter() - started)
        total, weasyprint_alone = statistics.median(totals), statistics.median(alone)

        client = sign_in_with_two_factor(Client(), lead)
        url = reverse("approval-report-pdf", args=[approval.assessment_id, approval.revision])
        client.get(url)
        serve, response = median_seconds(lambda: client.get(url), max(args.runs * 4, 20))
        assert response.status_code == 200

        import io

        from pypdf import PdfReader

        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        ratio = total / weasyprint_alone
        print(f"board report benchmark ({args.runs} runs, median; database {connection.vendor})")
        print(f"  pages                          {pages}")
        print(f"  total (portal + WeasyPrint)    {total * 1000:8.1f} ms")
        print(f"  WeasyPrint alone, same HTML    {weasyprint_alone * 1000:8.1f} ms")
        print(f"  portal's own work (data, HTML) {statistics.median(own_work) * 1000:8.1f} ms")
        verdict = "ok" if ratio <= 1.15 else "MISSED"
        print(f"  ratio total / WeasyPrint       {ratio:8.3f}   (target <= 1.15)  {verdict}")
        verdict = "ok" if serve < 0.05 else "MISSED"
        print(f"  serve stored approved report   {serve * 1000:8.1f} ms   (target < 50 ms)  {verdict}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
