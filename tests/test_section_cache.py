"""The cached sections of the assessment overview and a requirement page: never stale, never another role's.

Below the header both pages are rendered once and kept in each process's memory
(``assessments.sections``), under a key that names the data they show. Each test here views a
page (which fills the cache), makes one change the way the portal makes it (its services, an
ODS import or the admin) and views the page again: the change must show at once, without
anything being cleared. The rest show that the cache is really used, that one role never sees
another's page, and that the forms on a cached page still carry the viewer's own CSRF token.
"""

import contextlib
import datetime
import re
import threading
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import evidence, sections, services
from assessments.models import ActionStatus, Response
from portal import ods, two_factor
from portal import services as people
from portal.models import Trust, TrustMembership, TrustRole, User
from tests.factories import TrustFactory, TrustICBMembershipFactory, TrustMembershipFactory, sign_in_with_two_factor
from tests.test_evidence_upload import add_document, make_pdf, use_temporary_evidence_storage


@pytest.fixture(autouse=True)
def storage_root(monkeypatch, settings, tmp_path):
    return use_temporary_evidence_storage(monkeypatch, settings, tmp_path)


# ---- helpers ----------------------------------------------------------------------------------------


def overview_url(assessment):
    return reverse("assessment-overview", args=[assessment.pk])


def response_url(assessment, code="R1"):
    return reverse("response-edit", args=[assessment.pk, code])


PAGES = {"overview": overview_url, "requirement": response_url}

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


def main(page) -> str:
    """The page between ``<main`` and ``</main>`` (the cached section and little else), its CSRF token blanked."""
    assert page.status_code == 200
    content = page.content.decode()
    section = content[content.index("<main") : content.index("</main>")]
    return CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', section)


def text(page) -> str:
    """What the reader sees in ``<main>``: its words without tags."""
    return " ".join(re.sub(r"<[^>]+>", " ", main(page)).split())


def task(page, code: str) -> str:
    """The words of one requirement's row in the overview's task list."""
    items = main(page).split('<li class="nhsuk-task-list__item')[1:]
    found = [item for item in items if f"{code}: " in item]
    assert len(found) == 1, f"expected one task for {code}"
    return " ".join(re.sub(r"<[^>]+>", " ", found[0].split("</li>")[0]).split())


def peer_panel(page) -> str:
    """The words of the overview's peer context panel."""
    section = main(page).split('id="peer-context-heading"', 1)[1].split("</section>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def csrf_token(page) -> str:
    """The CSRF token of the form in ``<main>`` (the header's sign-out form has its own)."""
    content = page.content.decode()
    tokens = CSRF_INPUT.findall(content[content.index("<main") : content.index("</main>")])
    assert len(tokens) == 1, f"expected one CSRF token in the section, found {tokens}"
    return tokens[0]


def response_for(assessment, code="R1") -> Response:
    return assessment.responses.select_related("requirement", "assessment").get(requirement__code=code)


def rate(assessment, user, code, value, *, rationale=None, ready=False):
    response = response_for(assessment, code)
    return services.save_response(
        response=response,
        expected_version=response.version,
        edited_by=user,
        rating=assessment.framework.rating_levels.get(value=value),
        rationale=rationale or f"Rationale for {code}",
        strengths="",
        gaps_and_risks="",
        ready=ready,
    )


def assign(assessment, lead, person, code="R1"):
    return services.assign_response(response=response_for(assessment, code), assignee=person, assigned_by=lead)


def add_action(assessment, user, title, *, codes=("R1",), due_date=datetime.date(2030, 3, 31)):
    return services.save_action(
        assessment=assessment,
        edited_by=user,
        title=title,
        requirements=list(assessment.framework.requirements.filter(code__in=codes)),
        owner="Head of learning",
        due_date=due_date,
        status=ActionStatus.IN_PROGRESS,
    )


def membership(user, trust) -> TrustMembership:
    return TrustMembership.objects.get(user=user, trust=trust)


def signed_in(user) -> Client:
    """A client of its own, signed in as ``user`` (for a second person beside ``client_for``'s)."""
    return sign_in_with_two_factor(Client(), user)


class _FormFields(HTMLParser):
    """What a browser would submit from the form with the given id, unchanged."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self.select: tuple[str, bool] | None = None
        self.first_option: str | None = None
        self.chosen = False
        self.textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:  # an inline's template for "Add another"
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or (tag not in {"input", "select", "option", "textarea"}):
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self._add(name, attrs.get("value", "on" if kind in {"checkbox", "radio"} else ""))
        elif tag == "select" and name:
            self.select = (name, "multiple" in attrs)
            self.first_option, self.chosen = None, False
        elif tag == "option" and self.select:
            value = attrs.get("value", "")
            if self.first_option is None:
                self.first_option = value
            if "selected" in attrs:
                self._add(self.select[0], value)
                self.chosen = True
        elif tag == "textarea" and name:
            self.textarea = name
            self._add(name, "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            name, multiple = self.select
            if not self.chosen and not multiple and self.first_option is not None:
                self._add(name, self.first_option)
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            value = self.data[self.textarea][-1] + data
            self.data[self.textarea][-1] = value.removeprefix("\n")  # a browser drops the newline after <textarea>


def change_in_admin(client: Client, url: str, form_id: str, **changes) -> None:
    """Change fields of an object through its admin change page, as an administrator would in a browser."""
    page = client.get(url)
    assert page.status_code == 200
    parser = _FormFields(form_id)
    parser.feed(page.content.decode())
    data = parser.data
    for name in changes:
        assert name in data, f"the admin form has no field {name}"
    data.update({name: [value] for name, value in changes.items()})
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved.status_code


def submitted(trust, cycle, value: int):
    """``trust``'s assessment of ``cycle``, every requirement rated ``value``, awaiting sign-off; and its executive."""
    lead = TrustMembershipFactory(trust=trust, role=TrustRole.LEAD).user
    executive = TrustMembershipFactory(trust=trust, role=TrustRole.EXECUTIVE).user
    assessment = services.start_assessment(trust=trust, cycle=cycle, started_by=lead, carry_forward=False)
    for response in assessment.responses.select_related("requirement"):
        rate(assessment, lead, response.requirement.code, value, ready=True)
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    return assessment, executive


def sign_off(assessment, executive):
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name=executive.full_name,
        approver_role="Chief Nurse",
        statement="I approve this self-assessment.",
    )


# ---- the overview -----------------------------------------------------------------------------------


class TestOverviewShowsEveryChangeAtOnce:
    def test_overview_shows_a_new_rating_at_once(self, client_for, lead, assessment):
        """A rating saved in progress shows its label and "In progress" on the next view."""
        client = client_for(lead)
        before = task(client.get(overview_url(assessment)), "R1")
        assert "Rating:" not in before
        assert "Not started" in before
        rate(assessment, lead, "R1", 3)
        after = task(client.get(overview_url(assessment)), "R1")
        assert "Rating: 3 – Largely met" in after
        assert "In progress" in after

    def test_overview_shows_a_response_marked_ready_at_once(self, client_for, lead, assessment):
        """A response changed from in progress to ready shows "Ready" and the count of ready requirements moves."""
        rate(assessment, lead, "R1", 2)
        client = client_for(lead)
        before = client.get(overview_url(assessment))
        assert "In progress" in task(before, "R1")
        assert "0 of 8 requirements ready" in text(before)
        rate(assessment, lead, "R1", 4, ready=True)
        after = client.get(overview_url(assessment))
        assert "Rating: 4 – Fully met" in task(after, "R1")
        assert "Ready" in task(after, "R1")
        assert "1 of 8 requirements ready" in text(after)

    def test_overview_shows_a_new_assignee_at_once(self, client_for, lead, contributor, assessment):
        """A requirement assigned by the lead shows the assignee's name on the next view."""
        client = client_for(lead)
        assert "Not assigned" in task(client.get(overview_url(assessment)), "R1")
        assign(assessment, lead, contributor)
        assert "Assigned to Connor Contributor" in task(client.get(overview_url(assessment)), "R1")

    def test_overview_counts_a_new_action_at_once(self, client_for, lead, assessment):
        """An action added to the improvement plan is counted on the next view."""
        client = client_for(lead)
        assert 'id="plan-hint">0 actions</div>' in main(client.get(overview_url(assessment)))
        add_action(assessment, lead, "Train supervisors")
        assert 'id="plan-hint">1 action</div>' in main(client.get(overview_url(assessment)))

    def test_overview_shows_an_action_made_overdue_at_once(self, client_for, lead, assessment):
        """An action whose due date is moved into the past is counted overdue on the next view."""
        action = add_action(assessment, lead, "Train supervisors")
        client = client_for(lead)
        assert 'id="plan-hint">1 action</div>' in main(client.get(overview_url(assessment)))
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            action=action,
            title=action.title,
            requirements=list(action.requirements.all()),
            owner=action.owner,
            due_date=timezone.localdate() - datetime.timedelta(days=1),
            status=action.status,
        )
        after = main(client.get(overview_url(assessment)))
        assert 'id="plan-hint">1 action, 1 overdue</div>' in after
        assert "Overdue actions" in after

    def test_overview_counts_an_action_overdue_the_day_after_it_falls_due(
        self, client_for, lead, assessment, monkeypatch
    ):
        """Nothing changes but the date: the next day's first view counts the action overdue."""
        today = timezone.localdate()
        add_action(assessment, lead, "Train supervisors", due_date=today)
        client = client_for(lead)
        assert 'id="plan-hint">1 action</div>' in main(client.get(overview_url(assessment)))
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: today + datetime.timedelta(days=1))
        assert 'id="plan-hint">1 action, 1 overdue</div>' in main(client.get(overview_url(assessment)))

    def test_overview_counts_new_workforce_figures_at_once(self, client_for, lead, assessment):
        """A workforce figure entered moves the count of figures entered on the next view."""
        indicators = list(assessment.framework.indicators.order_by("order"))
        client = client_for(lead)
        assert f"0 of {len(indicators)} figures entered" in text(client.get(overview_url(assessment)))
        headcount = next(i for i in indicators if i.code == "headcount")
        services.save_indicator_values(
            assessment=assessment, values={headcount.pk: (Decimal(42), None)}, edited_by=lead
        )
        after = text(client.get(overview_url(assessment)))
        assert f"1 of {len(indicators)} figures entered" in after
        assert f"0 of {len(indicators)} figures entered" not in after

    def test_overview_shows_a_submission_at_once(self, client_for, lead, complete_assessment):
        """The state tag changes and the lead's "Submit for sign-off" button goes."""
        client = client_for(lead)
        before = client.get(overview_url(complete_assessment))
        assert "State Draft" in text(before)
        assert "Submit for sign-off" in text(before)
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        after = client.get(overview_url(complete_assessment))
        assert "State Awaiting sign-off" in text(after)
        assert "Submit for sign-off" not in text(after)

    def test_overview_shows_a_return_and_its_reason_at_once(self, client_for, lead, executive, complete_assessment):
        """The executive's return shows its state and reason on the lead's next view."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        client = client_for(lead)
        assert "Returned by the executive sponsor" not in text(client.get(overview_url(complete_assessment)))
        services.return_assessment(assessment=complete_assessment, returned_by=executive, reason="Add the audit")
        after = text(client.get(overview_url(complete_assessment)))
        assert "Returned by the executive sponsor: Add the audit" in after
        assert "State Returned" in after

    def test_overview_shows_another_trusts_approval_in_the_peer_panel_at_once(
        self, client_for, lead, icb, trust, neighbour_trust, assessment
    ):
        """The third approved peer in the ICB brings the medians out: an approval elsewhere changes this page."""
        peers = [neighbour_trust]
        for n in range(2):
            peer = TrustFactory(ods_code=f"RP{n}", name=f"Peer {n} NHS Trust", region=icb.region)
            TrustICBMembershipFactory(trust=peer, icb=icb)
            peers.append(peer)
        for peer in peers[:2]:
            sign_off(*submitted(peer, assessment.cycle, 4))
        last, last_executive = submitted(peers[2], assessment.cycle, 2)
        client = client_for(lead)
        before = peer_panel(client.get(overview_url(assessment)))
        assert "appear here once at least 3 trusts" in before
        sign_off(last, last_executive)
        after = peer_panel(client.get(overview_url(assessment)))
        assert "appear here once at least 3 trusts" not in after
        r1 = after.split("R1 ", 1)[1].split(" R2 ", 1)[0]
        assert r1.count("4 – Fully met") == 2  # the median of 4, 4 and 2, in the ICB and in England

    def test_overview_shows_a_name_changed_by_the_administrator(
        self, client_for, lead, contributor, administrator, assessment
    ):
        """The assignee's name, changed in the admin's user page, shows in the task list at once."""
        assign(assessment, lead, contributor)
        client = client_for(lead)
        assert "Assigned to Connor Contributor" in task(client.get(overview_url(assessment)), "R1")
        change_in_admin(
            signed_in(administrator),
            reverse("admin:portal_user_change", args=[contributor.pk]),
            "user_form",
            full_name="Connie Contributor-Smith",
        )
        assert User.objects.get(pk=contributor.pk).full_name == "Connie Contributor-Smith"
        after = task(client.get(overview_url(assessment)), "R1")
        assert "Assigned to Connie Contributor-Smith" in after
        assert "Connor" not in after

    def test_overview_shows_a_deadline_changed_by_the_administrator(self, client_for, lead, administrator, assessment):
        """A deadline changed in the admin's cycle page shows on the next view."""
        client = client_for(lead)
        assert "Submission deadline 30 June 2026" in text(client.get(overview_url(assessment)))
        change_in_admin(
            signed_in(administrator),
            reverse("admin:assessments_cycle_change", args=[assessment.cycle.pk]),
            "cycle_form",
            submission_deadline="2026-12-31",
        )
        assert "Submission deadline 31 December 2026" in text(client.get(overview_url(assessment)))

    def test_a_lead_demoted_to_contributor_loses_the_submit_button_at_once(
        self, client_for, lead, contributor, assessment, trust
    ):
        """A lead made a contributor (by the new lead) no longer gets the lead's controls."""
        # A trust keeps at least one lead: the contributor is made one first.
        people.change_role(membership=membership(contributor, trust), role=TrustRole.LEAD, changed_by=lead)
        client = client_for(lead)
        assert "Submit for sign-off" in text(client.get(overview_url(assessment)))
        people.change_role(membership=membership(lead, trust), role=TrustRole.CONTRIBUTOR, changed_by=contributor)
        after = text(client.get(overview_url(assessment)))
        assert "Submit for sign-off" not in after
        assert "Write the cover sheet" not in after

    def test_a_contributor_made_a_lead_gets_the_submit_button_at_once(
        self, client_for, lead, contributor, assessment, trust
    ):
        """A contributor made a lead gets the submit button on their next view."""
        client = client_for(contributor)
        assert "Submit for sign-off" not in text(client.get(overview_url(assessment)))
        people.change_role(membership=membership(contributor, trust), role=TrustRole.LEAD, changed_by=lead)
        assert "Submit for sign-off" in text(client.get(overview_url(assessment)))


@pytest.mark.parametrize("page", PAGES)
class TestTrustNames:
    def test_a_trust_renamed_by_an_ods_import_shows_at_once(self, client_for, lead, assessment, trust, page):
        """An ODS import that renames the trust shows the new name on the next view."""
        client = client_for(lead)
        assert trust.name in main(client.get(PAGES[page](assessment)))
        report = ods.import_ods(rows=[{"ods_code": trust.ods_code, "name": "Fenland Mental Health NHS Trust"}])
        assert [result.ods_code for result in report.changed] == [trust.ods_code]
        after = main(client.get(PAGES[page](assessment)))
        assert "Fenland Mental Health NHS Trust" in after
        assert trust.name not in after

    def test_a_trust_renamed_by_the_administrator_shows_at_once(
        self, client_for, lead, administrator, assessment, trust, page
    ):
        """A trust renamed in the admin shows its new name on the next view."""
        client = client_for(lead)
        assert trust.name in main(client.get(PAGES[page](assessment)))
        change_in_admin(
            signed_in(administrator),
            reverse("admin:portal_trust_change", args=[trust.pk]),
            "trust_form",
            name="Fenland Mental Health NHS Trust",
        )
        assert Trust.objects.get(pk=trust.pk).name == "Fenland Mental Health NHS Trust"
        after = main(client.get(PAGES[page](assessment)))
        assert "Fenland Mental Health NHS Trust" in after
        assert trust.name not in after


# ---- a requirement page -----------------------------------------------------------------------------


class TestRequirementPageShowsEveryChangeAtOnce:
    def test_an_answer_saved_by_someone_else_shows_in_the_form_at_once(self, client_for, lead, contributor, assessment):
        """The form holds the new text and the new version, so the lead's next save is not a false conflict."""
        assign(assessment, lead, contributor)
        client = client_for(lead)
        before = client.get(response_url(assessment)).content.decode()
        assert 'name="version" value="1"' in before
        rate(assessment, contributor, "R1", 3, rationale="The board receives a social work report each quarter.")
        page = client.get(response_url(assessment))
        after = main(page)
        assert "The board receives a social work report each quarter." in after
        assert 'name="version" value="2"' in after
        assert "by Connor Contributor" in text(page)

    def test_a_new_version_of_linked_evidence_shows_at_once(self, client_for, lead, assessment, trust):
        """A new version of a linked document shows its number on the next view."""
        document = add_document(trust, lead, title="Board report on social work")
        services.link_evidence(response=response_for(assessment), item=document, linked_by=lead)
        client = client_for(lead)
        before = text(client.get(response_url(assessment)))
        assert "Board report on social work Version 1" in before
        evidence.add_evidence_version(
            item=document,
            uploaded_by=lead,
            upload=evidence.check_upload(SimpleUploadedFile("report-v2.pdf", make_pdf())),
            confirmed_no_patient_data=True,
        )
        after = text(client.get(response_url(assessment)))
        assert "Board report on social work Version 2" in after

    def test_newly_linked_evidence_shows_at_once(self, client_for, lead, assessment, trust):
        """A document linked to the requirement shows in its evidence table on the next view."""
        document = add_document(trust, lead, title="Board report on social work")
        client = client_for(lead)
        assert "No evidence is linked to R1 yet." in text(client.get(response_url(assessment)))
        services.link_evidence(response=response_for(assessment), item=document, linked_by=lead)
        after = text(client.get(response_url(assessment)))
        assert "No evidence is linked to R1 yet." not in after
        assert "Board report on social work Version 1" in after

    def test_unlinked_evidence_goes_at_once(self, client_for, lead, assessment, trust):
        """A document unlinked from the requirement leaves its evidence table on the next view."""
        document = add_document(trust, lead, title="Board report on social work")
        services.link_evidence(response=response_for(assessment), item=document, linked_by=lead)
        client = client_for(lead)
        assert "Board report on social work" in text(client.get(response_url(assessment)))
        services.unlink_evidence(response=response_for(assessment), item=document, unlinked_by=lead)
        after = text(client.get(response_url(assessment)))
        assert "Board report on social work" not in after
        assert "No evidence is linked to R1 yet." in after

    def test_a_new_action_for_the_requirement_shows_at_once(self, client_for, lead, assessment):
        """An action added for the requirement shows in its actions table on the next view."""
        client = client_for(lead)
        assert "No actions in the improvement plan address R1 yet." in text(client.get(response_url(assessment)))
        add_action(assessment, lead, "Report to the board quarterly")
        after = text(client.get(response_url(assessment)))
        assert "Report to the board quarterly Head of learning 31 March 2030 In progress" in after

    def test_an_action_moved_to_the_requirement_shows_at_once(self, client_for, lead, assessment):
        """Changing only an action's requirements (not its text) still shows on the requirement it now addresses."""
        action = add_action(assessment, lead, "Report to the board quarterly", codes=("R2",))
        client = client_for(lead)
        assert "Report to the board quarterly" not in text(client.get(response_url(assessment)))
        services.save_action(
            assessment=assessment,
            edited_by=lead,
            action=action,
            title=action.title,
            requirements=list(assessment.framework.requirements.filter(code__in=["R1", "R2"])),
            owner=action.owner,
            due_date=action.due_date,
            status=action.status,
        )
        assert "Report to the board quarterly" in text(client.get(response_url(assessment)))

    def test_a_contributor_assigned_afterwards_gets_the_form_at_once(self, client_for, lead, contributor, assessment):
        """A contributor who read the answer gets the form once the requirement is assigned to them."""
        client = client_for(contributor)
        before = client.get(response_url(assessment)).content.decode()
        assert 'name="rationale"' not in before
        assert "Not rated yet" in before
        assign(assessment, lead, contributor)
        after = main(client.get(response_url(assessment)))
        assert 'name="rationale"' in after
        assert "Your answer" in after
        assert "Add or remove evidence" in after

    def test_a_contributor_unassigned_afterwards_loses_the_form_at_once(
        self, client_for, lead, contributor, assessment
    ):
        """A contributor whose requirement is unassigned gets the read-only answer on their next view."""
        assign(assessment, lead, contributor)
        client = client_for(contributor)
        assert 'name="rationale"' in main(client.get(response_url(assessment)))
        assign(assessment, lead, None)
        after = main(client.get(response_url(assessment)))
        assert 'name="rationale"' not in after
        assert "Not assigned" in after

    def test_a_submission_makes_the_requirement_page_read_only_at_once(self, client_for, lead, complete_assessment):
        """Once submitted, the lead's next view of a requirement is read-only."""
        client = client_for(lead)
        assert 'name="rationale"' in main(client.get(response_url(complete_assessment)))
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        after = main(client.get(response_url(complete_assessment)))
        assert 'name="rationale"' not in after
        assert "This assessment is awaiting sign-off, so it cannot be changed." in after

    def test_a_name_changed_by_the_administrator_shows_on_the_requirement_page(
        self, client_for, lead, contributor, administrator, assessment
    ):
        """A name changed in the admin's user page shows as assignee and last editor on the next view."""
        assign(assessment, lead, contributor)
        rate(assessment, contributor, "R1", 3)
        client = client_for(lead)
        before = text(client.get(response_url(assessment)))
        assert "Assigned to Connor Contributor" in before
        change_in_admin(
            signed_in(administrator),
            reverse("admin:portal_user_change", args=[contributor.pk]),
            "user_form",
            full_name="Connie Contributor-Smith",
        )
        after = text(client.get(response_url(assessment)))
        assert "Assigned to Connie Contributor-Smith" in after
        assert "by Connie Contributor-Smith" in after
        assert "Connor" not in after


class TestCsrfOnACachedRequirementPage:
    def test_each_view_of_a_cached_page_has_a_fresh_token(self, lead, assessment):
        """The form's CSRF token is masked afresh for each view, never the cached placeholder."""
        client = signed_in(lead)
        pages = [client.get(response_url(assessment)) for _ in range(2)]
        first, second = (csrf_token(page) for page in pages)
        assert first != second
        assert not any(sections.CSRF_PLACEHOLDER in page.content.decode() for page in pages)
        assert len(second) == 64  # a masked token, as Django writes one

    def test_a_form_from_a_cached_page_saves(self, lead, assessment):
        """CSRF checks are on, and the token from a page served from the cache is accepted."""
        client = Client(enforce_csrf_checks=True)
        sign_in_with_two_factor(client, lead)
        client.get(response_url(assessment))  # renders and keeps the section
        page = client.get(response_url(assessment))
        data = {
            "rating": assessment.framework.rating_levels.get(value=3).pk,
            "rationale": "The board receives a social work report each quarter.",
            "strengths": "",
            "gaps_and_risks": "",
            "version": "1",
        }
        refused = client.post(response_url(assessment), {**data, "csrfmiddlewaretoken": "x" * 64})
        assert refused.status_code == 403
        saved = client.post(response_url(assessment), {**data, "csrfmiddlewaretoken": csrf_token(page)})
        assert saved.status_code == 302
        assert saved["Location"] == overview_url(assessment)
        assert response_for(assessment).rationale == data["rationale"]

    def test_the_token_in_a_section_cached_for_one_person_is_the_next_persons_own(
        self, lead, contributor, assessment, trust
    ):
        """A section cached from one person's view carries the next person's own, working token."""
        people.change_role(membership=membership(contributor, trust), role=TrustRole.LEAD, changed_by=lead)
        first = Client(enforce_csrf_checks=True)
        sign_in_with_two_factor(first, lead)
        first.get(response_url(assessment))
        second = Client(enforce_csrf_checks=True)
        sign_in_with_two_factor(second, contributor)
        with CaptureQueriesContext(connection) as queries:
            page = second.get(response_url(assessment))
        assert not rendered(queries, "requirement")  # the section came from the cache
        saved = second.post(
            response_url(assessment),
            {
                "rating": "",
                "rationale": "",
                "strengths": "Supervisors are trained.",
                "gaps_and_risks": "",
                "version": "1",
                "csrfmiddlewaretoken": csrf_token(page),
            },
        )
        assert saved.status_code == 302
        assert response_for(assessment).strengths == "Supervisors are trained."


# ---- the cache is used --------------------------------------------------------------------------------


# A table only rendering the section reads: the page's own queries (the person, the assessment and
# the cache key) never touch it.
RENDER_ONLY = {"overview": '"assessments_indicatorvalue"', "requirement": '"assessments_responseevidence"'}


def rendered(queries, page: str) -> bool:
    return any(RENDER_ONLY[page] in query["sql"] for query in queries.captured_queries)


@pytest.mark.parametrize("page", PAGES)
def test_a_second_view_with_nothing_changed_is_served_from_the_cache(client_for, lead, contributor, assessment, page):
    """The second view renders nothing, runs fewer queries and shows the very same section."""
    assign(assessment, lead, contributor)
    add_action(assessment, lead, "Report to the board quarterly")
    rate(assessment, lead, "R1", 3)
    client = client_for(lead)
    with CaptureQueriesContext(connection) as first:
        miss = client.get(PAGES[page](assessment))
    with CaptureQueriesContext(connection) as second:
        hit = client.get(PAGES[page](assessment))
    assert rendered(first, page)
    assert not rendered(second, page)
    assert len(second.captured_queries) < len(first.captured_queries)
    assert main(hit) == main(miss)
    assert "Connor Contributor" in main(hit)


@pytest.mark.parametrize("page", PAGES)
def test_a_change_makes_the_next_view_render_afresh(client_for, lead, assessment, page):
    """After a change the section is rendered again (its key moved on), then comes from the cache once more."""
    client = client_for(lead)
    client.get(PAGES[page](assessment))
    with CaptureQueriesContext(connection) as hit:
        client.get(PAGES[page](assessment))
    add_action(assessment, lead, "Report to the board quarterly")
    with CaptureQueriesContext(connection) as miss:
        client.get(PAGES[page](assessment))
    with CaptureQueriesContext(connection) as hit_again:
        client.get(PAGES[page](assessment))
    assert [rendered(hit, page), rendered(miss, page), rendered(hit_again, page)] == [False, True, False]
    assert len(hit_again.captured_queries) == len(hit.captured_queries) < len(miss.captured_queries)


# ---- roles never leak -----------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["lead", "executive"])
def test_lead_and_executive_each_get_their_own_overview(client_for, lead, executive, assessment, first):
    """Whichever of them fills the cache, only the lead gets the submit button and the cover sheet."""
    people_in_order = [lead, executive] if first == "lead" else [executive, lead]
    pages = {person: text(client_for(person).get(overview_url(assessment))) for person in people_in_order}
    assert "Submit for sign-off" in pages[lead]
    assert "Write the cover sheet" in pages[lead]
    assert "Submit for sign-off" not in pages[executive]
    assert "Write the cover sheet" not in pages[executive]


@pytest.mark.parametrize("first", ["lead", "executive"])
def test_only_the_executive_gets_the_sign_off_button(client_for, lead, executive, complete_assessment, first):
    """Whichever of them fills the cache, only the executive gets the sign-off button."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    people_in_order = [lead, executive] if first == "lead" else [executive, lead]
    pages = {person: main(client_for(person).get(overview_url(complete_assessment))) for person in people_in_order}
    assert reverse("assessment-sign-off", args=[complete_assessment.pk]) in pages[executive]
    assert reverse("assessment-sign-off", args=[complete_assessment.pk]) not in pages[lead]


@pytest.mark.parametrize("first", ["lead", "executive"])
def test_lead_and_executive_each_get_their_own_requirement_page(client_for, lead, executive, assessment, first):
    """The lead gets the form and the assign link; the executive the read-only answer."""
    people_in_order = [lead, executive] if first == "lead" else [executive, lead]
    pages = {person: main(client_for(person).get(response_url(assessment))) for person in people_in_order}
    assign_link = reverse("response-assign", args=[assessment.pk, "R1"])
    assert 'name="rationale"' in pages[lead]
    assert assign_link in pages[lead]
    assert 'name="rationale"' not in pages[executive]
    assert assign_link not in pages[executive]
    assert "Not rated yet" in pages[executive]


@pytest.mark.parametrize("first", ["assigned", "unassigned"])
def test_only_the_assigned_contributor_gets_the_form(client_for, lead, contributor, assessment, trust, first):
    """Whichever of two contributors fills the cache, only the assigned one gets the form."""
    other = TrustMembershipFactory(trust=trust, role=TrustRole.CONTRIBUTOR).user
    assign(assessment, lead, contributor)
    people_in_order = [contributor, other] if first == "assigned" else [other, contributor]
    pages = {person: main(client_for(person).get(response_url(assessment))) for person in people_in_order}
    assert 'name="rationale"' in pages[contributor]
    assert 'name="rationale"' not in pages[other]


# ---- changes committed out of order --------------------------------------------------------------------
# Row ids are handed out when a row is written, not when it commits. A change whose trail row is
# written before another's but committed after it must still show (each trail is read as its count
# and its latest id). (Changes to one assessment, and an evidence library's new versions, are serialised by
# row locks; a trust's ODS record and two trusts' approvals are not.)


@contextlib.contextmanager
def committed_last(change):
    """Make ``change`` in a transaction on another connection, and commit it only when the block ends."""
    written, commit = threading.Event(), threading.Event()
    failures = []

    def run():
        try:
            with transaction.atomic():
                change()
                written.set()
                if not commit.wait(30):
                    raise TimeoutError("the change was never let commit")
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            written.set()
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert written.wait(30)
        assert not failures, failures
        yield
    finally:
        commit.set()
        thread.join(30)
    assert not failures, failures


@pytest.mark.django_db(transaction=True)
def test_an_ods_import_committed_after_a_later_platform_event_still_shows(
    client_for, lead, contributor, assessment, trust
):
    """A rename whose audit row is written before someone's new recovery codes' but commits after them."""
    client = client_for(lead)

    def rename():
        ods.import_ods(rows=[{"ods_code": trust.ods_code, "name": "Fenland Mental Health NHS Trust"}])

    with committed_last(rename):
        two_factor.create_recovery_codes(contributor, actor=contributor)  # the platform's trail, committed at once
        assert trust.name in main(client.get(overview_url(assessment)))
    assert Trust.objects.get(pk=trust.pk).name == "Fenland Mental Health NHS Trust"
    assert "Fenland Mental Health NHS Trust" in main(client.get(overview_url(assessment)))


@pytest.mark.django_db(transaction=True)
def test_two_approvals_elsewhere_committed_out_of_order_both_reach_the_peer_panel(
    client_for, lead, icb, neighbour_trust, assessment, monkeypatch
):
    """Two peers approved at the same moment: the one numbered first but committed last must count too."""
    # No board report PDFs: rendering them on commit is beside the point here.
    monkeypatch.setattr(
        services, "render_board_report", type("Unqueued", (), {"enqueue": staticmethod(lambda pk: None)})
    )
    peers = [neighbour_trust]
    for n in range(4):
        peer = TrustFactory(ods_code=f"RP{n}", name=f"Peer {n} NHS Trust", region=icb.region)
        TrustICBMembershipFactory(trust=peer, icb=icb)
        peers.append(peer)
    for peer, value in zip(peers[:3], [4, 4, 1], strict=True):
        sign_off(*submitted(peer, assessment.cycle, value))
    late, early = submitted(peers[3], assessment.cycle, 1), submitted(peers[4], assessment.cycle, 1)
    client = client_for(lead)

    def r1_medians() -> str:
        return peer_panel(client.get(overview_url(assessment))).split("R1 ", 1)[1].split(" R2 ", 1)[0]

    with committed_last(lambda: sign_off(*late)):
        sign_off(*early)
        assert "2.5 – between" in r1_medians()  # 4, 4, 1 and 1
    assert r1_medians().count("1 – Not met") == 2  # 4, 4, 1, 1 and 1: in the ICB and in England


def test_an_administrator_deleting_their_own_account_does_not_bring_back_an_old_section(
    client_for, lead, contributor, administrator, assessment
):
    """Django's admin log loses a person's rows when they are deleted; the platform's trail does not."""
    assign(assessment, lead, contributor)
    client = client_for(lead)
    assert "Assigned to Connor Contributor" in task(client.get(overview_url(assessment)), "R1")
    admin_client = signed_in(administrator)
    change_in_admin(
        admin_client,
        reverse("admin:portal_user_change", args=[contributor.pk]),
        "user_form",
        full_name="Connie Renamed",
    )
    assert "Assigned to Connie Renamed" in task(client.get(overview_url(assessment)), "R1")
    deleted = admin_client.post(reverse("admin:portal_user_delete", args=[administrator.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert not User.objects.filter(pk=administrator.pk).exists()
    assert "Assigned to Connie Renamed" in task(client.get(overview_url(assessment)), "R1")


def test_changes_in_the_admin_go_in_the_platform_audit_trail_and_views_do_not(administrator, contributor):
    """Each add, change or deletion in /admin/ is one platform audit entry, by whom and where; reading is none."""
    from portal.admin_site import ADMIN_CHANGE
    from portal.models import AuditEvent

    admin_client = signed_in(administrator)
    url = reverse("admin:portal_user_change", args=[contributor.pk])
    assert admin_client.get(url).status_code == 200
    assert not AuditEvent.objects.filter(action=ADMIN_CHANGE).exists()
    change_in_admin(admin_client, url, "user_form", full_name="Connie Renamed")
    entry = AuditEvent.objects.get(action=ADMIN_CHANGE)
    assert (entry.trust, entry.actor) == (None, administrator)
    assert entry.summary == f"Changed in the admin by {administrator.email}: {url}"


def test_a_shared_backend_for_the_section_caches_fails_the_system_check(settings):
    """Sections must stay in each process: a shared cache would outlive the code that rendered them."""
    from django.core import checks

    assert not [e for e in checks.run_checks(tags=[checks.Tags.caches]) if e.id == "assessments.E001"]
    settings.CACHES = {
        **settings.CACHES,
        "sections": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"},
    }
    errors = [e for e in checks.run_checks(tags=[checks.Tags.caches]) if e.id == "assessments.E001"]
    assert [e.msg for e in errors] == [
        'CACHES["sections"] must be django.core.cache.backends.locmem.LocMemCache, each process\'s own memory.'
    ]
