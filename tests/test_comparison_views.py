"""The comparison page for ICS leads, the peer context on trusts' own pages, and the home page link."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import AssessmentState, Cycle
from tests.factories import ICBMembershipFactory, TrustFactory, TrustICBMembershipFactory
from tests.test_comparison import assess


def compare_url(icb, **params):
    url = reverse("comparison", args=[icb.ods_code])
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def heatmap_html(content: str) -> str:
    return content.split('id="heatmap-caption"')[1].split("</table>")[0]


def heatmap_trust_order(content: str) -> list[str]:
    body = heatmap_html(content).split("<tbody")[1]
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r'app-heatmap__trust" scope="row">\s*(.*?)(?:<br>|</th>)', body, re.S)
    ]


@pytest.fixture
def framework(published_framework):
    return published_framework


@pytest.fixture
def approved(trust, cycle, framework):
    return assess(trust, cycle, [1, 2, 3, 4, 1, 2, 3, 4], figures={"vacancy_rate": (10, 40)})


# ---- who may open it --------------------------------------------------------------------------


class TestAccess:
    def test_ics_lead_sees_their_icbs_trusts_only(
        self, client_for, ics_lead, icb, approved, neighbour_trust, other_trust
    ):
        """The ICS lead sees every trust of their ICB, and none of another ICB."""
        assess(other_trust, approved.cycle, [4] * 8)
        response = client_for(ics_lead).get(compare_url(icb))
        content = response.content.decode()
        assert response.status_code == 200
        assert approved.trust.name in content
        assert neighbour_trust.name in content
        assert other_trust.name not in content

    def test_other_icb_is_not_found(self, client_for, ics_lead, other_icb, other_trust, cycle, framework):
        """An ICB the person does not lead is 404, as if it did not exist."""
        assert client_for(ics_lead).get(compare_url(other_icb)).status_code == 404

    def test_unknown_icb_is_not_found(self, client_for, ics_lead, icb):
        """A code that is no ICB is 404."""
        assert client_for(ics_lead).get(reverse("comparison", args=["XXX"])).status_code == 404

    @pytest.mark.parametrize("who", ["lead", "executive", "board_reader"])
    def test_trust_member_in_the_icb_is_forbidden(self, request, client_for, icb, approved, who):
        """Members of a trust in the ICB, without the ICS role, get 403."""
        user = request.getfixturevalue(who)
        assert client_for(user).get(compare_url(icb)).status_code == 403
        assert client_for(user).get(reverse("comparison-export", args=[icb.ods_code, "csv"])).status_code == 403

    def test_outsider_and_administrator_are_not_found(self, client_for, outsider, administrator, icb, approved):
        """A lead of a trust in another ICB, and the platform administrator, get 404."""
        assert client_for(outsider).get(compare_url(icb)).status_code == 404
        assert client_for(administrator).get(compare_url(icb)).status_code == 404

    def test_anonymous_is_sent_to_sign_in(self, client, icb):
        """Signing in is required."""
        response = client.get(compare_url(icb))
        assert response.status_code == 302
        assert response.url.startswith(reverse("sign-in"))

    def test_wrong_method(self, client_for, ics_lead, icb):
        """The page and the exports only answer GET and HEAD."""
        client = client_for(ics_lead)
        assert client.post(compare_url(icb)).status_code == 405
        assert client.post(reverse("comparison-export", args=[icb.ods_code, "csv"])).status_code == 405

    def test_unknown_cycle_is_a_clear_error(self, client_for, ics_lead, icb, approved):
        """A cycle that does not exist gets the chooser back with an NHS-style error, status 400."""
        response = client_for(ics_lead).get(compare_url(icb, cycle="1999/00"))
        content = response.content.decode()
        assert response.status_code == 400
        assert "Select a cycle from the list" in content
        assert "There is a problem" in content
        assert "heatmap-caption" not in content


# ---- what the page shows -------------------------------------------------------------------------


class TestPage:
    def test_drafts_never_appear(self, client_for, ics_lead, icb, approved, neighbour_trust):
        """A draft's ratings are not on the page: its row is marked 'Not approved' and links nowhere."""
        draft = assess(neighbour_trust, approved.cycle, [4] * 8, state=AssessmentState.DRAFT)
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        heatmap = heatmap_html(content)
        neighbour_row = heatmap.split(neighbour_trust.name)[1].split("</tr>")[0]
        assert "Not approved" in neighbour_row
        assert "Fully met" not in neighbour_row
        assert f"/assessments/{draft.pk}/" not in content
        assert "Median of 1 approved" in heatmap

    def test_cells_show_label_and_number_and_link_to_the_approved_revision(self, client_for, ics_lead, icb, approved):
        """Every rating reads as number and label, and drills down to the revision and its board report."""
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        heatmap = heatmap_html(content)
        detail = reverse("approval-detail", args=[approved.pk, 1])
        assert f'href="{detail}#requirement-R3"' in heatmap
        assert '<span class="app-heat__value">3</span><span class="nhsuk-u-visually-hidden"> – </span>' in heatmap
        assert '<span class="app-heat__label">Largely met</span>' in heatmap
        assert reverse("approval-report-pdf", args=[approved.pk, 1]) in heatmap

    def test_summary_answers_the_three_questions(self, client_for, ics_lead, icb, approved, neighbour_trust):
        """At the top: the weakest requirement, who is late, and movement since the last cycle."""
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        summary = content.split('id="summary"')[1].split("</ul>")[0]
        assert (
            "Lowest-rated requirements across the system: R1 Board-level leadership for social work and "
            "R5 Career progression and role clarity (each median 1 – Not met)."
        ) in summary
        assert "1 of 2 trusts has not had a 2026/27 assessment approved" in summary
        assert "no earlier approved cycle" in summary

    def test_sorting_by_a_requirement(self, client_for, ics_lead, icb, approved, neighbour_trust, third_trust):
        """Sorting by R3 puts the lowest rating first, marks the header with aria-sort, never ranks."""
        assess(neighbour_trust, approved.cycle, {"R3": 1})
        assess(third_trust, approved.cycle, {"R3": 4})
        client = client_for(ics_lead)
        content = client.get(compare_url(icb, cycle="2026/27", sort="R3", dir="asc")).content.decode()
        assert heatmap_trust_order(content) == [neighbour_trust.name, approved.trust.name, third_trust.name]
        assert re.search(
            r'aria-sort="ascending">\s*<a class="nhsuk-link app-sort" href="[^"]*sort=R3&amp;dir=desc', content
        )
        content = client.get(compare_url(icb, cycle="2026/27", sort="R3", dir="desc")).content.decode()
        assert heatmap_trust_order(content) == [third_trust.name, approved.trust.name, neighbour_trust.name]
        assert 'aria-sort="descending"' in content
        assert not re.search(r"\b(rank|position|1st|2nd)\b", heatmap_html(content), re.I)

    def test_unknown_sort_falls_back_to_name(self, client_for, ics_lead, icb, approved, neighbour_trust):
        """A sort key that is no column sorts by trust name."""
        content = client_for(ics_lead).get(compare_url(icb, sort="DROP", dir="sideways")).content.decode()
        assert heatmap_trust_order(content) == sorted([approved.trust.name, neighbour_trust.name])

    def test_plain_table_view(self, client_for, ics_lead, icb, approved):
        """The heatmap can be shown without colour, the same table with every rating in words."""
        content = client_for(ics_lead).get(compare_url(icb, view="plain")).content.decode()
        assert "app-heatmap--plain" in content
        assert "Show the heatmap in colour" in content

    def test_charts_are_svg_with_text_alternatives_and_tables(self, client_for, ics_lead, icb, approved):
        """Distribution and trend charts are inline SVG with a title and description, each with a table."""
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        assert content.count('<svg class="app-chart') == 1 + 8
        assert content.count("<desc id=") == 9
        assert 'id="distribution-caption"' in content
        assert 'id="trends-caption"' in content
        assert "style=" not in content.split("<main")[1]

    def test_workforce_figures_suppress_small_special_category_counts(
        self, client_for, ics_lead, icb, trust, cycle, framework
    ):
        """An ethnicity count of 5 shows as '*' with the footnote, never the number or its rate."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (5, 60), "vacancy_rate": (6, 60)})
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        workforce = content.split('id="workforce-caption"')[1].split("</table>")[0]
        ethnicity = workforce.split("Social workers from ethnic minority groups")[1].split("</tr>")[0]
        assert "*" in ethnicity
        assert "8.3%" not in ethnicity
        assert "5 of 60" not in ethnicity
        assert "10%" in workforce  # the vacancy rate is not special category
        assert "* fewer than 8, not shown" in content

    def test_complement_of_a_special_category_count_is_suppressed_with_an_accurate_footnote(
        self, client_for, ics_lead, icb, trust, cycle, framework
    ):
        """45 of 50 from ethnic minorities shows as '*' (5 are not), and the footnote says why."""
        assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (45, 50)})
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        workforce = content.split('id="workforce-caption"')[1].split("</table>")[0]
        ethnicity = workforce.split("Social workers from ethnic minority groups")[1].split("</tr>")[0]
        assert "90%" not in ethnicity
        assert "45 of 50" not in ethnicity
        assert "*" in ethnicity
        note = content.split('id="suppression-note"')[1].split("</p>")[0]
        assert "the rest of the group" in note

    def test_national_median_too_few_outside_the_icb_is_not_shown(
        self, client_for, ics_lead, icb, trust, other_trust, cycle, framework
    ):
        """With one approved trust in another ICB, the national median row says 'Too few to show', with a note."""
        assess(trust, cycle, [2] * 8)
        assess(other_trust, cycle, [4] * 8)
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        national = heatmap_html(content).split("National median")[1].split("</tr>")[0]
        assert "Too few to show" in national
        assert "3 – Largely met" not in national  # the median of 2 and 4
        assert "Fully met" not in national
        assert 'id="national-median-note"' in content

    def test_later_cycle_is_summarised_with_a_link(
        self, client_for, ics_lead, icb, trust, neighbour_trust, cycle, previous_cycle, framework
    ):
        """Looking at an earlier cycle, the summary says how the newest one stands and links to it."""
        assess(trust, previous_cycle, [3] * 8)
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        assert "Compare trusts: 2025/26" in content
        assert "2026/27: 0 of 2 trusts approved" in content
        assert "?cycle=2026%2F27" in content

    def test_icb_chooser_lists_the_other_icbs_the_person_leads(self, client_for, ics_lead, icb, other_icb, approved):
        """Someone leading two ICBs can switch between them."""
        ICBMembershipFactory(user=ics_lead, icb=other_icb)
        content = client_for(ics_lead).get(compare_url(icb)).content.decode()
        assert reverse("comparison", args=[other_icb.ods_code]) in content


# ---- a fixed number of queries ---------------------------------------------------------------------


def add_trusts(icb, cycles, count, start):
    for n in range(start, start + count):
        trust = TrustFactory(name=f"Query Count Trust {n:02d}")
        TrustICBMembershipFactory(trust=trust, icb=icb, start_date=datetime.date(2000, 1, 1))
        for cycle in cycles:
            state = AssessmentState.APPROVED if n % 3 else AssessmentState.DRAFT
            assess(
                trust,
                cycle,
                [1 + (n % 4)] * 8,
                figures={"vacancy_rate": (n, 50), "ethnic_minority_share": (n % 9, 40)},
                state=state,
            )


def add_cycles(count, start):
    return [
        Cycle.objects.create(
            label=f"{2010 + n}/{(11 + n) % 100:02d}",
            snapshot_date=datetime.date(2010 + n, 3, 31),
            submission_deadline=datetime.date(2010 + n, 6, 30),
        )
        for n in range(start, start + count)
    ]


class TestQueryCounts:
    @pytest.mark.parametrize("path", ["page", "csv", "xlsx"])
    def test_queries_do_not_grow_with_trusts(
        self, client_for, ics_lead, icb, cycle, framework, django_assert_num_queries, path
    ):
        """Two trusts or six: the page and the exports run the same number of queries."""
        url = compare_url(icb) if path == "page" else reverse("comparison-export", args=[icb.ods_code, path])
        client = client_for(ics_lead)
        add_trusts(icb, [cycle], 2, 0)
        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200
        add_trusts(icb, [cycle], 4, 2)
        with django_assert_num_queries(len(few)):
            response = client.get(url)
        if path == "page":
            assert "Query Count Trust 05" in response.content.decode()

    @pytest.mark.parametrize("path", ["page", "csv", "xlsx"])
    def test_queries_do_not_grow_with_cycles(
        self, client_for, ics_lead, icb, framework, django_assert_num_queries, path
    ):
        """One cycle or three: the page (with its trends) and the exports run the same number of queries."""
        first = add_cycles(1, 0)
        add_trusts(icb, first, 3, 0)
        latest = add_cycles(1, 5)
        add_trusts(icb, latest, 3, 10)
        url = compare_url(icb, cycle=latest[0].label.replace("/", "%2F"))
        if path != "page":
            url = (
                reverse("comparison-export", args=[icb.ods_code, path])
                + "?cycle="
                + latest[0].label.replace("/", "%2F")
            )
        client = client_for(ics_lead)
        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200
        middle = add_cycles(2, 2)
        add_trusts(icb, middle, 3, 20)
        with django_assert_num_queries(len(few)):
            response = client.get(url)
        if path == "page":
            assert response.content.decode().count('class="app-chart__mark') > 0
            assert f"{middle[0].label}" in response.content.decode()


# ---- peer context on the trust's own pages --------------------------------------------------------


@pytest.fixture
def peers(icb, neighbour_trust, third_trust, other_trust, cycle, framework):
    """Four other approved trusts in the cycle: three in the ICB (R1 at 3, 4 and 2), one outside it (4)."""
    fourth = TrustFactory(name="Fourth Care NHS Foundation Trust")
    TrustICBMembershipFactory(trust=fourth, icb=icb)
    assess(neighbour_trust, cycle, {"R1": 3})
    assess(third_trust, cycle, {"R1": 4})
    assess(fourth, cycle, {"R1": 2})
    assess(other_trust, cycle, {"R1": 4})
    return fourth


@pytest.fixture
def third_trust(icb):
    trust = TrustFactory(ods_code="RY9", name="Third Partnership NHS Trust", region=icb.region)
    TrustICBMembershipFactory(trust=trust, icb=icb)
    return trust


class TestPeerContextPages:
    def test_lead_sees_own_rating_against_medians_on_the_overview(
        self, client_for, lead, icb, trust, neighbour_trust, third_trust, other_trust, cycle, framework, peers
    ):
        """The overview shows the live rating beside the ICB and national medians, naming no other trust."""
        own = assess(trust, cycle, {"R1": 1}, state=AssessmentState.DRAFT)
        content = client_for(lead).get(reverse("assessment-overview", args=[own.pk])).content.decode()
        panel = content.split('id="peer-context-heading"')[1].split("</section>")[0]
        r1 = panel.split("R1 ")[1].split("</tr>")[0]
        assert "1 – Not met" in r1
        assert "3 – Largely met" in r1  # the ICB: 3, 4 and 2
        assert "3.5 – between Largely met and Fully met" in r1  # England: 3, 4, 2 and 4
        for name in (neighbour_trust.name, third_trust.name, other_trust.name, peers.name):
            assert name not in panel

    def test_peer_context_on_approved_revision_for_members_only(
        self, client_for, lead, ics_lead, icb, trust, cycle, framework, peers
    ):
        """The trust's own people see peer context on an approved revision; the ICS lead does not."""
        own = assess(trust, cycle, {"R1": 2})
        url = reverse("approval-detail", args=[own.pk, 1])
        assert "How your ratings compare" in client_for(lead).get(url).content.decode()
        response = client_for(ics_lead).get(url)
        assert response.status_code == 200
        assert "How your ratings compare" not in response.content.decode()

    def test_peer_panel_gives_no_group_size_and_leaves_own_rating_out(
        self, client_for, lead, icb, trust, cycle, framework, peers
    ):
        """The panel gives no count of trusts behind a median, and says the trust's own rating is not in it."""
        own = assess(trust, cycle, {"R1": 1})
        content = client_for(lead).get(reverse("approval-detail", args=[own.pk, 1])).content.decode()
        panel = content.split('id="peer-context-heading"')[1].split("</section>")[0]
        assert re.search(r"of \d+ trusts", panel) is None
        assert "yours included" not in panel
        assert "3 – Largely met" in panel.split("R1 ")[1].split("</tr>")[0]  # 3, 4 and 2: not the own 1

    def test_too_few_peers_says_so(self, client_for, lead, trust, cycle, framework):
        """With no other approved assessments, the panel explains that medians will come."""
        own = assess(trust, cycle, {"R1": 2}, state=AssessmentState.DRAFT)
        content = client_for(lead).get(reverse("assessment-overview", args=[own.pk])).content.decode()
        assert "appear here once at least 3 trusts" in content


def test_home_links_the_ics_lead_to_the_comparison(client_for, ics_lead, icb):
    """The ICS lead's ICB card links to the comparison."""
    content = client_for(ics_lead).get(reverse("home")).content.decode()
    assert f'href="{compare_url(icb)}">Compare trusts in {icb.name}</a>' in content
