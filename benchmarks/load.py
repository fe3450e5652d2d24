"""Load benchmark: the portal served by gunicorn, 20 concurrent users, each page against a bare page.

Seeds the national dataset of ``benchmarks/comparison.py`` (60 trusts in 10 ICBs, 6 cycles),
adds a trust lead and an ICS lead with a few signed-in sessions each and one stored approved
board report, then serves the portal with gunicorn on 127.0.0.1 (production settings: no
DEBUG, a random SECRET_KEY, collected static files, 2 sync workers) and measures, for a fixed
time each at 20 concurrent connections:

- the baseline, a bare Django page: the accessibility statement (``/accessibility/``), a static
  page in the site's base template (the NHS.UK header with the person's name and the sign-out
  form, the footer), requested with the leads' session cookies, the same sessions that must get
  the portal pages. It costs what every signed-in page costs (the middleware, reading the session
  and the person, rendering the base template) and nothing more; it is measured first and last,
  and the mean of the two is the baseline;
- the assessment overview and a requirement page (a trust lead, on a draft assessment);
- the ICS comparison page for an ICB of 20 trusts (an ICS lead);
- the download of a stored approved board report (a trust lead);
- for reference, not targets: ``/healthz`` signed out (a view that runs one ``SELECT 1``, without
  sessions or templates: the server's own ceiling) and ``/healthz`` with a lead's session cookie
  (the signed-in middleware without a template). They are not pages, so neither is the baseline.

For each it prints requests per second, p50 and p99 latency, and the ratio of its throughput to
the baseline's (target: each portal page at least 0.5). Every session must get each page with 200
(the bare page also with the signed-in NHS.UK layout) before and after its run. The load comes
from ``wrk`` when it is installed (``apt-get install wrk``), otherwise from a pool of Python
threads with keep-alive connections (slower: its figures are lower for every page, the baseline
too; BENCH_LOAD_GENERATOR=python chooses it even when wrk is there). Requests go only to the
gunicorn started here on 127.0.0.1, for ``--duration`` seconds per page.

    make bench-load                              (a throwaway PostgreSQL, as `make test` uses)
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/load.py [--duration 10] [--users 20]
    .venv/bin/python benchmarks/load.py          (no DATABASE_URL: SQLite in a temporary folder)

Run directly with DATABASE_URL, it creates a throwaway database (bench_load_<pid>) on that server
and drops it afterwards; under pytest (the make target) it uses pytest-django's test database.
gunicorn is stopped and the temporary files removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
USERS = 20
DURATION = 10.0
WARM_UP = 2.0
WORKERS = 2
SESSIONS_PER_ROLE = 4
TARGET_RATIO = 0.5
BASELINE = "bare page, signed in"  # the accessibility statement: see the docstring
HEALTHZ = "/healthz signed out"
HEALTHZ_SIGNED_IN = "/healthz signed in"
REFERENCES = (HEALTHZ, HEALTHZ_SIGNED_IN)  # printed with their ratio, not targets
# What the bare page must show to a signed-in person: the NHS.UK header with the sign-out form, and the footer.
SIGNED_IN_LAYOUT = (b'class="nhsuk-header"', b"nhsuk-header__account-button", b'class="nhsuk-footer"')


# ---- the data -----------------------------------------------------------------------------------


@dataclass
class Seeded:
    password: str
    leads: list[str]  # e-mail addresses of the trust's leads
    ics_leads: list[str]
    pages: dict[str, str]  # label -> path, signed in as a lead, or as an ICS lead for the comparison
    bare_page: str  # the baseline's path, signed in as a lead


def seed() -> Seeded:
    """The comparison benchmark's national dataset, plus the people and the stored report this one needs."""
    sys.path.insert(0, str(ROOT))
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.urls import reverse
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from assessments.models import Approval, Assessment, AssessmentState, BoardReport
    from assessments.tasks import render_board_report
    from benchmarks.comparison import CYCLES, LARGE
    from benchmarks.comparison import seed as seed_national
    from portal.models import ICBMembership, TrustMembership, TrustRole, User

    ics_leads = seed_national()
    _, icb = ics_leads[LARGE]
    latest_cycle = f"{2022 + CYCLES - 1}/"  # comparison.seed's last cycle, where the drafts are
    draft = (
        Assessment.objects.filter(
            trust__icb_memberships__icb=icb, cycle__label__startswith=latest_cycle, state=AssessmentState.DRAFT
        )
        .select_related("trust", "framework")
        .order_by("trust__ods_code")
        .first()
    )
    if draft is None:
        raise RuntimeError(f"The seeded data has no draft assessment in {icb.ods_code} to measure.")
    trust = draft.trust
    approval = (
        Approval.objects.filter(assessment__trust=trust, assessment__state=AssessmentState.APPROVED)
        .select_related("assessment")
        .order_by("-assessment__cycle__label")
        .first()
    )
    render_board_report.call(approval.pk)  # stored once, as the worker does on approval
    assert BoardReport.objects.filter(approval=approval).exists()

    # Production's hasher, whatever the seeding settings use: the server checks these passwords.
    password = secrets.token_urlsafe(16)
    encoded = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    leads, icb_leads = [], []
    for n in range(SESSIONS_PER_ROLE):
        lead = User.objects.create(email=f"load-lead-{n}@example.nhs.uk", full_name=f"Load Lead {n}", password=encoded)
        TrustMembership.objects.create(user=lead, trust=trust, role=TrustRole.LEAD)
        TOTPDevice.objects.create(user=lead, name="Authenticator app", confirmed=True)
        leads.append(lead.email)
        ics = User.objects.create(email=f"load-ics-{n}@example.nhs.uk", full_name=f"Load ICS {n}", password=encoded)
        ICBMembership.objects.create(user=ics, icb=icb)
        TOTPDevice.objects.create(user=ics, name="Authenticator app", confirmed=True)
        icb_leads.append(ics.email)
    code = draft.framework.requirements.order_by("order").values_list("code", flat=True).first()
    return Seeded(
        password=password,
        leads=leads,
        ics_leads=icb_leads,
        pages={
            "assessment overview": reverse("assessment-overview", args=[draft.pk]),
            "requirement page": reverse("response-edit", args=[draft.pk, code]),
            "ICS comparison (20 trusts)": reverse("comparison", args=[icb.ods_code]),
            "approved report download": reverse(
                "approval-report-pdf", args=[approval.assessment_id, approval.revision]
            ),
        },
        bare_page=reverse("accessibility"),
    )


# ---- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_environment(database_url: str, var_dir: Path, static_root: Path) -> dict[str, str]:
    """Production settings: no DEBUG, a random key, collected static files, only 127.0.0.1 allowed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        DATABASE_URL=database_url,
        PORTAL_VAR_DIR=str(var_dir),
        STATIC_ROOT=str(static_root),
        PYTHONPATH=str(ROOT),
    )
    return env


class Server:
    """gunicorn serving the portal on 127.0.0.1; stopped (its whole process group) by ``stop``."""

    def __init__(self, env: dict[str, str], workers: int, log: Path):
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "portal.wsgi",
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends the workers too
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = get(self.port, "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
        else:
            # The master is gone; end any worker it left in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


def collect_static(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


# ---- HTTP: signing in and checking pages --------------------------------------------------------


def get(port: int, path: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        for name, morsel in SimpleCookie(header).items():
            jar[name] = morsel.value


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def _form_post(conn: http.client.HTTPConnection, path: str, fields: dict[str, str], jar: dict[str, str]) -> int:
    """GET the form at ``path`` for its CSRF token, then POST ``fields`` to it; returns the POST's status."""
    conn.request("GET", path, headers={"Cookie": _cookie_header(jar)})
    response = conn.getresponse()
    page = response.read().decode()
    _cookies(response, jar)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if response.status != 200 or not match:
        raise RuntimeError(f"{path} gave {response.status} without a CSRF token.")
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": html.unescape(match[1]), **fields})
    conn.request(
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)},
    )
    response = conn.getresponse()
    response.read()
    _cookies(response, jar)
    return response.status


def sign_in(port: int, email: str, password: str) -> str:
    """Both steps of signing in, as a browser does them: the sign-in form, then the security code from
    the person's authenticator app (its current code, worked out from their device's key). Returns
    the Cookie header of the session."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        status = _form_post(conn, "/sign-in/", {"username": email, "password": password}, jar)
        if status != 302:
            raise RuntimeError(f"Signing in as {email} gave {status}, not a redirect: the form refused it.")
        device = TOTPDevice.objects.get(user__email=email, confirmed=True)
        code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
        status = _form_post(conn, "/sign-in/security-code/", {"code": code}, jar)
        if status != 302:
            raise RuntimeError(f"The security code for {email} gave {status}, not a redirect: it was refused.")
    finally:
        conn.close()
    return _cookie_header(jar)


def check_page(port: int, path: str, cookies: list[str], must_show: tuple[bytes, ...] = ()) -> int:
    """Every session gets the page with 200 (not a redirect to sign-in or a further step); returns its size.

    ``must_show``: markup each response must hold (the signed-in layout, for the bare page).
    """
    size = 0
    for cookie in cookies or [""]:
        status, headers, body = get(port, path, cookie)
        if status != 200:
            where = headers.get("Location", "")
            raise RuntimeError(f"GET {path} gave {status} {where}: signed in sessions must get the page.")
        if path.endswith(".pdf") and not body.startswith(b"%PDF-"):
            raise RuntimeError(f"GET {path} did not return a PDF.")
        if missing := [part.decode() for part in must_show if part not in body]:
            raise RuntimeError(f"GET {path} lacks {', '.join(missing)}: not the signed-in page in the base template.")
        size = len(body)
    return size


# ---- load generators ----------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0  # connection errors and timeouts
    bad_status: int = 0  # responses other than 2xx/3xx (wrk) or other than 200 (Python)
    notes: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


LUA = """
-- Written by benchmarks/load.py: GET one path, taking the signed-in sessions in turn.
local path = %(path)s
local cookies = {%(cookies)s}
local requests = {}
local n = 0

init = function(args)
  if #cookies == 0 then
    requests[1] = wrk.format("GET", path)
  else
    for i, cookie in ipairs(cookies) do
      requests[i] = wrk.format("GET", path, {["Cookie"] = cookie})
    end
  end
end

request = function()
  n = n + 1
  return requests[(n %% #requests) + 1]
end
"""

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * UNITS[match[2]]


def run_wrk(port: int, path: str, cookies: list[str], users: int, seconds: float, scratch: Path) -> Result:
    script = scratch / "load.lua"
    script.write_text(
        LUA % {"path": _lua_string(path), "cookies": ", ".join(_lua_string(c) for c in cookies)}, encoding="utf-8"
    )
    threads = max(1, min(users, os.cpu_count() or 1))
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    output = subprocess.run(  # noqa: S603 (wrk, with arguments built here)
        [
            wrk,
            f"--threads={threads}",
            f"--connections={users}",
            f"--duration={max(1, round(seconds))}s",
            "--timeout=10s",
            "--latency",
            f"--script={script}",
            f"http://{HOST}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    requests = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m),", output, re.MULTILINE)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE)
    if not (requests and p50 and p99):
        raise RuntimeError(f"Could not read wrk's output:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(
        requests=int(requests[1]),
        seconds=_ms(requests[2] + requests[3]) / 1000,
        p50_ms=_ms(p50[1]),
        p99_ms=_ms(p99[1]),
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        bad_status=int(bad[1]) if bad else 0,
    )


def run_python(port: int, path: str, cookies: list[str], users: int, seconds: float, scratch: Path) -> Result:
    """``users`` threads, each with its own keep-alive connection, for ``seconds``; bounded by the deadline."""
    latencies: list[list[float]] = [[] for _ in range(users)]
    errors = [0] * users
    bad = [0] * users
    start_together = threading.Barrier(users + 1)
    deadline = [0.0]

    def user(index: int) -> None:
        conn = None
        turn = index
        start_together.wait()
        while time.perf_counter() < deadline[0]:
            headers = {"Cookie": cookies[turn % len(cookies)]} if cookies else {}
            turn += 1
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = None
                continue
            latencies[index].append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                bad[index] += 1
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_together.wait()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    every = sorted(value for values in latencies for value in values)
    if not every:
        raise RuntimeError(f"No request to {path} completed.")
    cuts = statistics.quantiles(every, n=100, method="inclusive")
    return Result(
        requests=len(every),
        seconds=elapsed,
        p50_ms=cuts[49],
        p99_ms=cuts[98],
        errors=sum(errors),
        bad_status=sum(bad),
    )


# ---- the run ------------------------------------------------------------------------------------


def measure(database_url: str, var_dir: Path, *, users: int, duration: float, workers: int) -> dict[str, Result]:
    """Seed (in this process's database), serve with gunicorn, sign in, load each page; print the table."""
    data = seed()
    scratch = Path(tempfile.mkdtemp(prefix="portal-load-"))
    server = None
    try:
        env = server_environment(database_url, var_dir, scratch / "static")
        print("Collecting static files for the production settings…", flush=True)
        collect_static(env)
        server = Server(env, workers, scratch / "gunicorn.log")
        server.wait_ready()
        lead_cookies = [sign_in(server.port, email, data.password) for email in data.leads]
        ics_cookies = [sign_in(server.port, email, data.password) for email in data.ics_leads]
        # The baseline is measured first and last; the references (not pages, not targets) before the last.
        baseline = (BASELINE, data.bare_page, lead_cookies)
        plan = [baseline]
        for label, path in data.pages.items():
            plan.append((label, path, ics_cookies if path.startswith("/icbs/") else lead_cookies))
        plan += [(HEALTHZ, "/healthz", []), (HEALTHZ_SIGNED_IN, "/healthz", lead_cookies), baseline]
        layout = {BASELINE: SIGNED_IN_LAYOUT}
        sizes = {label: check_page(server.port, path, cookies, layout.get(label, ())) for label, path, cookies in plan}

        use_wrk = shutil.which("wrk") and os.environ.get("BENCH_LOAD_GENERATOR", "wrk") == "wrk"
        generator = run_wrk if use_wrk else run_python
        name = "wrk" if use_wrk else "Python threads with keep-alive connections"
        load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
        print(
            f"\nLoad: {name}, {users} concurrent connections, {duration:.0f}s per page after {WARM_UP:.0f}s of "
            f"warm-up; gunicorn with {workers} sync workers on {HOST}:{server.port}; database "
            f"{urllib.parse.urlsplit(database_url).scheme}; {len(lead_cookies)} lead and {len(ics_cookies)} "
            f"ICS lead sessions taken in turn; {os.cpu_count()} CPUs, load average before: {load}.",
            flush=True,
        )
        results: dict[str, Result] = {}
        baselines: list[Result] = []
        for label, path, cookies in plan:
            generator(server.port, path, cookies, users, WARM_UP, scratch)
            result = generator(server.port, path, cookies, users, duration, scratch)
            if label == BASELINE:
                baselines.append(result)
            else:
                results[label] = result
            check_page(server.port, path, cookies, layout.get(label, ()))  # the sessions still work after the run
        report(baselines, results, sizes)
        return {"baseline": baselines, **results}
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def report(baselines: list[Result], results: dict[str, Result], sizes: dict[str, int]) -> None:
    base_rps = statistics.fmean(r.rps for r in baselines)
    print(f"\n  {'page':<38}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'KB':>6}{'vs bare':>9}  target >= {TARGET_RATIO}")
    for n, result in enumerate(baselines, start=1):
        label = f"{BASELINE} (baseline, run {n})"
        size = sizes.get(BASELINE, 0) / 1024
        print(
            f"  {label:<38}{result.rps:>8.0f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}{size:>6.0f}"
            f"{result.rps / base_rps:>9.2f}"
        )
    failures = []
    for label, result in results.items():
        ratio = result.rps / base_rps
        if label in REFERENCES:
            verdict = "(reference, not a page)"
        elif ratio >= TARGET_RATIO:
            verdict = "met"
        else:
            verdict = "MISSED"
            failures.append(label)
        size = sizes.get(label, 0) / 1024
        print(
            f"  {label:<38}{result.rps:>8.0f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}{size:>6.0f}{ratio:>9.2f}  "
            f"{verdict}"
        )
    print(
        f"\n  Baseline: {base_rps:.0f} req/s, the mean of the two runs of the bare page: the accessibility statement "
        "requested with a lead's session cookie, a static page in the site's base template that costs what every "
        "signed-in page costs and nothing more. /healthz, with and without a session, is not a page (no template, "
        "no person): it is shown for reference only. "
        f"Load average after: {', '.join(f'{n:.2f}' for n in os.getloadavg())}."
    )
    problems = [
        f"{label}: {r.errors} connection errors, {r.bad_status} bad statuses"
        for label, r in [*((f"baseline run {n}", b) for n, b in enumerate(baselines, 1)), *results.items()]
        if r.errors or r.bad_status
    ]
    for problem in problems:
        print(f"  WARNING {problem}")
    if failures:
        print(f"  Below the target of {TARGET_RATIO} of the bare page: {', '.join(failures)}")
    else:
        print(f"  Every page is at least {TARGET_RATIO} of the bare page's throughput.")


def _database_url_for(settings_dict: dict, original: str) -> str:
    """The URL of the database Django is using now (the test database), on the server of ``original``."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    parts = urllib.parse.urlsplit(original)
    return parts._replace(path="/" + urllib.parse.quote(str(settings_dict["NAME"]))).geturl()


def _options() -> tuple[int, float, int]:
    return (
        int(os.environ.get("BENCH_USERS", USERS)),
        float(os.environ.get("BENCH_DURATION", DURATION)),
        int(os.environ.get("BENCH_WORKERS", WORKERS)),
    )


def test_benchmark_load(transactional_db):
    """`make bench-load`: the benchmark on pytest-django's throwaway test database (committed, for gunicorn)."""
    from django.conf import settings
    from django.db import connection

    users, duration, workers = _options()
    url = _database_url_for(connection.settings_dict, os.environ["DATABASE_URL"])
    measure(url, Path(settings.VAR_DIR), users=users, duration=duration, workers=workers)


def main() -> None:
    users, duration, workers = _options()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=users, help=f"concurrent connections (default {users})")
    parser.add_argument("--duration", type=float, default=duration, help=f"seconds per page (default {duration:g})")
    parser.add_argument("--workers", type=int, default=workers, help=f"gunicorn workers (default {workers})")
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.duration <= 120:
        parser.error("--users must be 1 to 200 and --duration 1 to 120 seconds")
    # A stop by SIGTERM runs the clean-up below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    scratch = Path(tempfile.mkdtemp(prefix="portal-load-data-"))
    sys.path.insert(0, str(ROOT))
    os.environ["PORTAL_VAR_DIR"] = str(scratch / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    sqlite = "DATABASE_URL" not in os.environ
    if sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/load.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    created = False
    try:
        if sqlite:
            call_command("migrate", verbosity=0)
            call_command("createcachetable", verbosity=0)  # create_test_db does this below
        else:
            # Its own name, so that it never clobbers a test run's database beside it.
            connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_load_{os.getpid()}"
            connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
            created = True
        url = _database_url_for(connection.settings_dict, os.environ["DATABASE_URL"])
        measure(url, scratch / "var", users=args.users, duration=args.duration, workers=args.workers)
    finally:
        if created:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        connection.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
