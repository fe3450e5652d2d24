"""Importing ICBs and trusts from an ODS extract: the service and the import_ods command."""

import csv
import datetime
import io
import textwrap

import pytest
from django.core.management import CommandError, call_command

from portal.models import ICB, Trust, TrustICBMembership
from portal.ods import ODSImportError, import_ods, tidy_name
from tests.factories import ICBFactory, RegionFactory, TrustFactory, TrustICBMembershipFactory

EFFECTIVE = datetime.date(2026, 4, 1)

# Samples in the two reference formats (shared/reference/*.csv), copied here so that the
# tests never read outside the repository.
ICB_SAMPLE = """\
    ods_code,name,nhs_region
    QMJ,NHS North Central London Integrated Care Board,London
    QRV,NHS North West London Integrated Care Board,London
    QOX,"NHS Bath and North East Somerset, Swindon and Wiltshire Integrated Care Board",South West
"""
TRUST_SAMPLE = """\
    ods_code,name,nhs_region,host_icb_ods_code
    RV3,Central and North West London NHS Foundation Trust,London,QMJ
    RKL,West London NHS Trust,London,QRV
    RVN,Avon and Wiltshire Mental Health Partnership NHS Trust,South West,QOX
"""


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(textwrap.dedent(text))))


def host_icbs(trust: Trust) -> list[tuple[str, datetime.date, datetime.date | None]]:
    memberships = trust.icb_memberships.filter(is_host=True).order_by("start_date")
    return [(m.icb.ods_code, m.start_date, m.end_date) for m in memberships]


@pytest.fixture
def regions(db):
    return {
        "London": RegionFactory(code="Y56", name="London"),
        "South West": RegionFactory(code="Y58", name="South West"),
    }


@pytest.fixture
def london_icbs(regions):
    """North Central and North West London ICBs, each with one trust hosted there."""
    ncl = ICBFactory(ods_code="QMJ", name="NHS North Central London Integrated Care Board", region=regions["London"])
    nwl = ICBFactory(ods_code="QRV", name="NHS North West London Integrated Care Board", region=regions["London"])
    cnwl = TrustFactory(
        ods_code="RV3", name="Central and North West London NHS Foundation Trust", region=regions["London"]
    )
    TrustICBMembershipFactory(trust=cnwl, icb=ncl)
    TrustICBMembershipFactory(trust=cnwl, icb=nwl, is_host=False)
    west_london = TrustFactory(ods_code="RKL", name="West London NHS Trust", region=regions["London"])
    TrustICBMembershipFactory(trust=west_london, icb=nwl)
    return ncl, nwl


def test_import_adds_new_trust_with_host_membership_from_its_open_date(london_icbs):
    """A new trust is created with its region and a host membership starting on its open date."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code,open_date
            RX9,North London NHS Foundation Trust,London,QMJ,2024-11-01
        """),
        effective_date=EFFECTIVE,
    )

    trust = Trust.objects.get(ods_code="RX9")
    assert trust.region.code == "Y56"
    assert trust.open_date == datetime.date(2024, 11, 1)
    assert host_icbs(trust) == [("QMJ", datetime.date(2024, 11, 1), None)]
    assert [result.ods_code for result in report.added] == ["RX9"]
    assert report.summary() == "Added 1 trust, changed 0, closed 0, unchanged 0; 2 not in file"


def test_new_trust_membership_starts_no_earlier_than_its_icb(london_icbs):
    """A trust older than its host ICB joins it on the day the ICB opened."""
    import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code,open_date
            RX9,An Old NHS Trust,London,QMJ,1994-04-01
        """),
        effective_date=EFFECTIVE,
    )

    assert host_icbs(Trust.objects.get(ods_code="RX9")) == [("QMJ", datetime.date(2022, 7, 1), None)]


def test_import_reports_changed_name_with_before_and_after(london_icbs):
    """A renamed trust is updated and reported as changed, naming the field with before and after."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code
            RKL,West London NHS Foundation Trust,London,QRV
            RV3,Central and North West London NHS Foundation Trust,London,QMJ
        """),
        effective_date=EFFECTIVE,
    )

    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Foundation Trust"
    [changed] = report.changed
    assert changed.ods_code == "RKL"
    assert [str(change) for change in changed.changes] == [
        "name: West London NHS Trust → West London NHS Foundation Trust"
    ]
    assert [result.ods_code for result in report.unchanged] == ["RV3"]
    assert report.summary() == "Added 0 organisations, changed 1 (name), closed 0, unchanged 1; 0 not in file"


def test_closing_a_trust_ends_its_open_memberships_at_the_close_date(london_icbs):
    """Setting a close date reports the trust as closed and ends each of its open ICB memberships."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,close_date
            RV3,Central and North West London NHS Foundation Trust,2026-03-31
        """),
        effective_date=EFFECTIVE,
    )

    cnwl = Trust.objects.get(ods_code="RV3")
    assert cnwl.close_date == datetime.date(2026, 3, 31)
    assert set(cnwl.icb_memberships.values_list("end_date", flat=True)) == {datetime.date(2026, 3, 31)}
    assert [result.ods_code for result in report.closed] == ["RV3"]
    assert "ended 2 ICB memberships" in report.closed[0].describe()
    assert not cnwl.icbs_on(datetime.date(2026, 4, 1)).exists()


def test_closing_an_icb_ends_the_memberships_of_its_trusts(london_icbs):
    """An ICB closing ends every open trust membership in it, and only those."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,close_date
            QRV,NHS North West London Integrated Care Board,London,2026-03-31
        """),
        effective_date=EFFECTIVE,
    )

    ended = TrustICBMembership.objects.filter(icb__ods_code="QRV")
    assert set(ended.values_list("end_date", flat=True)) == {datetime.date(2026, 3, 31)}
    assert TrustICBMembership.objects.get(icb__ods_code="QMJ").end_date is None
    assert report.summary() == "Added 0 organisations, changed 0, closed 1, unchanged 0; 1 not in file"


def test_host_change_ends_old_host_the_day_before_and_starts_new_one(london_icbs):
    """A new host ICB takes effect on the effective date; the old host membership ends the day before."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code
            RKL,West London NHS Trust,London,QMJ
        """),
        effective_date=EFFECTIVE,
    )

    west_london = Trust.objects.get(ods_code="RKL")
    assert host_icbs(west_london) == [
        ("QRV", datetime.date(2022, 7, 1), datetime.date(2026, 3, 31)),
        ("QMJ", EFFECTIVE, None),
    ]
    assert [str(change) for change in report.changed[0].changes] == ["host ICB: QRV → QMJ from 2026-04-01"]
    assert report.summary() == "Added 0 organisations, changed 1 (host ICB), closed 0, unchanged 0; 1 not in file"


def test_host_change_to_an_icb_already_served_replaces_the_non_host_membership(london_icbs):
    """When a trust's host becomes an ICB it already served, it has exactly one open membership there, as host."""
    import_ods(
        rows=rows("""\
            ods_code,name,host_icb_ods_code
            RV3,Central and North West London NHS Foundation Trust,QRV
        """),
        effective_date=EFFECTIVE,
    )

    cnwl = Trust.objects.get(ods_code="RV3")
    open_memberships = cnwl.icb_memberships.filter(end_date__isnull=True)
    assert [(m.icb.ods_code, m.is_host) for m in open_memberships] == [("QRV", True)]
    assert list(cnwl.icbs_on(datetime.date(2025, 1, 1)).order_by("ods_code").values_list("ods_code", flat=True)) == [
        "QMJ",
        "QRV",
    ]


def test_validation_names_every_problem_row_and_writes_nothing(london_icbs):
    """Every problem in the file is reported with its row number, and none of the good rows is written."""
    bad_file = rows("""\
        ods_code,name,nhs_region,host_icb_ods_code,open_date,close_date
        RX1,A Good New NHS Trust,London,QMJ,,
        RX2,Unknown Region NHS Trust,Atlantis,QMJ,,
        RX3,Unknown Host NHS Trust,London,QZZ,,
        RX4,Bad Date NHS Trust,London,QMJ,2024-02-30,
        RX5,Backwards NHS Trust,London,QMJ,2024-01-01,2023-12-31
        ,No Code NHS Trust,London,QMJ,,
        RX6,,London,QMJ,,
        RX1,Duplicate NHS Trust,London,QMJ,,
        RKL,West London NHS Foundation Trust,London,QRV,,
    """)

    with pytest.raises(ODSImportError) as raised:
        import_ods(rows=bad_file, effective_date=EFFECTIVE)

    assert raised.value.problems == [
        "Row 3: unknown region 'Atlantis'",
        "Row 4: unknown host ICB 'QZZ'",
        "Row 5: open_date '2024-02-30' is not a date (write YYYY-MM-DD)",
        "Row 6: close_date 2023-12-31 is before open_date 2024-01-01",
        "Row 7: ods_code is missing",
        "Row 8: name is missing",
        "Row 9: ODS code RX1 appears again (first on row 2)",
    ]
    assert Trust.objects.count() == 2
    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Trust"


def test_code_already_used_by_other_kind_of_organisation_is_a_problem(london_icbs):
    """An ICB's code in a trust file is refused rather than creating a trust with it."""
    with pytest.raises(ODSImportError) as raised:
        import_ods(
            rows=rows("""\
                ods_code,name,nhs_region,host_icb_ods_code
                QMJ,Not A Trust,London,QRV
            """)
        )

    assert raised.value.problems == ["Row 2: QMJ is already an ICB in the portal, not a trust"]


def test_dry_run_reports_changes_but_writes_nothing(london_icbs):
    """A dry run gives the same report as a real import and leaves the database as it was."""
    before = list(TrustICBMembership.objects.values_list("trust__ods_code", "icb__ods_code", "start_date", "end_date"))

    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code,close_date
            RKL,West London NHS Foundation Trust,London,QMJ,
            RV3,Central and North West London NHS Foundation Trust,London,QMJ,2026-03-31
            RX9,North London NHS Foundation Trust,London,QMJ,
        """),
        dry_run=True,
        effective_date=EFFECTIVE,
    )

    assert report.summary() == (
        "Dry run, nothing written. Added 1 trust, changed 1 (host ICB, name), closed 1, unchanged 0; 0 not in file"
    )
    assert Trust.objects.count() == 2
    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Trust"
    assert Trust.objects.get(ods_code="RV3").close_date is None
    after = list(TrustICBMembership.objects.values_list("trust__ods_code", "icb__ods_code", "start_date", "end_date"))
    assert after == before


def test_reference_icb_format_imports(regions):
    """A file in the reference icbs.csv format (no org_type column) imports as ICBs."""
    report = import_ods(rows=rows(ICB_SAMPLE))

    assert report.summary() == "Added 3 ICBs, changed 0, closed 0, unchanged 0; 0 not in file"
    bsw = ICB.objects.get(ods_code="QOX")
    assert bsw.name == "NHS Bath and North East Somerset, Swindon and Wiltshire Integrated Care Board"
    assert bsw.region.name == "South West"


def test_reference_trust_format_imports_and_second_import_changes_nothing(regions):
    """Reference-format files import as ICBs, then trusts with host memberships; repeating changes nothing."""
    import_ods(rows=rows(ICB_SAMPLE))
    report = import_ods(rows=rows(TRUST_SAMPLE), effective_date=EFFECTIVE)

    assert report.summary() == "Added 3 trusts, changed 0, closed 0, unchanged 0; 0 not in file"
    assert host_icbs(Trust.objects.get(ods_code="RVN")) == [("QOX", EFFECTIVE, None)]

    again = import_ods(rows=rows(TRUST_SAMPLE), effective_date=datetime.date(2026, 6, 1))
    assert again.summary() == "Added 0 organisations, changed 0, closed 0, unchanged 3; 0 not in file"
    assert TrustICBMembership.objects.count() == 3


def test_ods_style_headers_and_upper_case_names(london_icbs):
    """ODS headers are recognised whatever their case, and an upper-case name equal to the stored one is no change."""
    report = import_ods(
        rows=rows("""\
            Organisation Code,NAME,National Grouping,High Level Health Geography,Open Date,Close Date,Postcode
            RKL,WEST LONDON NHS TRUST,Y56,QRV,19990401,
            RX9,SOUTH WEST LONDON AND ST GEORGE'S MENTAL HEALTH NHS TRUST,Y56,QRV,19940401,
        """),
        effective_date=EFFECTIVE,
    )

    assert report.ignored_columns == ["Postcode"]
    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Trust"
    assert Trust.objects.get(ods_code="RX9").name == "South West London and St George's Mental Health NHS Trust"
    assert [str(change) for change in report.changed[0].changes] == ["open date: 2000-04-01 → 1999-04-01"]


def test_tidy_name_title_cases_upper_case_names_only():
    """Names written all in capitals become title case with NHS and ICB kept; mixed-case names are kept as given."""
    assert tidy_name("NHS STAFFORDSHIRE AND STOKE-ON-TRENT INTEGRATED CARE BOARD (ICB)") == (
        "NHS Staffordshire and Stoke-on-Trent Integrated Care Board (ICB)"
    )
    assert tidy_name("THE ROYAL  MARSDEN NHS TRUST") == "The Royal Marsden NHS Trust"
    assert tidy_name("2gether NHS Foundation Trust") == "2gether NHS Foundation Trust"


def test_organisations_absent_from_file_are_counted_not_closed(london_icbs):
    """A partial extract leaves the organisations it does not mention open, and counts them as not in file."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,nhs_region,host_icb_ods_code
            RKL,West London NHS Trust,London,QRV
        """),
        effective_date=EFFECTIVE,
    )

    assert report.not_in_file == ["RV3"]
    assert Trust.objects.get(ods_code="RV3").close_date is None
    assert report.summary().endswith("unchanged 1; 1 not in file")


def test_mixed_file_adds_icb_and_trusts_hosted_by_it_and_sets_successors(london_icbs):
    """With an org_type column one file can add an ICB, move trusts to it and link a closed trust to its successor."""
    report = import_ods(
        rows=rows("""\
            ods_code,name,org_type,region_code,host_icb_ods_code,open_date,close_date,successor_ods_code
            RKL,West London NHS Trust,TRUST,,QX1,,2026-06-30,RX9
            RX9,North London NHS Foundation Trust,Trust,Y56,QX1,2024-11-01,,
            QX1,NHS North London Integrated Care Board,icb,Y56,,2026-04-01,,
            QMJ,NHS North Central London Integrated Care Board,ICB,Y56,,,2026-03-31,
        """),
        effective_date=EFFECTIVE,
    )

    assert ICB.objects.get(ods_code="QX1").open_date == EFFECTIVE
    west_london = Trust.objects.get(ods_code="RKL")
    assert west_london.successor.ods_code == "RX9"
    assert host_icbs(west_london) == [
        ("QRV", datetime.date(2022, 7, 1), datetime.date(2026, 3, 31)),
        ("QX1", EFFECTIVE, datetime.date(2026, 6, 30)),
    ]
    assert host_icbs(Trust.objects.get(ods_code="RX9")) == [("QX1", EFFECTIVE, None)]
    assert [str(change) for change in report.closed[0].changes] == [
        "host ICB: QRV → QX1 from 2026-04-01",
        "successor: none → RX9",
    ]
    assert TrustICBMembership.objects.get(trust__ods_code="RV3", icb__ods_code="QMJ").end_date == datetime.date(
        2026, 3, 31
    )
    assert report.summary() == "Added 1 ICB and 1 trust, changed 0, closed 2, unchanged 0; 2 not in file"


def test_host_icb_that_closed_before_the_change_is_a_problem(london_icbs):
    """Moving a trust to an ICB that has already closed is refused and nothing is written."""
    ICB.objects.filter(ods_code="QMJ").update(close_date=datetime.date(2026, 3, 31))

    with pytest.raises(ODSImportError) as raised:
        import_ods(
            rows=rows("""\
                ods_code,name,host_icb_ods_code
                RKL,West London NHS Foundation Trust,QMJ
            """),
            effective_date=EFFECTIVE,
        )

    assert raised.value.problems == [
        "Row 2: host ICB QMJ closed on 2026-03-31, before RKL's membership would start (2026-04-01)"
    ]
    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Trust"


def test_command_prints_lines_and_summary(london_icbs, tmp_path):
    """import_ods prints a line per changed organisation and the summary, and writes the changes."""
    extract = tmp_path / "extract.csv"
    extract.write_text(
        "\ufeffods_code,name,nhs_region,host_icb_ods_code\nRKL,West London NHS Foundation Trust,London,QRV\n",
        encoding="utf-8",
    )
    out = io.StringIO()

    call_command("import_ods", str(extract), "--effective-date", "2026-04-01", stdout=out)

    assert out.getvalue().splitlines() == [
        "Changed trust RKL West London NHS Foundation Trust: name: West London NHS Trust → West London NHS Foundation "
        "Trust",
        "Added 0 organisations, changed 1 (name), closed 0, unchanged 0; 1 not in file",
    ]
    assert Trust.objects.get(ods_code="RKL").name == "West London NHS Foundation Trust"


def test_command_dry_run_writes_nothing(london_icbs, tmp_path):
    """import_ods --dry-run prints what would change and leaves the database alone."""
    extract = tmp_path / "extract.csv"
    extract.write_text("ods_code,name,nhs_region\nQX1,NHS New Integrated Care Board,London\n", encoding="utf-8")
    out = io.StringIO()

    call_command("import_ods", str(extract), "--dry-run", stdout=out)

    assert "Dry run, nothing written. Added 1 ICB, changed 0, closed 0, unchanged 0; 2 not in file" in out.getvalue()
    assert not ICB.objects.filter(ods_code="QX1").exists()


def test_command_raises_command_error_listing_problems(london_icbs, tmp_path):
    """import_ods stops with a CommandError that lists each bad row."""
    extract = tmp_path / "extract.csv"
    extract.write_text(
        "ods_code,name,nhs_region,host_icb_ods_code\nRX1,A NHS Trust,Atlantis,QMJ\nRX2,B NHS Trust,London,QZZ\n",
        encoding="utf-8",
    )

    with pytest.raises(CommandError) as raised:
        call_command("import_ods", str(extract), stdout=io.StringIO())

    message = str(raised.value)
    assert "Row 2: unknown region 'Atlantis'" in message
    assert "Row 3: unknown host ICB 'QZZ'" in message
    assert Trust.objects.count() == 2


def test_command_refuses_a_missing_file(db, tmp_path):
    """import_ods names a file it cannot open."""
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_ods", str(tmp_path / "missing.csv"))


def test_overlong_names_and_nul_characters_are_row_problems(london_icbs):
    """Hostile cells are reported by row rather than failing in the database."""
    with pytest.raises(ODSImportError) as raised:
        import_ods(
            rows=[
                {"ods_code": "RX7", "name": "N" * 300, "nhs_region": "London", "host_icb_ods_code": "QMJ"},
                {"ods_code": "RX8", "name": "Nul\x00 NHS Trust", "nhs_region": "London", "host_icb_ods_code": "QMJ"},
            ],
            effective_date=EFFECTIVE,
        )
    assert raised.value.problems == [
        "Row 2: name is longer than 250 characters",
        "Row 3: it contains a NUL character",
    ]
    assert not Trust.objects.filter(ods_code__in=["RX7", "RX8"]).exists()
