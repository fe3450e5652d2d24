"""CSV and Excel exports of the comparison, read back, and the analysts' export command."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from assessments.models import AssessmentState
from tests.test_comparison import assess


def export_url(icb, fmt, cycle=None):
    url = reverse("comparison-export", args=[icb.ods_code, fmt])
    return f"{url}?cycle={cycle.replace('/', '%2F')}" if cycle else url


def read_csv(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.fixture
def framework(published_framework):
    return published_framework


@pytest.fixture
def data(icb, trust, neighbour_trust, other_trust, cycle, framework):
    """``trust`` approved with figures (a small ethnicity count); ``neighbour_trust`` a draft rated 4 throughout."""
    approved = assess(
        trust,
        cycle,
        [1, 2, 3, 4, 1, 2, 3, 4],
        figures={"vacancy_rate": (10, 40), "headcount": (120, None), "ethnic_minority_share": (5, 110)},
    )
    draft = assess(neighbour_trust, cycle, [4] * 8, state=AssessmentState.DRAFT)
    assess(other_trust, cycle, [4] * 8)
    return approved, draft


class TestCsv:
    def test_one_row_per_trust_with_approved_ratings_only(
        self, client_for, ics_lead, icb, trust, neighbour_trust, data
    ):
        """Each trust in the ICB is a row; the approved one has its ratings, the draft has none."""
        response = client_for(ics_lead).get(export_url(icb, "csv", "2026/27"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="QUE-2026-27-trust-comparison.csv"'
        rows = {row["Trust ODS code"]: row for row in read_csv(response.content)}
        assert set(rows) == {trust.ods_code, neighbour_trust.ods_code}
        approved = rows[trust.ods_code]
        assert (approved["Status"], approved["Revision"], approved["Framework version"]) == ("Approved", "1", "2026.1")
        assert [approved[f"R{n} rating"] for n in range(1, 9)] == ["1", "2", "3", "4", "1", "2", "3", "4"]
        assert approved["R3 rating label"] == "Largely met"
        draft = rows[neighbour_trust.ods_code]
        assert draft["Status"] == "Draft"
        assert all(draft[f"R{n} rating"] == "" for n in range(1, 9))

    def test_figures_with_rates_and_suppression(self, client_for, ics_lead, icb, trust, data):
        """Numerators, denominators and rates are exported; a small ethnicity count is '*', rate and all."""
        rows = {r["Trust ODS code"]: r for r in read_csv(client_for(ics_lead).get(export_url(icb, "csv")).content)}
        approved = rows[trust.ods_code]
        assert approved["Vacancy rate: numerator"] == "10"
        assert approved["Vacancy rate: denominator"] == "40"
        assert approved["Vacancy rate: %"] == "25"
        assert approved["Social workers in post (headcount)"] == "120"
        suffix = " (* = fewer than 8, not shown)"
        for part in ("numerator", "denominator", "%"):
            assert approved[f"Social workers from ethnic minority groups: {part}{suffix}"] == "*"
        assert b"110" not in client_for(ics_lead).get(export_url(icb, "csv")).content


class TestExcel:
    def test_workbook_sheets_read_back(self, client_for, ics_lead, icb, trust, neighbour_trust, data):
        """A sheet per section: the heatmap with labels and medians, status, and figures with '*'."""
        response = client_for(ics_lead).get(export_url(icb, "xlsx", "2026/27"))
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="QUE-2026-27-trust-comparison.xlsx"'
        book = load_workbook(io.BytesIO(response.content))
        assert book.sheetnames == ["Summary", "Status", "Heatmap", "Distribution", "Trends", "Workforce"]

        heatmap = list(book["Heatmap"].iter_rows(values_only=True))
        assert heatmap[0][:2] == ("Trust", "R1 Board-level leadership for social work")
        by_trust = {row[0]: row[1:] for row in heatmap[1:]}
        assert by_trust[trust.name][:4] == ("1 – Not met", "2 – Partially met", "3 – Largely met", "4 – Fully met")
        assert set(by_trust[neighbour_trust.name]) == {"Not approved"}
        assert by_trust["ICB median"][0] == "1 – Not met"
        assert book["Heatmap"]["D2"].fill.fgColor.rgb.endswith("005EB8")  # R3 of the first trust, rated 3

        status = {row[0]: row for row in book["Status"].iter_rows(min_row=2, values_only=True)}
        assert status[neighbour_trust.name][2] == "Draft"
        assert (status[trust.name][2], status[trust.name][5]) == ("Approved", 1)
        assert status[neighbour_trust.name][3] == "Overdue"

        workforce = [row for row in book["Workforce"].iter_rows(min_row=2, values_only=True) if row[0]]
        vacancy = next(r for r in workforce if r[0] == trust.name and r[2] == "Vacancy rate")
        assert vacancy[3:6] == (10, 40, 25)
        ethnicity = next(r for r in workforce if r[0] == trust.name and r[2].startswith("Social workers from ethnic"))
        assert ethnicity[3:7] == ("*", "*", "*", "*")

        distribution = list(book["Distribution"].iter_rows(values_only=True))
        assert distribution[1][:6] == ("R1 Board-level leadership for social work", 1, 0, 0, 0, 1)

        summary = [row[0] for row in book["Summary"].iter_rows(values_only=True) if row[0]]
        assert any(line.startswith("1 of 2 trusts has not had a 2026/27 assessment approved") for line in summary)

    def test_national_median_withheld_with_too_few_outside_the_icb(self, client_for, ics_lead, icb, data):
        """One approved trust in another ICB: the workbook's national median row is 'Too few to show', with a note."""
        book = load_workbook(io.BytesIO(client_for(ics_lead).get(export_url(icb, "xlsx")).content))
        heatmap = {row[0]: row[1:] for row in book["Heatmap"].iter_rows(values_only=True) if row[0]}
        assert set(heatmap["National median"]) == {"Too few to show"}
        notes = [row[0] for row in book["Summary"].iter_rows(values_only=True) if row[0]]
        assert any("outside this system" in line for line in notes)
        assert any("outside this system" in line for line in heatmap)


class TestComplement:
    @pytest.fixture
    def complement(self, trust, cycle, framework):
        """Ethnic-minority share 45 of 50: the other 5 would be revealed."""
        return assess(trust, cycle, [3] * 8, figures={"ethnic_minority_share": (45, 50)})

    def test_csv_suppresses_a_small_complement(self, client_for, ics_lead, icb, trust, complement):
        """The CSV gives '*' for numerator, denominator and rate when 50 − 45 is from 1 to 7."""
        rows = {r["Trust ODS code"]: r for r in read_csv(client_for(ics_lead).get(export_url(icb, "csv")).content)}
        suffix = " (* = fewer than 8, not shown)"
        for part in ("numerator", "denominator", "%"):
            assert rows[trust.ods_code][f"Social workers from ethnic minority groups: {part}{suffix}"] == "*"

    def test_excel_suppresses_a_small_complement_and_its_total(self, client_for, ics_lead, icb, trust, complement):
        """The Workforce sheet gives '*' for the trust and for the total across trusts."""
        book = load_workbook(io.BytesIO(client_for(ics_lead).get(export_url(icb, "xlsx")).content))
        rows = [r for r in book["Workforce"].iter_rows(min_row=2, values_only=True) if r[0] and r[2]]
        ethnicity = [r for r in rows if r[2].startswith("Social workers from ethnic minority groups (")]
        assert [r[3:7] for r in ethnicity] == [("*", "*", "*", "*"), ("*", "*", "*", "*")]
        assert not any(45 in r or 50 in r or "90%" in str(r[6]) for r in ethnicity)


class TestExportAccess:
    def test_other_icb_and_unknown_format_are_not_found(self, client_for, ics_lead, other_icb, icb, data):
        """Another ICB's export is 404, and so is a format the portal does not make."""
        client = client_for(ics_lead)
        assert client.get(export_url(other_icb, "csv")).status_code == 404
        assert client.get(export_url(icb, "pdf")).status_code == 404
        assert client.get(export_url(icb, "csv", "1999/00")).status_code == 404

    def test_outsider_is_not_found(self, client_for, outsider, icb, data):
        """A lead of a trust in another ICB gets 404."""
        assert client_for(outsider).get(export_url(icb, "xlsx")).status_code == 404


class TestCommand:
    def test_writes_csv_and_excel(self, tmp_path, icb, trust, data):
        """The command writes what the ICS lead would download."""
        out = io.StringIO()
        call_command(
            "export_comparison", icb="que", cycle="2026/27", format="csv", output=tmp_path / "x.csv", stdout=out
        )
        assert "2 trusts (1 with an approved assessment)" in out.getvalue()
        rows = read_csv((tmp_path / "x.csv").read_bytes())
        assert {r["Trust ODS code"]: r["R4 rating"] for r in rows} == {trust.ods_code: "4", "RX1": ""}

        call_command(
            "export_comparison", icb="QUE", cycle="2026/27", format="xlsx", output=tmp_path / "x.xlsx", stdout=out
        )
        assert load_workbook(tmp_path / "x.xlsx")["Heatmap"]["B2"].value == "1 – Not met"

    def test_refuses_unknown_icb_and_cycle(self, tmp_path, icb, data):
        """An unknown ICB or cycle is a clear error naming what exists."""
        with pytest.raises(CommandError, match="no ICB with ODS code ZZZ"):
            call_command("export_comparison", icb="ZZZ", cycle="2026/27", format="csv", output=tmp_path / "x.csv")
        with pytest.raises(CommandError, match=r"no cycle 1999/00\. Cycles: 2026/27"):
            call_command("export_comparison", icb="QUE", cycle="1999/00", format="csv", output=tmp_path / "x.csv")
        assert not (tmp_path / "x.csv").exists()
