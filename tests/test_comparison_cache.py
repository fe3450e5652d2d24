"""What the comparison caches: never stale, never another person's, in the cache every app server shares
(and a copy in each process).

The comparison page's sections are rendered once per ICB, data and view, and the peer context
reads other trusts' approved ratings from the cache. Each key names the data it was made from,
so every change below must show at once, without anything being cleared.
"""

import datetime
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import comparison as selectors
from assessments.models import Assessment, AssessmentState, Cycle
from assessments.views import comparison as views
from portal.models import Trust, TrustICBMembership
from tests.factories import ICBMembershipFactory, TrustFactory, TrustICBMembershipFactory, UserFactory
from tests.test_comparison import assess, freeze, reopen
from tests.test_comparison_views import compare_url, heatmap_trust_order


@pytest.fixture
def framework(published_framework):
    return published_framework


@pytest.fixture
def third_trust(icb):
    trust = TrustFactory(ods_code="RY9", name="Third Partnership NHS Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


@pytest.fixture
def approved(trust, cycle, framework):
    return assess(trust, cycle, [1, 2, 3, 4, 1, 2, 3, 4], figures={"vacancy_rate": (10, 40)})


def sections(content: str) -> str:
    """The page below the cycle chooser (from the summary card to the footer): what is cached."""
    return content.split('<h2 class="nhsuk-card__heading">At a glance</h2>', 1)[1].split(
        '<footer class="nhsuk-footer"'
    )[0]


def snapshot_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if '."snapshot"' in q["sql"]]


def test_the_cache_is_one_every_app_server_shares():
    """Not a cache in each process's memory: a database table every app server reads."""
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


class TestComparisonPage:
    def test_the_second_view_reads_no_snapshot_and_shows_the_same(self, client_for, ics_lead, icb, approved):
        client = client_for(ics_lead)
        with CaptureQueriesContext(connection) as first:
            miss = client.get(compare_url(icb))
        with CaptureQueriesContext(connection) as second:
            hit = client.get(compare_url(icb))
        assert snapshot_queries(first.captured_queries)
        assert snapshot_queries(second.captured_queries) == []
        assert len(second.captured_queries) < len(first.captured_queries)
        assert sections(hit.content.decode()) == sections(miss.content.decode())
        assert hit.context["cycle"] == approved.cycle
        assert "Compare trusts: 2026/27" in hit.content.decode()

    def test_another_process_fills_its_own_copy_from_the_shared_cache(self, client_for, ics_lead, icb, approved):
        """A process without its own copy reads the shared cache, rendering nothing; then it needs neither."""
        from django.core.cache import caches

        client = client_for(ics_lead)
        rendered = client.get(compare_url(icb))
        caches["comparison"].clear()  # as a second app server, which has not shown the page yet
        with CaptureQueriesContext(connection) as from_shared:
            shared = client.get(compare_url(icb))
        with CaptureQueriesContext(connection) as from_own:
            own = client.get(compare_url(icb))
        assert snapshot_queries(from_shared.captured_queries) == []
        assert any("portal_cache" in q["sql"] for q in from_shared.captured_queries)
        assert not any("portal_cache" in q["sql"] for q in from_own.captured_queries)
        assert (
            sections(own.content.decode()) == sections(shared.content.decode()) == sections(rendered.content.decode())
        )

    def test_each_ics_lead_sees_their_own_name_and_token_around_the_same_sections(
        self, client_for, ics_lead, icb, approved
    ):
        other = ICBMembershipFactory(icb=icb, user=UserFactory(full_name="Olu Other ICS Lead")).user
        first = client_for(ics_lead).get(compare_url(icb)).content.decode()
        second = client_for(other).get(compare_url(icb)).content.decode()  # the same client, signed in as the other
        assert ics_lead.full_name in first
        assert ics_lead.full_name not in second
        assert other.full_name in second
        assert other.full_name not in first
        assert sections(first) == sections(second)
        assert "csrfmiddlewaretoken" not in sections(second)

    def test_other_icbs_chooser_is_each_persons_own(self, client_for, ics_lead, icb, other_icb, approved):
        ICBMembershipFactory(icb=other_icb, user=ics_lead)
        mine = client_for(ics_lead).get(compare_url(icb)).content.decode()
        assert "Other systems you lead" in mine
        assert other_icb.name in mine
        colleague = ICBMembershipFactory(icb=icb, user=UserFactory()).user
        theirs = client_for(colleague).get(compare_url(icb)).content.decode()
        assert other_icb.name not in theirs

    def test_a_new_approval_shows_at_once(self, client_for, ics_lead, icb, approved, neighbour_trust):
        client = client_for(ics_lead)
        before = client.get(compare_url(icb)).content.decode()
        assert "1 of 2 trusts" in before
        assess(neighbour_trust, approved.cycle, [4] * 8)
        after = client.get(compare_url(icb)).content.decode()
        assert "All 2 trusts have had their 2026/27 assessment approved." in after

    def test_a_state_change_without_an_approval_shows_at_once(
        self, client_for, ics_lead, icb, approved, neighbour_trust
    ):
        client = client_for(ics_lead)
        draft = assess(neighbour_trust, approved.cycle, [2] * 8, state=AssessmentState.DRAFT)
        assert "Awaiting sign-off" not in client.get(compare_url(icb)).content.decode()
        Assessment.objects.filter(pk=draft.pk).update(state=AssessmentState.AWAITING_SIGN_OFF)
        assert "Awaiting sign-off" in client.get(compare_url(icb)).content.decode()

    def test_reopening_shows_the_revision_being_corrected(self, client_for, ics_lead, icb, approved):
        client = client_for(ics_lead)
        assert "is being corrected" not in client.get(compare_url(icb)).content.decode()
        reopen(approved)
        assert "Revision 2 is being corrected" in client.get(compare_url(icb)).content.decode()

    def test_a_renamed_trust_shows_at_once(self, client_for, ics_lead, icb, approved):
        client = client_for(ics_lead)
        client.get(compare_url(icb))
        Trust.objects.filter(pk=approved.trust_id).update(name="Renamed Mental Health NHS Trust")
        content = client.get(compare_url(icb)).content.decode()
        assert "Renamed Mental Health NHS Trust" in content
        assert approved.trust.name not in content

    def test_a_trust_leaving_the_icb_shows_at_once(self, client_for, ics_lead, icb, approved, neighbour_trust):
        client = client_for(ics_lead)
        assert neighbour_trust.name in client.get(compare_url(icb)).content.decode()
        TrustICBMembership.objects.filter(trust=neighbour_trust, icb=icb).update(
            end_date=approved.cycle.snapshot_date - datetime.timedelta(days=1)
        )
        assert neighbour_trust.name not in client.get(compare_url(icb)).content.decode()

    def test_a_new_deadline_shows_at_once(self, client_for, ics_lead, icb, approved, neighbour_trust):
        client = client_for(ics_lead)
        client.get(compare_url(icb))
        Cycle.objects.filter(pk=approved.cycle_id).update(submission_deadline=datetime.date(2026, 9, 30))
        assert "30 September 2026" in client.get(compare_url(icb)).content.decode()

    def test_an_approval_elsewhere_changes_the_national_median(
        self, client_for, ics_lead, icb, approved, other_trust, framework
    ):
        client = client_for(ics_lead)
        client.get(compare_url(icb))
        with CaptureQueriesContext(connection) as hit:
            client.get(compare_url(icb))
        assert snapshot_queries(hit.captured_queries) == []
        assess(other_trust, approved.cycle, [4] * 8)  # outside the ICB: only the national median reads it
        with CaptureQueriesContext(connection) as after:
            client.get(compare_url(icb))
        assert snapshot_queries(after.captured_queries)

    def test_sorts_and_views_are_kept_apart(self, client_for, ics_lead, icb, approved, neighbour_trust, third_trust):
        assess(neighbour_trust, approved.cycle, {"R1": 4})
        assess(third_trust, approved.cycle, {"R1": 2})
        client = client_for(ics_lead)
        by_name = heatmap_trust_order(client.get(compare_url(icb)).content.decode())
        by_r1 = heatmap_trust_order(client.get(compare_url(icb, sort="R1")).content.decode())
        by_r1_desc = heatmap_trust_order(client.get(compare_url(icb, sort="R1", dir="desc")).content.decode())
        assert by_name == sorted(by_name, key=str.lower)
        assert by_r1 == [approved.trust.name, third_trust.name, neighbour_trust.name]
        assert by_r1_desc == list(reversed(by_r1))
        plain = client.get(compare_url(icb, view="plain")).content.decode()
        assert "app-heatmap--plain" in plain
        assert "app-heatmap--plain" not in client.get(compare_url(icb)).content.decode()

    def test_a_release_that_changes_the_templates_is_a_new_key(self, client_for, ics_lead, icb, approved, monkeypatch):
        client = client_for(ics_lead)
        client.get(compare_url(icb))
        monkeypatch.setattr(views, "_code_version", lambda: "the next release")
        with CaptureQueriesContext(connection) as queries:
            client.get(compare_url(icb))
        assert snapshot_queries(queries.captured_queries)

    def test_a_cycle_asked_for_by_name_and_the_default_are_both_right(
        self, client_for, ics_lead, icb, approved, framework
    ):
        later = Cycle.objects.create(
            label="2027/28", snapshot_date=datetime.date(2027, 3, 31), submission_deadline=datetime.date(2027, 6, 30)
        )
        client = client_for(ics_lead)
        for _ in range(2):  # a miss, then a hit
            default = client.get(compare_url(icb)).content.decode()
            chosen = client.get(compare_url(icb, cycle="2027%2F28")).content.decode()
            assert "<h1>Compare trusts: 2026/27</h1>" in default
            assert "<h1>Compare trusts: 2027/28</h1>" in chosen
            assert re.search(r'<option value="2026/27" selected>', default)
            assert re.search(r'<option value="2027/28" selected>', chosen)
        assert later.label in chosen


class TestPeerContext:
    def test_a_new_approval_in_the_cycle_moves_the_median_at_once(
        self, client_for, lead, icb, trust, neighbour_trust, cycle, framework
    ):
        own = assess(trust, cycle, {"R1": 1}, state=AssessmentState.DRAFT)
        others = []
        for n in range(3):
            other = TrustFactory(name=f"Peer {n} NHS Trust")
            TrustICBMembershipFactory(trust=other, icb=icb)
            others.append(other)
        for other in others[:2]:
            assess(other, cycle, {"R1": 4})
        url = reverse("assessment-overview", args=[own.pk])
        client = client_for(lead)
        assert "appear here once at least 3 trusts" in client.get(url).content.decode()
        assess(others[2], cycle, {"R1": 2})
        panel = client.get(url).content.decode().split('id="peer-context-heading"')[1].split("</section>")[0]
        assert "4 – Fully met" in panel.split("R1 ")[1].split("</tr>")[0]  # 4, 4 and 2

    def test_the_ratings_of_a_cycle_are_read_once(self, trust, neighbour_trust, cycle, framework):
        assess(neighbour_trust, cycle, {"R1": 3})
        first = selectors.cycle_ratings(cycle)
        with CaptureQueriesContext(connection) as queries:
            assert selectors.cycle_ratings(cycle) == first
        assert snapshot_queries(queries.captured_queries) == []
        assert [trust_id for trust_id, _ in first] == [neighbour_trust.pk]

    def test_approvals_version_changes_with_every_approval(self, trust, neighbour_trust, cycle, framework):
        before = selectors.approvals_version()
        approved = assess(trust, cycle, {"R1": 3})
        after_one = selectors.approvals_version()
        assert after_one != before
        reopen(approved)
        freeze(approved)  # revision 2
        assert selectors.approvals_version() not in {before, after_one}
