"""Who may open what: every route in the URL configuration, tried as every role.

``TABLE`` is the access policy written down: one row per route, subject and method, with the
outcome for each of the eight roles. A route added to the URL configuration without a row
fails ``test_every_route_has_an_entry``; a row for a route that has gone fails it too.

The rules the table follows:

- Signed-out people are sent to sign in (public pages and the sign-in journey excepted).
- A trust's data is 404 to people who cannot see the trust at all (another trust's lead, the
  platform administrator); a member, or an ICS lead of the trust's ICB, without the right
  gets 403.
- Board readers and ICS leads never see drafts (404). On the live pages of an approved
  assessment they are sent to the approved record instead (302).
- Wrong method: 405. Public pages: 200 for everyone.

The world (four assessments of one trust, an approval with its stored board report, evidence,
actions, invitations, and some of another trust's things) is built once for the module, inside
a transaction rolled back at the end: approving renders a real PDF, and building it per test
would take minutes. Each cell is its own test, rolled back on its own, so a POST that succeeds
changes nothing for the next.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.models import TrustRole
from tests.factories import (
    ICBFactory,
    ICBMembershipFactory,
    RegionFactory,
    TrustFactory,
    TrustICBMembershipFactory,
    TrustMembershipFactory,
    UserFactory,
    confirmed_authenticator,
    sign_in_with_two_factor,
)

ROLES = ("anonymous", "contributor", "lead", "executive", "board_reader", "ics_lead", "outsider", "administrator")
GET, POST = "GET", "POST"
CODE = "R1"  # the requirement the response pages are tried on; assigned to the contributor in the draft


# ---- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """A 302 to a path worked out from the world and the request's URL kwargs."""

    label: str
    path: Callable[[SimpleNamespace, dict], str]
    with_next: bool = False

    def __repr__(self):
        return f"302 to {self.label}"


@dataclass(frozen=True)
class Bug:
    """The correct outcome of a cell where the code does something else (strict xfail)."""

    expected: int | Redirect
    reason: str


# 302s, each to where it must lead (a redirect anywhere else fails the cell). A cell whose code is
# wrong holds ``Bug(correct outcome, "why")`` and runs as a strict xfail.
IN = Redirect("sign-in", lambda w, kw: reverse("sign-in"), with_next=True)
ADM = Redirect("admin sign-in", lambda w, kw: reverse("admin:login"), with_next=True)
HOME = Redirect("home", lambda w, kw: reverse("home"))
BYE = Redirect("signed-out", lambda w, kw: reverse("signed-out"))
TEAM = Redirect("people", lambda w, kw: reverse("trust-people", args=[kw["ods_code"]]))
APPR = Redirect("approved record", lambda w, kw: reverse("approval-detail", args=[kw["pk"], w.revisions[kw["pk"]]]))
OVER = Redirect("overview", lambda w, kw: reverse("assessment-overview", args=[kw["pk"]]))
FIGS = Redirect("workforce", lambda w, kw: reverse("assessment-workforce", args=[kw["pk"]]))
ACTS = Redirect("action list", lambda w, kw: reverse("action-list", args=[kw["pk"]]))
LINK = Redirect("response evidence", lambda w, kw: reverse("response-evidence", args=[kw["pk"], kw["code"]]))
SECU = Redirect("account security", lambda w, kw: reverse("account-security"))
CODES = Redirect("new recovery codes", lambda w, kw: reverse("two-factor-recovery-codes"))
CODE_STEP = Redirect("security code", lambda w, kw: reverse("two-factor-verify"), with_next=True)
CODE_STEP_ONLY = Redirect("security code", lambda w, kw: reverse("two-factor-verify"))


@dataclass(frozen=True)
class Row:
    route: str
    subject: str | None
    method: str
    outcomes: dict[str, int | Redirect | Bug]
    extra: dict | None = None

    @property
    def id(self) -> str:
        parts = [self.route, self.subject, *(f"{k}={v}" for k, v in (self.extra or {}).items()), self.method]
        return "-".join(str(part) for part in parts if part)


def R(route, subject, method, *outcomes, **extra) -> Row:
    assert len(outcomes) == len(ROLES), f"{route}: one outcome per role"
    return Row(route, subject, method, dict(zip(ROLES, outcomes, strict=True)), extra or None)


# ---- the table -----------------------------------------------------------------------------------
#
# Subjects: "trust" (RT1), "icb" (QUE, which holds RT1); assessments of RT1: "reopened" (2024/25,
# revision 1 approved, now a draft of revision 2), "approved" (2025/26, approved as revision 1
# with its board report), "draft" (2026/27), "awaiting" (2027/28, awaiting sign-off); framework
# versions "published" and "unpublished"; invitations "invitation" (pending, for someone without
# an account), "withdrawn" and "unknown"; "foreign": RT1's URLs holding the ids of another trust's
# membership, invitation, evidence item or action (with the draft's pk for the action). Ids, codes
# and tokens come from the subject.

# fmt: off
TABLE = [
    # route                      subject        verb  anon  contr lead  exec  board ics   outsd admin
    # -- public pages and signing in
    R("home",                    None,          GET,  IN,   200,  200,  200,  200,  200,  200,  200),
    R("home",                    None,          POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("healthz",                 None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("healthz",                 None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("sign-in",                 None,          GET,  200,  HOME, HOME, HOME, HOME, HOME, HOME, HOME),
    R("sign-in",                 None,          POST, 200,  HOME, HOME, HOME, HOME, HOME, HOME, HOME),
    R("sign-out",                None,          GET,  IN,   405,  405,  405,  405,  405,  405,  405),
    R("sign-out",                None,          POST, IN,   BYE,  BYE,  BYE,  BYE,  BYE,  BYE,  BYE),
    R("signed-out",              None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("signed-out",              None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("password_reset",          None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset",          None,          POST, 200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset_done",     None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset_done",     None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("password_reset_confirm",  None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset_confirm",  None,          POST, 200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset_complete", None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("password_reset_complete", None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("accessibility",           None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("accessibility",           None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("privacy",                 None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("privacy",                 None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("cookies",                 None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("cookies",                 None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("contact",                 None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("contact",                 None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("requirements:current",    None,          GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("requirements:current",    None,          POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("requirements:detail",     "published",   GET,  200,  200,  200,  200,  200,  200,  200,  200),
    R("requirements:detail",     "published",   POST, 405,  405,  405,  405,  405,  405,  405,  405),
    R("requirements:detail",     "unpublished", GET,  404,  404,  404,  404,  404,  404,  404,  200),
    # The invitation is for someone without an account: anyone signed in is the wrong person.
    R("accept-invitation",       "invitation",  GET,  200,  403,  403,  403,  403,  403,  403,  403),
    R("accept-invitation",       "invitation",  POST, 200,  403,  403,  403,  403,  403,  403,  403),
    R("accept-invitation",       "withdrawn",   GET,  410,  410,  410,  410,  410,  410,  410,  410),
    R("accept-invitation",       "unknown",     GET,  404,  404,  404,  404,  404,  404,  404,  404),
    R("admin:index",             None,          GET,  ADM,  ADM,  ADM,  ADM,  ADM,  ADM,  ADM,  200),
    # -- two-factor sign-in and account security (everyone here has given their code already)
    R("two-factor-verify",       None,          GET,  IN,   HOME, HOME, HOME, HOME, HOME, HOME, HOME),
    R("two-factor-verify",       None,          POST, IN,   HOME, HOME, HOME, HOME, HOME, HOME, HOME),
    R("two-factor-setup",        None,          GET,  IN,   200,  200,  200,  200,  200,  200,  200),
    R("two-factor-setup",        None,          POST, IN,   200,  200,  200,  200,  200,  200,  200),
    R("two-factor-recovery-codes", None,        GET,  IN,   SECU, SECU, SECU, SECU, SECU, SECU, SECU),
    R("two-factor-recovery-codes", None,        POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("two-factor-new-recovery-codes", None,    GET,  IN,   405,  405,  405,  405,  405,  405,  405),
    R("two-factor-new-recovery-codes", None,    POST, IN,   CODES, CODES, CODES, CODES, CODES, CODES, CODES),
    R("account-security",        None,          GET,  IN,   200,  200,  200,  200,  200,  200,  200),
    R("account-security",        None,          POST, IN,   405,  405,  405,  405,  405,  405,  405),
    # -- the trust's people: the lead only
    R("trust-people",            "trust",       GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("trust-people",            "trust",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("invite-colleague",        "trust",       GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("invite-colleague",        "trust",       POST, IN,   403,  200,  403,  403,  403,  404,  404),
    R("change-role",             "trust",       GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("change-role",             "trust",       POST, IN,   403,  200,  403,  403,  403,  404,  404),
    R("change-role",             "foreign",     GET,  IN,   403,  404,  403,  403,  403,  404,  404),
    R("remove-member",           "trust",       GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("remove-member",           "trust",       POST, IN,   403,  TEAM, 403,  403,  403,  404,  404),
    R("remove-member",           "foreign",     POST, IN,   403,  404,  403,  403,  403,  404,  404),
    R("withdraw-invitation",     "trust",       GET,  IN,   405,  405,  405,  405,  405,  405,  405),
    R("withdraw-invitation",     "trust",       POST, IN,   403,  TEAM, 403,  403,  403,  404,  404),
    R("withdraw-invitation",     "foreign",     POST, IN,   403,  404,  403,  403,  403,  404,  404),
    # -- the trust's assessments; ICS leads compare trusts elsewhere
    R("assessment-list",         "trust",       GET,  IN,   200,  200,  200,  200,  404,  404,  404),
    R("assessment-list",         "trust",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("assessment-start",        "trust",       GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("assessment-start",        "trust",       POST, IN,   403,  200,  403,  403,  403,  404,  404),
    # -- one assessment: working roles read it; board readers and ICS leads only what was approved
    R("assessment-overview",     "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-overview",     "approved",    GET,  IN,   200,  200,  200,  APPR, APPR, 404,  404),
    R("assessment-overview",     "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-overview",     "awaiting",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-overview",     "draft",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("response-edit",           "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("response-edit",           "approved",    GET,  IN,   200,  200,  200,  APPR, APPR, 404,  404),
    R("response-edit",           "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("response-edit",           "draft",       POST, IN,   200,  200,  403,  404,  404,  404,  404),
    R("response-edit",           "draft",       POST, IN,   403,  200,  403,  404,  404,  404,  404, code="R2"),
    R("response-edit",           "approved",    POST, IN,   403,  409,  403,  APPR, APPR, 404,  404),
    R("response-edit",           "awaiting",    POST, IN,   403,  409,  403,  404,  404,  404,  404),
    R("response-assign",         "draft",       GET,  IN,   403,  200,  403,  404,  404,  404,  404),
    R("response-assign",         "approved",    GET,  IN,   403,  403,  403,  403,  403,  404,  404),
    R("response-assign",         "draft",       POST, IN,   403,  200,  403,  404,  404,  404,  404),
    R("assessment-workforce",    "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-workforce",    "approved",    GET,  IN,   200,  200,  200,  APPR, APPR, 404,  404),
    R("assessment-workforce",    "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-workforce",    "draft",       POST, IN,   FIGS, FIGS, 403,  404,  404,  404,  404),
    R("assessment-workforce",    "approved",    POST, IN,   403,  403,  403,  APPR, APPR, 404,  404),
    R("action-list",             "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("action-list",             "approved",    GET,  IN,   200,  200,  200,  APPR, APPR, 404,  404),
    R("action-list",             "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("action-list",             "draft",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("action-add",              "draft",       GET,  IN,   200,  200,  403,  404,  404,  404,  404),
    R("action-add",              "approved",    GET,  IN,   403,  403,  403,  403,  403,  404,  404),
    R("action-add",              "awaiting",    GET,  IN,   403,  403,  403,  404,  404,  404,  404),
    R("action-add",              "draft",       POST, IN,   200,  200,  403,  404,  404,  404,  404),
    R("action-edit",             "draft",       GET,  IN,   200,  200,  403,  404,  404,  404,  404),
    R("action-edit",             "approved",    GET,  IN,   403,  403,  403,  403,  403,  404,  404),
    R("action-edit",             "draft",       POST, IN,   200,  200,  403,  404,  404,  404,  404),
    R("action-edit",             "foreign",     GET,  IN,   404,  404,  403,  404,  404,  404,  404),
    R("action-remove",           "draft",       GET,  IN,   403,  200,  403,  404,  404,  404,  404),
    R("action-remove",           "approved",    GET,  IN,   403,  403,  403,  403,  403,  404,  404),
    R("action-remove",           "draft",       POST, IN,   403,  ACTS, 403,  404,  404,  404,  404),
    R("action-remove",           "foreign",     POST, IN,   403,  404,  403,  404,  404,  404,  404),
    # -- sign-off; ICS leads are not members, so these are 404 to them like outsiders
    R("assessment-submit",       "draft",       GET,  IN,   403,  200,  403,  404,  404,  404,  404),
    R("assessment-submit",       "approved",    GET,  IN,   403,  OVER, 403,  403,  404,  404,  404),
    R("assessment-submit",       "awaiting",    GET,  IN,   403,  OVER, 403,  404,  404,  404,  404),
    R("assessment-submit",       "draft",       POST, IN,   403,  400,  403,  404,  404,  404,  404),
    R("assessment-sign-off",     "awaiting",    GET,  IN,   403,  403,  200,  404,  404,  404,  404),
    R("assessment-sign-off",     "draft",       GET,  IN,   403,  403,  OVER, 404,  404,  404,  404),
    R("assessment-sign-off",     "approved",    GET,  IN,   403,  403,  OVER, 403,  404,  404,  404),
    R("assessment-sign-off",     "awaiting",    POST, IN,   403,  403,  200,  404,  404,  404,  404),
    R("assessment-return",       "awaiting",    GET,  IN,   403,  403,  200,  404,  404,  404,  404),
    R("assessment-return",       "draft",       GET,  IN,   403,  403,  OVER, 404,  404,  404,  404),
    R("assessment-return",       "approved",    GET,  IN,   403,  403,  OVER, 403,  404,  404,  404),
    R("assessment-return",       "awaiting",    POST, IN,   403,  403,  200,  404,  404,  404,  404),
    R("assessment-reopen",       "approved",    GET,  IN,   403,  200,  200,  403,  404,  404,  404),
    R("assessment-reopen",       "draft",       GET,  IN,   403,  OVER, OVER, 404,  404,  404,  404),
    R("assessment-reopen",       "approved",    POST, IN,   403,  200,  200,  403,  404,  404,  404),
    R("assessment-history",      "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-history",      "approved",    GET,  IN,   200,  200,  200,  403,  404,  404,  404),
    R("assessment-history",      "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("assessment-history",      "draft",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("approval-detail",         "approved",    GET,  IN,   200,  200,  200,  200,  200,  404,  404),
    R("approval-detail",         "reopened",    GET,  IN,   200,  200,  200,  200,  200,  404,  404),
    R("approval-detail",         "approved",    POST, IN,   405,  405,  405,  405,  405,  405,  405),
    # -- the board report
    R("cover-sheet",             "draft",       GET,  IN,   403,  200,  403,  404,  404,  404,  404),
    R("cover-sheet",             "approved",    GET,  IN,   403,  403,  403,  403,  403,  404,  404),
    R("cover-sheet",             "awaiting",    GET,  IN,   403,  403,  403,  404,  404,  404,  404),
    R("cover-sheet",             "draft",       POST, IN,   403,  200,  403,  404,  404,  404,  404),
    R("board-report-preview",    "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("board-report-preview",    "approved",    GET,  IN,   200,  200,  200,  403,  403,  404,  404),
    R("board-report-preview",    "reopened",    GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("board-report-preview",    "draft",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("board-report-draft-pdf",  "draft",       GET,  IN,   200,  200,  200,  404,  404,  404,  404),
    R("board-report-draft-pdf",  "draft",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("approval-report-preview", "approved",    GET,  IN,   200,  200,  200,  200,  200,  404,  404),
    R("approval-report-preview", "reopened",    GET,  IN,   200,  200,  200,  200,  200,  404,  404),
    R("approval-report-preview", "approved",    POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("approval-report-pdf",     "approved",    GET,  IN,   200,  200,  200,  200,  200,  404,  404),
    # Revision 1 of the reopened assessment has no stored PDF: members are told to retry, others still 404.
    R("approval-report-pdf",     "reopened",    GET,  IN,   503,  503,  503,  503,  503,  404,  404),
    R("approval-report-pdf",     "approved",    POST, IN,   405,  405,  405,  405,  405,  405,  405),
    # -- the evidence library: working roles read, lead and contributors add
    R("evidence-library",        "trust",       GET,  IN,   200,  200,  200,  403,  403,  404,  404),
    R("evidence-library",        "trust",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("evidence-upload",         "trust",       GET,  IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-upload",         "trust",       POST, IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-add-link",       "trust",       GET,  IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-add-link",       "trust",       POST, IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-detail",         "trust",       GET,  IN,   200,  200,  200,  403,  403,  404,  404),
    R("evidence-detail",         "trust",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("evidence-detail",         "foreign",     GET,  IN,   404,  404,  404,  403,  403,  404,  404),
    R("evidence-new-version",    "trust",       GET,  IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-new-version",    "trust",       POST, IN,   200,  200,  403,  403,  403,  404,  404),
    R("evidence-new-version",    "foreign",     POST, IN,   404,  404,  403,  403,  403,  404,  404),
    R("evidence-download",       "trust",       GET,  IN,   200,  200,  200,  403,  403,  404,  404),
    R("evidence-download",       "trust",       POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("evidence-download",       "foreign",     GET,  IN,   404,  404,  404,  403,  403,  404,  404),
    # The lead, or the contributor the requirement is assigned to (in the draft, not the approved one).
    R("response-evidence",       "draft",       GET,  IN,   200,  200,  403,  404,  404,  404,  404),
    R("response-evidence",       "draft",       GET,  IN,   403,  200,  403,  404,  404,  404,  404, code="R2"),
    R("response-evidence",       "approved",    GET,  IN,   403,  200,  403,  403,  403,  404,  404),
    R("response-evidence",       "draft",       POST, IN,   LINK, LINK, 403,  404,  404,  404,  404),
    # -- the ICS comparison: ICS leads of the ICB; trust members there know it exists (403)
    R("comparison",              "icb",         GET,  IN,   403,  403,  403,  403,  200,  404,  404),
    R("comparison",              "icb",         POST, IN,   405,  405,  405,  405,  405,  405,  405),
    R("comparison-export",       "icb",         GET,  IN,   403,  403,  403,  403,  200,  404,  404, fmt="csv"),
    R("comparison-export",       "icb",         GET,  IN,   403,  403,  403,  403,  200,  404,  404, fmt="xlsx"),
    R("comparison-export",       "icb",         GET,  IN,   404,  404,  404,  404,  404,  404,  404, fmt="pdf"),
    R("comparison-export",       "icb",         POST, IN,   405,  405,  405,  405,  405,  405,  405, fmt="csv"),
    R("comparison-summary-pack", "icb",         GET,  IN,   403,  403,  403,  403,  200,  404,  404),
    R("comparison-summary-pack", "icb",         POST, IN,   405,  405,  405,  405,  405,  405,  405),
]
# fmt: on


# ---- the URL configuration -------------------------------------------------------------------------


@functools.cache
def route_params() -> dict[str, tuple[str, ...]]:
    return walk()


def walk(patterns=None, namespace="", params=()) -> dict[str, tuple[str, ...]]:
    """Every named route, as {"namespace:name": (its URL kwargs)}; the admin's own pages as its index only."""
    routes = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        names = params + _params(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if inner == "admin:":
                routes["admin:index"] = ()
                continue
            routes |= walk(entry.url_patterns, inner, names)
        elif isinstance(entry, URLPattern):
            routes[f"{namespace}{entry.name}" if entry.name else f"<unnamed {entry.pattern}>"] = names
    return routes


def _params(pattern) -> tuple[str, ...]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:
        return tuple(converters)
    return tuple(pattern.regex.groupindex)


def test_every_route_has_an_entry():
    """A route without a row in the table, or a row for a route that has gone, fails here."""
    routes = walk()
    unnamed = sorted(name for name in routes if name.startswith("<unnamed"))
    assert not unnamed, f"Routes must be named to be in the access table: {unnamed}"
    in_table = {row.route for row in TABLE}
    missing = sorted(set(routes) - in_table)
    assert not missing, f"Routes with no entry in the access table (tests/test_access_matrix.py): {missing}"
    gone = sorted(in_table - set(routes))
    assert not gone, f"Entries in the access table for routes that no longer exist: {gone}"


def test_every_route_is_tried_with_get():
    routes_with_get = {row.route for row in TABLE if row.method == GET}
    assert routes_with_get == {row.route for row in TABLE}


# ---- the world -----------------------------------------------------------------------------------


def _complete(assessment, user):
    from assessments import services

    level = assessment.framework.rating_levels.get(value=3)
    for response in assessment.responses.select_related("requirement"):
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=user,
            rating=level,
            rationale=f"Evidence for {response.requirement.code} shows arrangements operating with minor gaps.",
            strengths="",
            gaps_and_risks="",
            ready=True,
        )


def _action(assessment, user):
    from assessments import services

    return services.save_action(
        assessment=assessment,
        edited_by=user,
        title="Audit supervision quarterly",
        requirements=list(assessment.framework.requirements.filter(code=CODE)),
        owner="Principal social worker",
        due_date=datetime.date(2027, 3, 31),
        status="not_started",
    )


def build_world() -> SimpleNamespace:
    """The cast of ``tests/conftest.py`` at module scope, and everything the routes need."""
    from assessments import services
    from assessments.models import BoardReport, Cycle
    from portal import services as people
    from requirements.models import Framework, FrameworkStatus
    from tests.test_evidence_upload import add_document

    region = RegionFactory(code="Y61", name="East of England")
    icb = ICBFactory(ods_code="QUE", name="NHS Cambridgeshire and Peterborough Integrated Care Board", region=region)
    other_icb = ICBFactory(ods_code="QM7", name="NHS Hertfordshire and West Essex Integrated Care Board", region=region)
    trust = TrustFactory(ods_code="RT1", name="Cambridgeshire and Peterborough NHS Foundation Trust", region=region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    other_trust = TrustFactory(ods_code="RWR", name="Hertfordshire Partnership University NHS FT", region=region)
    TrustICBMembershipFactory(trust=other_trust, icb=other_icb)

    def member(at, role, email, name):
        return TrustMembershipFactory(trust=at, role=role, user=UserFactory(email=email, full_name=name))

    lead = member(trust, TrustRole.LEAD, "lead@example.nhs.uk", "Leah Lead").user
    contributor_membership = member(trust, TrustRole.CONTRIBUTOR, "contributor@example.nhs.uk", "Connor Contributor")
    contributor = contributor_membership.user
    executive = member(trust, TrustRole.EXECUTIVE, "executive@example.nhs.uk", "Esther Executive").user
    board_reader = member(trust, TrustRole.BOARD_READER, "board@example.nhs.uk", "Bola Board").user
    ics_lead = ICBMembershipFactory(icb=icb, user=UserFactory(email="ics@example.nhs.uk", full_name="Isla ICS")).user
    outsider_membership = member(other_trust, TrustRole.LEAD, "outsider@example.nhs.uk", "Otto Outsider")
    outsider = outsider_membership.user
    administrator = UserFactory(email="admin@example.nhs.uk", full_name="Ada Admin", is_staff=True, is_superuser=True)

    for path in sorted((settings.BASE_DIR / "fixtures" / "frameworks").glob("*.toml")):
        call_command("load_framework", str(path), verbosity=0)
    framework = Framework.objects.current()
    unpublished = Framework.objects.create(
        slug=framework.slug,
        title=framework.title,
        publisher=framework.publisher,
        version="2027.0",
        publication_date=datetime.date(2027, 1, 1),
        status=FrameworkStatus.DRAFT,
    )

    def cycle(label, year):
        return Cycle.objects.create(
            label=label, snapshot_date=datetime.date(year, 3, 31), submission_deadline=datetime.date(year, 6, 30)
        )

    # 2024/25: approved (no board report needed here), then reopened as revision 2.
    reopened = services.start_assessment(
        trust=trust, cycle=cycle("2024/25", 2024), started_by=lead, carry_forward=False
    )
    _complete(reopened, lead)
    services.submit_for_sign_off(assessment=reopened, submitted_by=lead)
    # Its board report is never rendered: the on-commit callback dies with the module's transaction.
    services.approve(
        assessment=reopened, approved_by=executive, approver_name="E", approver_role="R", statement="Approved."
    )
    services.reopen(assessment=reopened, reopened_by=lead, reason="A new supervision audit arrived.")

    # 2025/26: approved, with its board report rendered and stored as on a real commit.
    approved = services.start_assessment(
        trust=trust, cycle=cycle("2025/26", 2025), started_by=lead, carry_forward=False
    )
    _complete(approved, lead)
    approved_action = _action(approved, lead)
    services.submit_for_sign_off(assessment=approved, submitted_by=lead)
    with TestCase.captureOnCommitCallbacks(execute=True):
        approval = services.approve(
            assessment=approved,
            approved_by=executive,
            approver_name=executive.full_name,
            approver_role="Chief Nurse",
            statement="I confirm this self-assessment.",
        )
    assert BoardReport.objects.filter(approval=approval).exists()

    # 2026/27: a blank draft, R1 assigned to the contributor.
    draft = services.start_assessment(trust=trust, cycle=cycle("2026/27", 2026), started_by=lead, carry_forward=False)
    services.assign_response(
        response=draft.responses.get(requirement__code=CODE), assignee=contributor, assigned_by=lead
    )
    draft_action = _action(draft, lead)

    # 2027/28: complete and awaiting the executive's sign-off.
    awaiting = services.start_assessment(
        trust=trust, cycle=cycle("2027/28", 2027), started_by=lead, carry_forward=False
    )
    _complete(awaiting, lead)
    services.submit_for_sign_off(assessment=awaiting, submitted_by=lead)

    item = add_document(trust, lead, title="Supervision policy", name="policy.pdf")
    invitation, token = people.invite_colleague(
        trust=trust,
        invited_by=lead,
        email="newcomer@example.nhs.uk",
        full_name="Nia Newcomer",
        role=TrustRole.CONTRIBUTOR,
    )
    withdrawn, withdrawn_token = people.invite_colleague(
        trust=trust, invited_by=lead, email="late@example.nhs.uk", full_name="Lee Late", role=TrustRole.CONTRIBUTOR
    )
    people.withdraw_invitation(invitation=withdrawn, withdrawn_by=lead)
    # Another trust's things, for "foreign": its lead's membership, an invitation, a document, an action.
    foreign_draft = services.start_assessment(
        trust=other_trust, cycle=Cycle.objects.get(label="2026/27"), started_by=outsider, carry_forward=False
    )
    foreign = SimpleNamespace(
        membership=outsider_membership,
        invitation=people.invite_colleague(
            trust=other_trust, invited_by=outsider, email="x@example.nhs.uk", full_name="X", role=TrustRole.LEAD
        )[0],
        item=add_document(other_trust, outsider, title="Their policy", name="theirs.pdf"),
        action=_action(foreign_draft, outsider),
    )
    assessments = {"reopened": reopened, "approved": approved, "draft": draft, "awaiting": awaiting}
    for assessment in assessments.values():
        assessment.refresh_from_db()
    return SimpleNamespace(
        people={
            "anonymous": None,
            "contributor": contributor,
            "lead": lead,
            "executive": executive,
            "board_reader": board_reader,
            "ics_lead": ics_lead,
            "outsider": outsider,
            "administrator": administrator,
        },
        trust=trust,
        icb=icb,
        framework=framework,
        unpublished=unpublished,
        assessments=assessments,
        actions={"draft": draft_action, "approved": approved_action},
        # The latest approved revision of each assessment that has one.
        revisions={reopened.pk: 1, approved.pk: approval.revision},
        item=item,
        membership=contributor_membership,
        invitation=invitation,
        foreign=foreign,
        tokens={"invitation": token, "withdrawn": withdrawn_token, "unknown": "no-such-invitation-token"},
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once, inside a transaction that is rolled back when the module's tests are done."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def url_kwargs(world, params: tuple[str, ...], row: Row) -> dict:
    subject = row.subject
    assessment = world.assessments.get("draft" if subject == "foreign" else subject)
    framework = world.unpublished if subject == "unpublished" else world.framework
    values = {
        "ods_code": world.icb.ods_code if subject == "icb" else world.trust.ods_code,
        "pk": assessment.pk if assessment else None,
        "code": CODE,
        "action_id": world.actions[subject].pk if subject in world.actions else None,
        "revision": world.revisions.get(assessment.pk) if assessment else None,
        "item_id": world.item.pk,
        "number": 1,
        "membership_id": world.membership.pk,
        "invitation_id": world.invitation.pk,
        "token": world.tokens.get(subject),
        "slug": framework.slug,
        "version": framework.version,
    }
    if subject == "foreign":
        values |= {
            "membership_id": world.foreign.membership.pk,
            "invitation_id": world.foreign.invitation.pk,
            "item_id": world.foreign.item.pk,
            "action_id": world.foreign.action.pk,
        }
    if row.route == "password_reset_confirm":
        values |= {"uidb64": "MQ", "token": "set-password-not-a-real-token"}
    values |= row.extra or {}
    return {name: values[name] for name in params}


# ---- the matrix ------------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _cells():
    for row in TABLE:
        for role in ROLES:
            outcome = row.outcomes[role]
            marks = ()
            if isinstance(outcome, Bug):
                marks = (pytest.mark.xfail(strict=True, reason=outcome.reason),)
                outcome = outcome.expected
            yield pytest.param(row, role, outcome, id=f"{row.id}-{role}", marks=marks)


@pytest.mark.parametrize(("row", "role", "expected"), list(_cells()))
def test_access(world, db, row, role, expected):
    kwargs = url_kwargs(world, route_params()[row.route], row)
    url = reverse(row.route, kwargs=kwargs)
    client = Client()
    if world.people[role] is not None:
        sign_in_with_two_factor(client, world.people[role])
    response = client.get(url) if row.method == GET else client.post(url, {})
    check_outcome(response, expected, world, row, role, url, kwargs)


# A password alone (the second step of signing in not yet done) opens nothing a signed-out person
# cannot open, except the security-code step itself and signing out. These are the cells where it
# differs from being signed out; every other cell must match the row's "anonymous" outcome, with
# "sent to sign in" becoming "sent to the security code".
PASSWORD_ONLY = {
    ("sign-in", GET): HOME,  # already signed in with a password: on to the next step (via home)
    ("sign-in", POST): HOME,
    ("sign-out", GET): 405,
    ("sign-out", POST): BYE,
    ("two-factor-verify", GET): 200,
    ("two-factor-verify", POST): 200,  # the form, with its error
    ("two-factor-setup", GET): CODE_STEP_ONLY,  # they have an app: a code, not another app
    ("two-factor-setup", POST): CODE_STEP_ONLY,
    ("accept-invitation", "invitation", GET): CODE_STEP,
    ("accept-invitation", "invitation", POST): CODE_STEP,
}


def password_only_outcome(row):
    for key in ((row.route, row.subject, row.method), (row.route, row.method)):
        if key in PASSWORD_ONLY:
            return PASSWORD_ONLY[key]
    anonymous = row.outcomes["anonymous"]
    if isinstance(anonymous, Bug):
        anonymous = anonymous.expected
    return CODE_STEP if anonymous in (IN, ADM) else anonymous


@pytest.mark.parametrize("person", ["lead", "administrator"])
@pytest.mark.parametrize("row", TABLE, ids=[row.id for row in TABLE])
def test_a_password_alone_opens_nothing_more(world, db, row, person):
    """Signed in with the password but not the security code: the lead, or the platform administrator."""
    kwargs = url_kwargs(world, route_params()[row.route], row)
    url = reverse(row.route, kwargs=kwargs)
    client = Client()
    confirmed_authenticator(world.people[person])
    client.force_login(world.people[person])
    response = client.get(url) if row.method == GET else client.post(url, {})
    check_outcome(response, password_only_outcome(row), world, row, f"{person} (password only)", url, kwargs)


def check_outcome(response, expected, world, row, role, url, kwargs):
    if isinstance(expected, Redirect):
        assert response.status_code == 302, f"{row.method} {url} as {role}: expected {expected!r}"
        location = urlsplit(response["Location"])
        assert location.path == expected.path(world, kwargs), f"{row.method} {url} as {role}"
        if expected.with_next:
            assert parse_qs(location.query).get("next") == [url]
    else:
        assert response.status_code == expected, f"{row.method} {url} as {role}"

    # A cheap guard on the Content Security Policy, on every page (error pages too): the header is
    # there, and nothing on the page needs 'unsafe-inline' to run.
    if response["Content-Type"].startswith("text/html") and response.content:
        assert "Content-Security-Policy" in response.headers, f"{url} as {role} has no CSP header"
        html = response.content.decode()
        assert not INLINE_SCRIPT.findall(html), f"{url} as {role} has inline scripts: {INLINE_SCRIPT.findall(html)}"
        assert not INLINE_HANDLER.findall(html), f"{url} as {role} has inline event handlers"
