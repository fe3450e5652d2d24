"""Benchmark the ICS comparison page: does it stay fast as an ICB grows from 5 trusts to 20?

Seeds a national dataset in a throwaway database (60 trusts in 10 ICBs, 6 cycles, approved
assessments with workforce figures, a framework version change, some drafts and late trusts),
then times the comparison page for an ICB of 5 trusts and one of 20 and prints the median
server time of N runs, the query count, and the ratio of the two medians (target: at most 2).

    make bench-comparison                       (a throwaway PostgreSQL, as `make test` uses)
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/comparison.py [--runs 25]

Run directly, it creates a throwaway database (bench_comparison_<pid>) on the server in
DATABASE_URL, as the test runner does, and drops it afterwards. Under pytest (the make
target) it uses pytest-django's test database.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRUSTS, ICBS, CYCLES = 60, 10, 6
SMALL, LARGE = 5, 20
RUNS = 25


def seed() -> dict[str, object]:
    """The national dataset. Returns the ICS leads of the small and the large ICB."""
    from django.conf import settings
    from django.core.management import call_command

    from assessments import services
    from assessments.models import Approval, Assessment, AssessmentState, Cycle, IndicatorValue, Response
    from portal.models import ICB, ICBMembership, Region, Trust, TrustICBMembership, User
    from requirements.models import Framework, RatingLevel, Requirement

    rng = random.Random(2026)
    for path in sorted((Path(settings.BASE_DIR) / "fixtures" / "frameworks").glob("*.toml")):
        call_command("load_framework", str(path), verbosity=0)
    first = Framework.objects.current()
    second = Framework.objects.create(
        slug=first.slug,
        title=first.title,
        publisher=first.publisher,
        version="2028.1",
        publication_date=datetime.date(2028, 4, 1),
        status=first.status,
    )
    for r in first.requirements.all():
        Requirement.objects.create(framework=second, code=r.code, order=r.order, title=r.title, summary=r.summary)
    for level in first.rating_levels.all():
        RatingLevel.objects.create(framework=second, value=level.value, label=level.label, meaning=level.meaning)
    for i in first.indicators.all():
        i.pk = None
        i.framework = second
        i.save()

    region = Region.objects.create(code="YBM", name="Benchmark region")
    icbs = [ICB.objects.create(ods_code=f"QB{n}", name=f"NHS Benchmark {n} ICB", region=region) for n in range(ICBS)]
    trusts = [
        Trust.objects.create(ods_code=f"RB{n:02d}", name=f"Benchmark {n:02d} NHS Foundation Trust", region=region)
        for n in range(TRUSTS)
    ]
    # ICB 0 holds 5 trusts, ICB 1 holds 20; the other 35 are spread over the other eight ICBs.
    sizes = [SMALL, LARGE] + [35 // 8 + (1 if n < 35 % 8 else 0) for n in range(ICBS - 2)]
    start = 0
    for icb, size in zip(icbs, sizes, strict=True):
        for trust in trusts[start : start + size]:
            TrustICBMembership.objects.create(trust=trust, icb=icb, is_host=True, start_date=datetime.date(2015, 4, 1))
        start += size

    cycles = [
        Cycle.objects.create(
            label=f"{2022 + n}/{(23 + n) % 100:02d}",
            snapshot_date=datetime.date(2022 + n, 3, 31),
            submission_deadline=datetime.date(2022 + n, 6, 30),
        )
        for n in range(CYCLES)
    ]
    frameworks = {c.pk: (first if n < CYCLES - 2 else second) for n, c in enumerate(cycles)}
    levels = {fw.pk: {level.value: level for level in fw.rating_levels.all()} for fw in (first, second)}
    requirements = {fw.pk: list(fw.requirements.all()) for fw in (first, second)}
    indicators = {fw.pk: list(fw.indicators.all()) for fw in (first, second)}

    assessments = []
    for trust in trusts:
        for n, cycle in enumerate(cycles):
            latest = n == CYCLES - 1
            roll = rng.random()
            if latest and roll < 0.1:
                continue  # not started
            state = AssessmentState.APPROVED
            if latest and roll < 0.25:
                state = AssessmentState.DRAFT
            elif latest and roll < 0.35:
                state = AssessmentState.AWAITING_SIGN_OFF
            assessments.append(Assessment(trust=trust, cycle=cycle, framework=frameworks[cycle.pk], state=state))
    Assessment.objects.bulk_create(assessments)
    responses, values = [], []
    for a in assessments:
        base = rng.randint(1, 3)
        for r in requirements[a.framework_id]:
            value = max(1, min(4, base + rng.choice([-1, 0, 0, 1])))
            responses.append(
                Response(
                    assessment=a,
                    requirement=r,
                    rating=levels[a.framework_id][value],
                    rationale=f"Benchmark rationale for {r.code}. " * 8,
                    strengths="Strengths. " * 10,
                    gaps_and_risks="Gaps. " * 10,
                    status="ready",
                )
            )
        headcount = rng.randint(40, 320)
        for i in indicators[a.framework_id]:
            if i.denominator_label:
                denominator = Decimal(headcount)
                numerator = Decimal(rng.randint(0, headcount // 3))
            else:
                numerator, denominator = Decimal(rng.randint(0, headcount)), None
            values.append(IndicatorValue(assessment=a, indicator=i, numerator=numerator, denominator=denominator))
    Response.objects.bulk_create(responses, batch_size=2000)
    IndicatorValue.objects.bulk_create(values, batch_size=2000)

    approvals = []
    for a in assessments:
        if a.state != AssessmentState.APPROVED:
            continue
        approved_at = datetime.datetime.combine(
            a.cycle.submission_deadline - datetime.timedelta(days=rng.randint(1, 60)),
            datetime.time(12),
            tzinfo=datetime.UTC,
        )
        sign_off = {"name": "Executive", "role": "Chief Nurse", "statement": "Approved.", "approved_at": ""}
        sign_off["approved_at"] = approved_at.isoformat()
        snapshot = services.build_snapshot(a, sign_off=sign_off)
        approvals.append(
            Approval(
                assessment=a,
                revision=1,
                approver_name="Executive",
                approver_role="Chief Nurse",
                statement="Approved.",
                approved_at=approved_at,
                snapshot=snapshot,
                content_hash=services.content_hash(snapshot),
            )
        )
    Approval.objects.bulk_create(approvals, batch_size=200)

    leads = {}
    for icb, size in ((icbs[0], SMALL), (icbs[1], LARGE)):
        user = User.objects.create_user(f"ics{size}@example.nhs.uk", "not-used", full_name=f"ICS lead {size}")
        ICBMembership.objects.create(user=user, icb=icb)
        leads[size] = (user, icb)
    print(
        f"Seeded {len(trusts)} trusts in {len(icbs)} ICBs, {len(cycles)} cycles, "
        f"{len(assessments)} assessments ({len(approvals)} approved)."
    )
    return leads


def _client(user):
    from django.test import Client

    from tests.factories import sign_in_with_two_factor

    return sign_in_with_two_factor(Client(), user)


def count_queries(client, url: str) -> tuple[int, int]:
    """The queries one request runs, and the response's size in bytes."""
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries), len(response.content)


def time_interleaved(requests: dict[str, tuple[object, str]], runs: int) -> dict[str, float]:
    """Median milliseconds per request, taking turns so that noise on a busy machine hits each alike."""
    times: dict[str, list[float]] = {key: [] for key in requests}
    for _ in range(3):
        for client, url in requests.values():
            client.get(url)
    for _ in range(runs):
        for key, (client, url) in requests.items():
            started = time.perf_counter()
            client.get(url)
            times[key].append((time.perf_counter() - started) * 1000)
    return {key: statistics.median(values) for key, values in times.items()}


def run(runs: int = RUNS) -> float:
    """Seed, measure and print. Returns the ratio of the page's two medians (large over small)."""
    from django.urls import reverse

    leads = seed()
    print(f"\nMedian server time of {runs} requests each (test client: middleware, queries and template):")
    print(f"  {'':<18}{'trusts':>7}{'median ms':>11}{'queries':>9}{'KB':>7}")
    ratios = {}
    for what, name, extra in (
        ("comparison page", "comparison", []),
        ("CSV export", "comparison-export", ["csv"]),
        ("Excel export", "comparison-export", ["xlsx"]),
    ):
        requests = {
            size: (_client(user), reverse(name, args=[icb.ods_code, *extra])) for size, (user, icb) in leads.items()
        }
        medians = time_interleaved(requests, runs)
        queries = {}
        for size, (client, url) in sorted(requests.items()):
            queries[size], size_bytes = count_queries(client, url)
            print(f"  {what:<18}{size:>7}{medians[size]:>11.1f}{queries[size]:>9}{size_bytes / 1024:>7.0f}")
        ratios[what] = (medians[LARGE] / medians[SMALL], queries[SMALL] == queries[LARGE])
    print()
    for what, (ratio, same) in ratios.items():
        verdict = "the same queries" if same else "DIFFERENT query counts"
        print(f"  {what}: {LARGE} trusts take {ratio:.2f}x the time of {SMALL} (target: at most 2), {verdict}")
    return ratios["comparison page"][0]


def test_benchmark_comparison(transactional_db, monkeypatch):
    """`make bench-comparison`: the benchmark on pytest-django's throwaway test database."""
    from django.template import Template

    # The test environment wraps every template render to record it for assertTemplateUsed;
    # time the page as it runs in production instead.
    if hasattr(Template, "_original_render"):
        monkeypatch.setattr(Template, "_render", Template._original_render)
    run(int(os.environ.get("BENCH_RUNS", RUNS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"requests to time for each page (default {RUNS})")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if "DATABASE_URL" not in os.environ:
        sys.exit("Set DATABASE_URL to a PostgreSQL server (a throwaway database is made on it and dropped).")
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    # Its own name, so that it never clobbers the test database of a test run going on beside it.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_comparison_{os.getpid()}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args.runs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
