"""Hostile input: every form a person can post, fuzzed with hypothesis.

Each form gets arbitrary text (control characters and NUL included, surrogates excluded as
they cannot be encoded), very long values, numbers that are not figures ("1e400", "NaN",
"-0"), lists where one value is expected, missing fields, unknown choices and the ids of
other trusts' objects. Whatever arrives, the portal must refuse it with a message or store it
and show it back as text: never a server error.

The invariants checked on every request (``check``):

- the status is one the portal gives on purpose (never 500: the test client raises the
  view's exception, so a server error fails with its traceback);
- a form with errors is shown with the NHS.UK error summary ("There is a problem");
- markup typed into a field never comes back as markup;
- after a redirect (the form was accepted), the page it leads to opens, and for the forms
  whose value is shown there, shows what was typed, escaped.

Each example runs inside a savepoint that is rolled back (``rolled_back``), so every example
starts from the same fixtures whatever the one before it saved.

Server errors the fuzzing found (fixed since) are kept as minimal examples at the end of the file.

``FUZZ_SCALE=10`` runs ten times as many examples of each form (about seven minutes).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assessments import evidence, services
from assessments.models import ActionStatus, AssuranceLevel, Cycle, Meeting, Purpose
from assessments.workflow_forms import sign_off_statement
from portal import services as people_services
from portal.two_factor import create_recovery_codes
from tests.factories import TEST_PASSWORD, confirmed_authenticator

ALLOWED = {200, 302, 400, 403, 404, 405, 409, 410, 429}
MISSING = object()  # a field left out of the request altogether

# Markup that must never come back unescaped. The raw forms are searched for in every page.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
RAW_MARKUP = ("<script>alert(1)", "<img src=x onerror")

SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\r",
    "\x1b[31mred",
    "\x7f\x85\x9f",
    "\u202eevil.pdf",
    "\ufeffbom",
    "\u200b",
    "\u2028\u2029",
    "😀" * 3,
    "ｆｕｌｌ　ｗｉｄｔｈ",
    SCRIPT,
    IMG,
    "{{ request }}{% debug %}",
    "%(name)s %s {0}",
    "' OR 1=1 --",
    "null",
    "None",
    "[]",
    "1e400",
    "-0",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "9" * 400,
    "-1",
    "0x10",
    "١٢٣",  # Arabic-Indic digits
    "１２",  # full-width digits
]

settings.register_profile(
    "fuzz",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


FUZZ_SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(max_examples: int):
    return settings(settings.get_profile("fuzz"), max_examples=max(1, round(max_examples * FUZZ_SCALE)))


# ---- strategies ---------------------------------------------------------------------------------

ALPHABET = st.characters(exclude_categories=("Cs",))  # surrogates cannot be encoded


def texts(max_size: int = 120) -> st.SearchStrategy[str]:
    """Anything a person (or a script) could type into a text box."""
    return st.one_of(
        st.text(ALPHABET, max_size=max_size),
        st.sampled_from(SPECIAL_TEXT),
        st.builds(
            lambda ch, n: ch * n, st.sampled_from(["a", "<", "\x00", "é", "😀", " ", "9"]), st.integers(1, 12_000)
        ),
        st.builds(lambda a, b: a + b, st.sampled_from(SPECIAL_TEXT), st.text(ALPHABET, max_size=20)),
    )


ODD_NUMBERS = [
    "1e400",
    "-0",
    "0",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "sNaN",
    "1e-400",
    "1E+6",
    "9999999.995",
    "1,000",
    " 12 ",
    "12.",
    ".5",
    "0.001",
    "1_000",
    "٣",
    "+5",
    "1e999999999999",
    "1e-999999999999999999",
]


def numbers() -> st.SearchStrategy[str]:
    """Numbers as typed, huge and odd ones included."""
    return st.one_of(
        st.integers(-(10**30), 10**30).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
        st.sampled_from(ODD_NUMBERS),
        texts(20),
    )


def date_parts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-100, 100_000).map(str), st.sampled_from(["", "00", "0000", "29", "2", "2026"]), texts(8)
    )


def ids(*known: int) -> st.SearchStrategy[str]:
    """Primary keys as typed: real ones (possibly another trust's), made-up, huge and not numbers."""
    return st.one_of(
        st.sampled_from([str(pk) for pk in known]) if known else st.nothing(),
        st.integers(-5, 10**6).map(str),
        st.sampled_from([str(2**31), str(2**63), "9" * 40, "-0", "1.0", "1e3"]),
        texts(20),
    )


def value(strategy: st.SearchStrategy[str]) -> st.SearchStrategy:
    """One field's value: usually one string, sometimes several (a list for a single field), sometimes none."""
    return st.one_of(
        strategy,
        strategy,
        strategy,
        st.lists(strategy, min_size=2, max_size=3),
        st.just(MISSING),
    )


EXTRA_FIELDS = st.dictionaries(st.sampled_from(["csrfmiddlewaretoken", "id", "pk", "next", "__proto__"]), texts(30))


def form_data(valid: dict, **fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """POST data for a form: ``valid`` with some of its fields (often one or two, sometimes all) fuzzed.

    A fuzzed field gets a value from its strategy through ``value``: one string, a list of them,
    or nothing at all. The odd unexpected field comes along too.
    """
    names = sorted(fields)

    def assemble(fuzzed: set, drawn: dict, extra: dict) -> dict:
        data = {**extra}
        for name in names:
            got = drawn[name] if name in fuzzed else valid.get(name, MISSING)
            if got is not MISSING:
                data[name] = got
        return data

    return st.builds(
        assemble,
        st.one_of(st.sets(st.sampled_from(names), min_size=1, max_size=2), st.just(set(names))),
        st.fixed_dictionaries({name: value(strategy) for name, strategy in fields.items()}),
        st.one_of(st.just({}), EXTRA_FIELDS),
    )


def choice(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list(valid)), texts(20))


CHECKBOX = st.sampled_from(["on", "true", "false", "0", "1", "", "off", "\x00", "yes", "NaN"])


# ---- the invariants -----------------------------------------------------------------------------


class _Undo(Exception):
    pass


@contextlib.contextmanager
def rolled_back():
    """Everything the example writes to the database is undone at the end, even on success."""
    try:
        with transaction.atomic():
            yield
            raise _Undo
    except _Undo:
        pass


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return ""
    return response.content.decode("utf-8", "replace")


def check(response, *, follow_client=None) -> str:
    """The invariants every response must meet; returns the page's text (of the page redirected to, if any)."""
    assert response.status_code in ALLOWED, f"unexpected status {response.status_code}"
    event(f"status {response.status_code}")
    body = text_of(response)
    for raw in RAW_MARKUP:
        assert raw not in body, f"{raw!r} came back unescaped"
    form = response.context.get("form") if response.context is not None else None
    if form is not None and getattr(form, "is_bound", False) and form.errors:
        assert "There is a problem" in body, "a form with errors has no NHS.UK error summary"
    if response.status_code == 302 and follow_client is not None:
        page = follow_client.get(response["Location"])
        if page.status_code == 302 and urlsplit(page["Location"]).path in SIGN_IN_STEPS:
            page = follow_client.get(page["Location"])  # signed in with a password: on to the code step
        assert page.status_code in ALLOWED - {302}, f"the page after saving gave {page.status_code}"
        return check(page)
    return body


def single(data: dict, name: str) -> str | None:
    """The value a single-valued field receives from ``data`` (the last one of a list), or None if missing."""
    got = data.get(name)
    if isinstance(got, list):
        return got[-1] if got else None
    return got


def assert_shown(body: str, typed: str | None) -> None:
    """What was typed (as the form cleans it: stripped) is on the page, escaped."""
    if typed is None or not typed.strip():
        return
    assert escape(typed.strip()) in body, f"{typed.strip()[:80]!r} was accepted but is not shown back"


# ---- signing in and passwords -------------------------------------------------------------------

STRONG_PASSWORD = "a-long-pass-phrase-42"
SIGN_IN_STEPS = {reverse("two-factor-verify"), reverse("two-factor-setup")}


@fuzz(40)
@given(
    data=form_data(
        {"username": "lead@example.nhs.uk", "password": TEST_PASSWORD},
        username=st.one_of(
            st.sampled_from(["LEAD@example.nhs.uk", " lead@example.nhs.uk ", "x@example.nhs.uk"]), texts()
        ),
        password=texts(),
    )
)
def test_sign_in(client, lead, data):
    client.cookies.clear()
    with rolled_back():
        check(client.post(reverse("sign-in"), data), follow_client=client)


@fuzz(30)
@given(
    data=form_data(
        {"email": "lead@example.nhs.uk"},
        email=st.one_of(
            st.sampled_from(["Lead@Example.NHS.uk", "nobody@example.nhs.uk"]), st.emails().map(str), texts()
        ),
    )
)
def test_password_reset(client, lead, data):
    client.cookies.clear()
    with rolled_back():
        check(client.post(reverse("password_reset"), data), follow_client=client)


def path_segment(max_size: int = 40) -> st.SearchStrategy[str]:
    return texts(max_size).filter(lambda s: s.strip() and "/" not in s and "?" not in s and "#" not in s)


CODES = st.one_of(st.from_regex(r"\A[0-9 -]{0,10}\Z"), st.from_regex(r"\A[a-zA-Z2-7 ]{8,10}\Z"), texts())


@fuzz(30)
@given(data=form_data({"code": "123456"}, code=CODES))
def test_security_code_at_sign_in(client, lead, data):
    confirmed_authenticator(lead)
    create_recovery_codes(lead, actor=lead)
    client.force_login(lead)  # the password step done; the code step fuzzed
    with rolled_back():
        check(client.post(reverse("two-factor-verify"), data), follow_client=client)


@fuzz(30)
@given(data=form_data({"code": "123456"}, code=CODES))
def test_security_code_when_setting_up(client, lead, data):
    client.force_login(lead)
    with rolled_back():
        check(client.post(reverse("two-factor-setup"), data), follow_client=client)


@fuzz(30)
@given(
    mangle=st.sampled_from(["none", "none", "uid", "token"]),
    segment=path_segment(),
    same=st.booleans(),
    data=form_data(
        {"new_password1": STRONG_PASSWORD, "new_password2": STRONG_PASSWORD},
        new_password1=texts(),
        new_password2=texts(),
    ),
)
def test_password_reset_confirm(client, lead, mangle, segment, same, data):
    """The reset link (real, or with a mangled part), then the new password twice."""
    client.cookies.clear()
    if same and "new_password1" in data:
        data = {**data, "new_password2": data["new_password1"]}
    uidb64 = segment if mangle == "uid" else urlsafe_base64_encode(force_bytes(lead.pk))
    token = segment if mangle == "token" else default_token_generator.make_token(lead)
    with rolled_back():
        opened = client.get(reverse("password_reset_confirm", args=[uidb64, token]))
        check(opened)
        url = (
            opened["Location"] if opened.status_code == 302 else reverse("password_reset_confirm", args=[uidb64, token])
        )
        check(client.post(url, data), follow_client=client)


# ---- people -------------------------------------------------------------------------------------

ROLES = ("lead", "contributor", "executive", "board_reader")


@fuzz(35)
@given(
    data=form_data(
        {"full_name": "Nia Jones", "email": "nia.jones@example.nhs.uk", "role": "contributor"},
        full_name=texts(),
        email=st.one_of(
            st.emails().map(str),
            st.sampled_from(["contributor@example.nhs.uk", "new@xn--exmple-cua.nhs.uk", "new@exämple.nhs.uk"]),
            texts(),
        ),
        role=choice(*ROLES),
    )
)
def test_invite_colleague(client_for, lead, contributor, trust, data):
    client = client_for(lead)
    with rolled_back():
        response = client.post(reverse("invite-colleague", args=[trust.ods_code]), data)
        body = check(response, follow_client=client)
        if response.status_code == 302:
            assert_shown(body, (single(data, "email") or "").strip().lower())


@fuzz(30)
@given(
    target=st.sampled_from(["contributor", "lead", "outsider"]),
    data=form_data({"role": "executive"}, role=choice(*ROLES)),
)
def test_change_role(client_for, lead, contributor, outsider, trust, target, data):
    """Including another trust's membership id under this trust's address (404)."""
    person = {"contributor": contributor, "lead": lead, "outsider": outsider}[target]
    membership = person.trust_memberships.get()
    client = client_for(lead)
    with rolled_back():
        check(client.post(reverse("change-role", args=[trust.ods_code, membership.pk]), data), follow_client=client)


@pytest.fixture
def invitation_token(trust, lead):
    _, token = people_services.invite_colleague(
        trust=trust, invited_by=lead, email="nia.jones@example.nhs.uk", full_name="Nia Jones", role="contributor"
    )
    return token


@fuzz(35)
@given(
    mangled=st.one_of(st.none(), st.none(), st.none(), path_segment(60)),
    same=st.booleans(),
    data=form_data(
        {"full_name": "Nia Jones", "job_title": "AMHP", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
        full_name=texts(),
        job_title=texts(),
        password1=texts(),
        password2=texts(),
    ),
)
def test_accept_invitation_and_create_account(client, invitation_token, mangled, same, data):
    client.cookies.clear()
    if same and "password1" in data:
        data = {**data, "password2": data["password1"]}
    with rolled_back():
        check(client.post(reverse("accept-invitation", args=[mangled or invitation_token]), data), follow_client=client)


# ---- starting an assessment ---------------------------------------------------------------------


@pytest.fixture
def submitted(complete_assessment, lead):
    return services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)


@pytest.fixture
def approved(submitted, executive):
    services.approve(
        assessment=submitted,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement=sign_off_statement(submitted),
    )
    submitted.refresh_from_db()
    return submitted


@pytest.fixture
def later_cycle(db):
    return Cycle.objects.create(
        label="2027/28", snapshot_date=datetime.date(2027, 3, 31), submission_deadline=datetime.date(2027, 6, 30)
    )


@fuzz(25)
@given(data=st.data())
def test_start_assessment(client_for, lead, trust, approved, later_cycle, data):
    """With an approved assessment to carry forward, so both questions are asked."""
    posted = data.draw(
        form_data(
            {"cycle": str(later_cycle.pk), "start_from": "blank"},
            cycle=ids(approved.cycle_id),  # a cycle the trust has an assessment for already
            start_from=choice("carry_forward", "blank"),
        )
    )
    client = client_for(lead)
    with rolled_back():
        check(client.post(reverse("assessment-start", args=[trust.ods_code]), posted), follow_client=client)


# ---- answering ----------------------------------------------------------------------------------


@fuzz(25)
@given(data=st.data())
def test_assign(client_for, lead, contributor, outsider, assessment, data):
    """Including another trust's person."""
    response = assessment.responses.select_related("requirement").first()
    posted = data.draw(
        form_data({"assignee": str(contributor.pk)}, assignee=st.one_of(ids(lead.pk, outsider.pk), st.just("none")))
    )
    client = client_for(lead)
    with rolled_back():
        url = reverse("response-assign", args=[assessment.pk, response.requirement.code])
        check(client.post(url, posted), follow_client=client)


@fuzz(40)
@given(data=st.data())
def test_response(client_for, lead, assessment, data):
    """Rating, rationale, strengths, gaps and risks, ready and the version the page was opened at."""
    response = assessment.responses.select_related("requirement").first()
    levels = list(assessment.framework.rating_levels.values_list("pk", flat=True))
    valid = {
        "rating": str(levels[0]),
        "rationale": "The supervision audit shows it.",
        "strengths": "Monthly supervision.",
        "gaps_and_risks": "",
        "ready": "on",
        "version": str(response.version),
    }
    posted = data.draw(
        form_data(
            valid,
            rating=ids(*levels),
            rationale=texts(),
            strengths=texts(),
            gaps_and_risks=texts(),
            ready=CHECKBOX,
            version=numbers(),
        )
    )
    client = client_for(lead)
    url = reverse("response-edit", args=[assessment.pk, response.requirement.code])
    with rolled_back():
        result = client.post(url, posted)
        check(result, follow_client=client)
        if result.status_code == 302:
            page = check(client.get(url))
            for name in ("rationale", "strengths", "gaps_and_risks"):
                assert_shown(page, single(posted, name))


@fuzz(35)
@given(data=st.data())
def test_workforce_figures(client_for, lead, assessment, data):
    valid = {}
    for indicator in assessment.framework.indicators.all():
        valid[f"{indicator.code}-numerator"] = "5"
        if indicator.is_rate:
            valid[f"{indicator.code}-denominator"] = "40"
    posted = data.draw(form_data(valid, **{name: numbers() for name in valid}))
    client = client_for(lead)
    with rolled_back():
        check(client.post(reverse("assessment-workforce", args=[assessment.pk]), posted), follow_client=client)


# ---- the improvement plan -----------------------------------------------------------------------


@pytest.fixture
def foreign(other_trust, outsider, cycle, published_framework):
    """Another trust's assessment, with an action and a library item: ids to try from the wrong trust."""
    assessment = services.start_assessment(trust=other_trust, cycle=cycle, started_by=outsider, carry_forward=False)
    action = services.save_action(
        assessment=assessment,
        edited_by=outsider,
        title="Their action",
        requirements=[],
        owner="Their PSW",
        due_date=datetime.date(2027, 3, 31),
        status="not_started",
    )
    item = evidence.create_link_evidence(
        trust=other_trust,
        created_by=outsider,
        title="Their link",
        description="",
        evidence_date=datetime.date(2026, 1, 31),
        owner="Them",
        url="https://www.example.nhs.uk/theirs",
        confirmed_no_patient_data=True,
    )
    return {"assessment": assessment, "action": action, "item": item}


def action_data(assessment) -> st.SearchStrategy[dict]:
    requirements = list(assessment.framework.requirements.values_list("pk", flat=True))
    valid = {
        "title": "Audit supervision",
        "requirements": [str(requirements[0])],
        "owner": "Principal social worker",
        "due_date_day": "31",
        "due_date_month": "3",
        "due_date_year": "2027",
        "status": "in_progress",
        "progress_notes": "",
    }
    return form_data(
        valid,
        title=texts(),
        requirements=st.lists(ids(*requirements), max_size=4),
        owner=texts(),
        due_date_day=date_parts(),
        due_date_month=date_parts(),
        due_date_year=date_parts(),
        status=choice(*ActionStatus.values),
        progress_notes=texts(),
    ).map(_flatten)


def _flatten(posted: dict) -> dict:
    """``requirements`` may come out of ``value`` as a list of lists: make it one list of strings."""
    got = posted.get("requirements")
    if isinstance(got, list):
        flat = []
        for item in got:
            flat.extend(item if isinstance(item, list) else [item])
        posted = {**posted, "requirements": flat}
    return posted


@fuzz(35)
@given(data=st.data())
def test_action_add(client_for, lead, assessment, data):
    posted = data.draw(action_data(assessment))
    back_to = data.draw(st.one_of(st.none(), st.just(assessment.responses.first().requirement.code), texts(20)))
    client = client_for(lead)
    with rolled_back():
        url = reverse("action-add", args=[assessment.pk])
        result = client.post(url, posted, query_params={"requirement": back_to} if back_to is not None else None)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(posted, "title"))


@fuzz(30)
@given(data=st.data())
def test_action_edit(client_for, lead, assessment, foreign, data):
    """Including another trust's action under this assessment's address (404)."""
    own = services.save_action(
        assessment=assessment,
        edited_by=lead,
        title="Audit supervision",
        requirements=[],
        owner="Principal social worker",
        due_date=datetime.date(2027, 3, 31),
        status="not_started",
    )
    action_id = data.draw(st.sampled_from([own.pk, own.pk, own.pk, foreign["action"].pk]))
    posted = data.draw(action_data(assessment))
    client = client_for(lead)
    with rolled_back():
        result = client.post(reverse("action-edit", args=[assessment.pk, action_id]), posted)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(posted, "title"))


# ---- evidence -----------------------------------------------------------------------------------

VALID_DETAILS = {
    "title": "Supervision audit 2026",
    "description": "Quarterly audit of professional supervision.",
    "evidence_date_day": "31",
    "evidence_date_month": "1",
    "evidence_date_year": "2026",
    "owner": "Principal social worker",
    "confirm_no_patient_data": "on",
}


def evidence_details() -> dict:
    return {
        "title": texts(),
        "description": texts(),
        "evidence_date_day": date_parts(),
        "evidence_date_month": date_parts(),
        "evidence_date_year": date_parts(),
        "owner": texts(),
        "confirm_no_patient_data": CHECKBOX,
    }


def links() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "www.example.nhs.uk/papers",
                "javascript:alert(1)",
                "data:text/html,<script>alert(1)</script>",
                "file:///etc/passwd",
                "https://user:pass@example.nhs.uk/",
                "https://example.nhs.uk:99999/",
                "https://例え.jp/ページ",
                "http://",
                "https://" + "a" * 1000 + ".uk",
                "//example.nhs.uk/x",
                "https://example.nhs.uk/" + SCRIPT,
            ]
        ),
        st.builds(lambda rest: "https://" + rest, texts(60)),
        texts(),
    )


@fuzz(40)
@given(
    data=form_data(
        {**VALID_DETAILS, "url": "https://www.example.nhs.uk/board-papers"}, url=links(), **evidence_details()
    )
)
def test_evidence_link(client_for, lead, trust, data):
    client = client_for(lead)
    with rolled_back():
        result = client.post(reverse("evidence-add-link", args=[trust.ods_code]), data)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(data, "title"))


CSV = b"Indicator,Value\r\nSocial workers (WTE),42.5\r\nVacancy rate,0.15\r\n"


def csv_file(name: str = "figures.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, CSV, content_type="text/csv")


@fuzz(30)
@given(data=form_data(VALID_DETAILS, upload_token=texts(60), not_nhs_numbers=CHECKBOX, **evidence_details()))
def test_evidence_upload(client_for, lead, trust, data):
    """The details of a document; the file itself is a small valid CSV (upload abuse is tested elsewhere)."""
    client = client_for(lead)
    with rolled_back():
        result = client.post(reverse("evidence-upload", args=[trust.ods_code]), {**data, "file": csv_file()})
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(data, "title"))


@fuzz(20)
@given(
    data=form_data(
        {"confirm_no_patient_data": "on"},
        upload_token=texts(60),
        not_nhs_numbers=CHECKBOX,
        confirm_no_patient_data=CHECKBOX,
    )
)
def test_evidence_new_version(client_for, lead, trust, data):
    item = evidence.create_file_evidence(
        trust=trust,
        created_by=lead,
        title="Figures",
        description="",
        evidence_date=datetime.date(2026, 1, 31),
        owner="PSW",
        upload=evidence.check_upload(csv_file()),
        confirmed_no_patient_data=True,
        confirmed_not_nhs_numbers=False,
    )
    client = client_for(lead)
    with rolled_back():
        url = reverse("evidence-new-version", args=[trust.ods_code, item.pk])
        check(client.post(url, {**data, "file": csv_file("figures-v2.csv")}), follow_client=client)


@fuzz(25)
@given(data=st.data())
def test_link_evidence_to_a_response(client_for, lead, trust, assessment, foreign, data):
    """Adding or removing a library item; including another trust's item (404)."""
    own = evidence.create_link_evidence(
        trust=trust,
        created_by=lead,
        title="Our link",
        description="",
        evidence_date=datetime.date(2026, 1, 31),
        owner="PSW",
        url="https://www.example.nhs.uk/ours",
        confirmed_no_patient_data=True,
    )
    item_ids = ids(own.pk, foreign["item"].pk)
    posted = data.draw(form_data({"link": str(own.pk)}, link=item_ids, unlink=item_ids))
    response = assessment.responses.select_related("requirement").first()
    client = client_for(lead)
    with rolled_back():
        url = reverse("response-evidence", args=[assessment.pk, response.requirement.code])
        check(client.post(url, posted), follow_client=client)


# ---- the board report cover sheet ---------------------------------------------------------------

COVER_TEXT = ("agenda_item", "title", "author", "lead_executive")
COVER_PARAGRAPHS = ("strategic_objectives", "baf_risks", "recommendation", "key_messages", "ask_of_the_board")


@fuzz(30)
@given(
    data=form_data(
        {
            "meeting": "board",
            "meeting_date_day": "14",
            "meeting_date_month": "5",
            "meeting_date_year": "2027",
            "agenda_item": "7.2",
            "purpose": "assurance",
            "assurance_level": "reasonable",
        },
        meeting=choice(*Meeting.values),
        meeting_date_day=date_parts(),
        meeting_date_month=date_parts(),
        meeting_date_year=date_parts(),
        purpose=choice(*Purpose.values),
        assurance_level=choice(*AssuranceLevel.values),
        **{name: texts() for name in COVER_TEXT + COVER_PARAGRAPHS},
    )
)
def test_cover_sheet(client_for, lead, assessment, data):
    client = client_for(lead)
    url = reverse("cover-sheet", args=[assessment.pk])
    with rolled_back():
        result = client.post(url, data)
        check(result, follow_client=client)
        if result.status_code == 302:
            page = check(client.get(url))
            for name in COVER_TEXT + COVER_PARAGRAPHS:
                assert_shown(page, single(data, name))


# ---- sign-off -----------------------------------------------------------------------------------


@fuzz(20)
@given(data=form_data({}, anything=texts(), confirm=CHECKBOX), complete=st.booleans())
def test_submit(client_for, lead, assessment, data, complete):
    """Submitting has no fields: whatever is posted with it is ignored. Incomplete: 400 with the list."""
    if complete and not assessment.responses.filter(status="ready").exists():
        level = assessment.framework.rating_levels.get(value=3)
        for response in assessment.responses.all():
            services.save_response(
                response=response,
                expected_version=response.version,
                edited_by=lead,
                rating=level,
                rationale="Shown by the audit.",
                strengths="",
                gaps_and_risks="",
                ready=True,
            )
    client = client_for(lead)
    with rolled_back():
        check(client.post(reverse("assessment-submit", args=[assessment.pk]), data), follow_client=client)


@fuzz(35)
@given(data=st.data())
def test_approve(client_for, executive, submitted, data):
    posted = data.draw(
        form_data(
            {
                "approver_name": "Esther Executive",
                "approver_role": "Chief Nurse",
                "submission": submitted.submitted_at.isoformat(),
                "confirm": "on",
            },
            approver_name=texts(),
            approver_role=texts(),
            submission=texts(40),
            confirm=CHECKBOX,
        )
    )
    client = client_for(executive)
    with rolled_back():
        result = client.post(reverse("assessment-sign-off", args=[submitted.pk]), posted)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(posted, "approver_name"))
            assert_shown(body, single(posted, "approver_role"))


@fuzz(25)
@given(data=form_data({"reason": "The workforce figures need checking."}, reason=texts()))
def test_return(client_for, executive, submitted, data):
    client = client_for(executive)
    with rolled_back():
        result = client.post(reverse("assessment-return", args=[submitted.pk]), data)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(data, "reason"))


@fuzz(25)
@given(data=form_data({"reason": "A correction to a figure."}, reason=texts()), as_executive=st.booleans())
def test_reopen(client_for, lead, executive, approved, data, as_executive):
    client = client_for(executive if as_executive else lead)
    with rolled_back():
        result = client.post(reverse("assessment-reopen", args=[approved.pk]), data)
        body = check(result, follow_client=client)
        if result.status_code == 302:
            assert_shown(body, single(data, "reason"))


# ---- the comparison page's cycle choice (a GET form) --------------------------------------------


@fuzz(25)
@given(
    params=form_data(
        {"cycle": "2026/27"},
        cycle=st.one_of(st.sampled_from(["2025/26", "2026/2", "2026/27 "]), texts(30)),
        sort=st.one_of(st.sampled_from(["name", "profile", "R1"]), texts(20)),
        dir=st.sampled_from(["asc", "desc", "", "\x00", "DESC"]),
        view=st.sampled_from(["plain", "", "\x00"]),
    )
)
def test_comparison_cycle_choice(client_for, ics_lead, icb, approved, params):
    with rolled_back():
        check(client_for(ics_lead).get(reverse("comparison", args=[icb.ods_code]), params))


# ---- the addresses of the forms: odd path segments and query strings ----------------------------


@fuzz(30)
@given(
    page=st.sampled_from(["invite", "add-link", "start", "response", "compare", "action-add", "upload", "history"]),
    segment=st.one_of(st.sampled_from(["RWR", "rt1", "R1", "QUE "]), path_segment(30)),
    query=st.one_of(st.sampled_from(["1/R1", "99999999999/R1", "../R1"]), texts(30)),
)
def test_form_addresses(client_for, lead, ics_lead, trust, icb, assessment, page, segment, query):
    """The trust, ICB or requirement code in a form's address, and its query string, as anyone could type them.

    Another trust's code ("RWR") and ICB codes in the wrong case included: refused with 403 or 404.
    """
    urls = {
        "invite": (lead, reverse("invite-colleague", args=[segment]), {}),
        "add-link": (lead, reverse("evidence-add-link", args=[segment]), {}),
        "start": (lead, reverse("assessment-start", args=[segment]), {}),
        "response": (lead, reverse("response-edit", args=[assessment.pk, segment]), {}),
        "compare": (ics_lead, reverse("comparison", args=[segment]), {}),
        "action-add": (lead, reverse("action-add", args=[assessment.pk]), {"requirement": query}),
        "upload": (lead, reverse("evidence-upload", args=[trust.ods_code]), {"next_response": query}),
        "history": (lead, reverse("assessment-history", args=[assessment.pk]), {"page": query}),
    }
    person, url, params = urls[page]
    with rolled_back():
        check(client_for(person).get(url, params))


# ---- server errors the fuzzing found, kept as minimal examples -------------------------------------


@pytest.mark.parametrize("url", ["https://[", "[::1", "https://[notip]/", "https://a\u2100b/"])
def test_known_link_that_urlsplit_refuses(client_for, lead, trust, url):
    response = client_for(lead).post(reverse("evidence-add-link", args=[trust.ods_code]), {**VALID_DETAILS, "url": url})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_known_nul_in_query_string(client_for, lead, assessment, method):
    url = reverse("action-add", args=[assessment.pk])
    response = getattr(client_for(lead), method)(url, query_params={"requirement": "\x00"})
    assert response.status_code in {200, 400, 404}


@pytest.mark.parametrize("page", ["invite", "add-link", "compare", "response"])
def test_known_nul_in_url_path(client_for, lead, ics_lead, assessment, page):
    person, url = {
        "invite": (lead, reverse("invite-colleague", args=["\x00"])),
        "add-link": (lead, reverse("evidence-add-link", args=["\x00"])),
        "compare": (ics_lead, reverse("comparison", args=["\x00"])),
        "response": (lead, reverse("response-edit", args=[assessment.pk, "\x00"])),
    }[page]
    assert client_for(person).get(url).status_code in {400, 404}
