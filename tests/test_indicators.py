"""Workforce figures: entry with NHS.UK validation, derived rates, implausible-rate warnings, read-only views."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import services
from assessments.models import IndicatorValue


def workforce_url(assessment):
    return reverse("assessment-workforce", args=[assessment.pk])


def stored(assessment, code):
    value = IndicatorValue.objects.filter(assessment=assessment, indicator__code=code).first()
    return (value.numerator, value.denominator) if value else None


def save_figures(assessment, user, **figures):
    """figures: code=(numerator, denominator)."""
    indicators = {i.code: i for i in assessment.framework.indicators.all()}
    services.save_indicator_values(
        assessment=assessment,
        values={
            indicators[code].pk: tuple(None if v is None else Decimal(v) for v in pair)
            for code, pair in figures.items()
        },
        edited_by=user,
    )


def approve(assessment, lead, executive):
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I approve this self-assessment.",
    )


class TestEntry:
    def test_form_labels_inputs_with_the_indicator_labels_and_hints(self, client_for, lead, assessment):
        """Each input is labelled with its numerator or denominator label; the hint gives definition and source."""
        page = client_for(lead).get(workforce_url(assessment))
        assert page.status_code == 200
        content = page.content.decode()
        assert '<legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">Vacancy rate</legend>' in content
        assert 'for="id_vacancy_rate-numerator">Vacant funded social work posts (WTE)</label>' in content
        assert 'for="id_vacancy_rate-denominator">Funded social work establishment (WTE)</label>' in content
        assert "Data source: Finance establishment report reconciled with the Electronic Staff Record (ESR)" in content
        assert 'name="headcount-denominator"' not in content  # a plain count has no denominator

    def test_lead_saves_figures_and_sees_the_derived_rate(self, client_for, lead, assessment):
        """Figures are stored and the rate is shown to one decimal place."""
        client = client_for(lead)
        page = client.post(
            workforce_url(assessment),
            {
                "headcount-numerator": "52",
                "wte-numerator": "48.75",
                "vacancy_rate-numerator": "6",
                "vacancy_rate-denominator": "48",
            },
        )
        assert page.status_code == 302
        assert stored(assessment, "headcount") == (Decimal("52"), None)
        assert stored(assessment, "wte") == (Decimal("48.75"), None)
        assert stored(assessment, "vacancy_rate") == (Decimal("6"), Decimal("48"))
        content = client.get(page["Location"]).content.decode()
        assert "Workforce figures saved" in content
        assert "12.5%" in content
        assert "48.75" in content

    def test_any_contributor_can_enter_figures(self, client_for, contributor, assessment):
        """Figures are not tied to an assigned requirement: every contributor can enter them."""
        page = client_for(contributor).post(workforce_url(assessment), {"amhps-numerator": "9"})
        assert page.status_code == 302
        assert stored(assessment, "amhps") == (Decimal("9"), None)

    def test_clearing_a_figure_removes_it(self, client_for, lead, assessment):
        """A blank input clears what was saved."""
        save_figures(assessment, lead, amhps=("9", None))
        client_for(lead).post(workforce_url(assessment), {"amhps-numerator": ""})
        assert stored(assessment, "amhps") == (None, None)


class TestValidation:
    def post(self, client_for, lead, assessment, data):
        page = client_for(lead).post(workforce_url(assessment), data)
        assert page.status_code == 200
        assert not IndicatorValue.objects.filter(assessment=assessment, numerator__isnull=False).exists()
        return page.content.decode()

    def test_counts_of_people_are_whole_numbers(self, client_for, lead, assessment):
        """A headcount with decimals is refused, naming the figure."""
        content = self.post(client_for, lead, assessment, {"headcount-numerator": "8.5"})
        assert "Enter social workers in post (headcount) as a whole number" in content

    def test_wte_allows_two_decimal_places(self, client_for, lead, assessment):
        """A whole-time equivalent may have two decimal places but not three."""
        content = self.post(client_for, lead, assessment, {"wte-numerator": "12.755"})
        assert "Enter social workers in post (WTE) to no more than 2 decimal places" in content

    def test_figures_cannot_be_negative(self, client_for, lead, assessment):
        """Negative figures are refused."""
        content = self.post(client_for, lead, assessment, {"amhps-numerator": "-2"})
        assert "Warranted AMHPs on a rota (headcount) cannot be negative" in content

    def test_figures_must_be_numbers(self, client_for, lead, assessment):
        """Words are refused with an example of what to type."""
        content = self.post(client_for, lead, assessment, {"amhps-numerator": "nine"})
        assert "Enter warranted AMHPs on a rota (headcount) as a number, like 12" in content

    @pytest.mark.parametrize("typed", ["123456789", "10000000", "Infinity", "NaN", "1e400", "sNaN"])
    def test_huge_and_non_finite_numbers_are_refused_clearly(self, client_for, lead, assessment, typed):
        """Numbers too big for the figure, or not numbers at all to a person, get a message, not a server error."""
        content = self.post(client_for, lead, assessment, {"amhps-numerator": typed})
        assert "There is a problem" in content

    def test_numerator_cannot_be_above_denominator(self, client_for, lead, assessment):
        """'Vacant posts (8) cannot be more than the establishment (6)', on the numerator."""
        content = self.post(
            client_for, lead, assessment, {"vacancy_rate-numerator": "8", "vacancy_rate-denominator": "6"}
        )
        assert (
            "Vacant funded social work posts (WTE) (8) cannot be more than funded social work establishment (WTE) (6)"
            in content
        )
        assert 'href="#id_vacancy_rate-numerator"' in content

    def test_a_numerator_needs_its_denominator(self, client_for, lead, assessment):
        """A rate needs both numbers."""
        content = self.post(client_for, lead, assessment, {"vacancy_rate-numerator": "4"})
        assert "Enter funded social work establishment (WTE)" in content

    def test_a_denominator_needs_its_numerator(self, client_for, lead, assessment):
        """…and the other way round."""
        content = self.post(client_for, lead, assessment, {"turnover_rate-denominator": "50"})
        assert "Enter social workers who left the trust in the 12 months (headcount)" in content

    def test_denominator_cannot_be_zero(self, client_for, lead, assessment):
        """A rate out of nothing is refused."""
        content = self.post(
            client_for, lead, assessment, {"supervision_rate-numerator": "0", "supervision_rate-denominator": "0"}
        )
        assert "Social workers in post who should have received supervision must be more than 0" in content

    def test_an_error_keeps_every_figure_typed(self, client_for, lead, assessment):
        """One bad figure leaves the others in the form, and nothing is saved."""
        content = self.post(
            client_for,
            lead,
            assessment,
            {"headcount-numerator": "52", "wte-numerator": "48.5", "amhps-numerator": "nine", "asye-numerator": "3"},
        )
        assert 'name="headcount-numerator" value="52"' in content
        assert 'name="wte-numerator" value="48.5"' in content
        assert 'name="amhps-numerator" value="nine"' in content
        assert 'name="asye-numerator" value="3"' in content


class TestImplausibleRates:
    def test_implausible_rate_is_saved_with_a_warning(self, client_for, lead, assessment):
        """A vacancy rate over 40% is not an error: it is saved and the page asks to check it."""
        client = client_for(lead)
        page = client.post(
            workforce_url(assessment), {"vacancy_rate-numerator": "45", "vacancy_rate-denominator": "100"}
        )
        assert page.status_code == 302
        assert stored(assessment, "vacancy_rate") == (Decimal("45"), Decimal("100"))
        content = client.get(page["Location"]).content.decode()
        assert "Vacancy rate is 45.0% — check the figures" in content
        assert "nhsuk-card--warning" in content

    def test_plausible_rate_has_no_warning(self, client_for, lead, assessment):
        """A rate at or below the indicator's plausible maximum brings no warning."""
        save_figures(assessment, lead, vacancy_rate=("40", "100"))
        content = client_for(lead).get(workforce_url(assessment)).content.decode()
        assert "check the figures" not in content
        assert "40.0%" in content


class TestReadOnly:
    def test_executive_reads_figures_without_a_form(self, client_for, lead, executive, assessment):
        """The executive sponsor sees the figures and rates but cannot change them."""
        save_figures(assessment, lead, vacancy_rate=("6", "48"))
        client = client_for(executive)
        page = client.get(workforce_url(assessment))
        assert page.status_code == 200
        assert "12.5%" in page.content.decode()
        assert 'name="vacancy_rate-numerator"' not in page.content.decode()
        assert client.post(workforce_url(assessment), {"amhps-numerator": "9"}).status_code == 403

    def test_submitted_assessment_refuses_changes(self, client_for, lead, complete_assessment):
        """Once submitted, the figures are read-only and a POST says why, with 403."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        client = client_for(lead)
        assert 'name="amhps-numerator"' not in client.get(workforce_url(complete_assessment)).content.decode()
        page = client.post(workforce_url(complete_assessment), {"amhps-numerator": "9"})
        assert page.status_code == 403
        assert "This assessment cannot be changed" in page.content.decode()
        assert stored(complete_assessment, "amhps") is None

    def test_ics_lead_does_not_see_small_special_category_counts(
        self, client_for, lead, executive, ics_lead, complete_assessment
    ):
        """Outside the trust, ethnicity counts from 1 to 7 are suppressed, with their rate."""
        save_figures(complete_assessment, lead, ethnic_minority_share=("5", "50"), vacancy_rate=("6", "48"))
        approve(complete_assessment, lead, executive)
        page = client_for(ics_lead).get(workforce_url(complete_assessment), follow=True)
        assert page.redirect_chain[-1][0] == reverse("approval-detail", args=[complete_assessment.pk, 1])
        content = page.content.decode()
        row = content.split("Social workers from ethnic minority groups</th>")[1].split("</tr>")[0]
        assert "Suppressed (fewer than 8)" in row
        assert "10.0%" not in content
        assert "12.5%" in content  # figures that are not special category are shown

    def test_board_reader_inside_the_trust_sees_every_figure(
        self, client_for, lead, executive, board_reader, complete_assessment
    ):
        """Suppression is for people outside the trust."""
        save_figures(complete_assessment, lead, ethnic_minority_share=("5", "50"))
        approve(complete_assessment, lead, executive)
        content = client_for(board_reader).get(workforce_url(complete_assessment), follow=True).content.decode()
        assert "Suppressed" not in content
        assert "10.0%" in content

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead"])
    def test_drafts_are_hidden_from_board_readers_and_ics_leads(self, client_for, assessment, person, request):
        """Before approval the figures are not visible to them: 404."""
        assert client_for(request.getfixturevalue(person)).get(workforce_url(assessment)).status_code == 404

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead cannot see or post the figures."""
        assert client_for(outsider).get(workforce_url(assessment)).status_code == 404
        assert client_for(outsider).post(workforce_url(assessment), {"amhps-numerator": "1"}).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).delete(workforce_url(assessment)).status_code == 405


def test_queries_do_not_grow_with_the_figures(client_for, lead, assessment, django_assert_num_queries):
    """The workforce page costs the same number of queries with one figure or every figure."""
    client = client_for(lead)
    save_figures(assessment, lead, headcount=("52", None))
    with CaptureQueriesContext(connection) as few:
        client.get(workforce_url(assessment))
    save_figures(
        assessment,
        lead,
        wte=("48.5", None),
        vacancy_rate=("6", "48"),
        turnover_rate=("5", "50"),
        amhps=("9", None),
        ethnic_minority_share=("12", "52"),
    )
    with django_assert_num_queries(len(few)):
        client.get(workforce_url(assessment))
