"""The committed organisations fixture: NHS regions, ICBs, mental health trusts and their ICB memberships."""

import datetime
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count, Q

from portal.models import ICB, Region, Trust, TrustICBMembership

FIXTURE = settings.BASE_DIR / "fixtures" / "organisations.json"
ONE_DAY_IN_2025 = datetime.date(2025, 1, 1)


@pytest.fixture
def organisations(db):
    call_command("loaddata", str(FIXTURE), verbosity=0)


def icb_codes(trust_code: str, on: datetime.date = ONE_DAY_IN_2025) -> set[str]:
    return set(Trust.objects.get(ods_code=trust_code).icbs_on(on).values_list("ods_code", flat=True))


def test_fixture_uses_natural_keys_and_no_primary_keys():
    """Every record is identified by its natural key, so loading never depends on database ids."""
    records = json.loads(FIXTURE.read_text(encoding="utf-8"))

    assert records
    assert all("pk" not in record for record in records)


def test_fixture_loads_twice_without_duplicates(organisations):
    """Loading the fixture again updates the same rows: 7 regions, 42 ICBs, 50 trusts and their memberships."""
    memberships = TrustICBMembership.objects.count()

    call_command("loaddata", str(FIXTURE), verbosity=0)

    assert Region.objects.count() == 7
    assert ICB.objects.count() == 42
    assert Trust.objects.count() == 50
    assert TrustICBMembership.objects.count() == memberships
    assert memberships > 50


def test_regions_have_nhs_england_codes(organisations):
    """The seven regions carry NHS England's ODS codes."""
    assert dict(Region.objects.values_list("code", "name")) == {
        "Y56": "London",
        "Y58": "South West",
        "Y59": "South East",
        "Y60": "Midlands",
        "Y61": "East of England",
        "Y62": "North West",
        "Y63": "North East and Yorkshire",
    }


def test_each_trust_has_exactly_one_host_membership(organisations):
    """Every trust has one host ICB, in its own region, from 1 July 2022."""
    trusts = Trust.objects.annotate(hosts=Count("icb_memberships", filter=Q(icb_memberships__is_host=True)))

    assert sorted({trust.hosts for trust in trusts}) == [1]
    for membership in TrustICBMembership.objects.filter(is_host=True).select_related("trust", "icb"):
        assert membership.icb.region_id == membership.trust.region_id, membership
        assert membership.start_date == datetime.date(2022, 7, 1)


def test_icbs_are_open_since_july_2022(organisations):
    """The 42 ICBs opened on 1 July 2022 and none is closed: the 2026 mergers come from an ODS extract."""
    assert set(ICB.objects.values_list("open_date", "close_date")) == {(datetime.date(2022, 7, 1), None)}


@pytest.mark.parametrize(
    ("trust_code", "expected_icbs"),
    [
        ("RVN", {"QOX", "QUY"}),  # Avon and Wiltshire
        ("RV3", {"QMJ", "QRV", "QHG"}),  # Central and North West London
        ("RNU", {"QU9", "QOX"}),  # Oxford Health
        ("RX3", {"QHM", "QOQ"}),  # Tees, Esk and Wear Valleys
        ("RT2", {"QOP"}),  # Pennine Care: Greater Manchester only
        ("RX4", {"QHM"}),  # Cumbria, Northumberland, Tyne and Wear
    ],
)
def test_trusts_belong_to_every_icb_they_serve(organisations, trust_code, expected_icbs):
    """A trust that serves several ICBs is a member of each, with only the host marked as host."""
    assert icb_codes(trust_code) == expected_icbs
    trust = Trust.objects.get(ods_code=trust_code)
    assert trust.icb_memberships.filter(is_host=True).count() == 1


def test_merged_london_trusts_are_closed_with_their_memberships(organisations):
    """Barnet, Enfield and Haringey and Camden and Islington closed in 2024 and Tavistock and Portman in 2026."""
    closed = dict(Trust.objects.filter(close_date__isnull=False).values_list("ods_code", "close_date"))

    assert closed == {
        "RRP": datetime.date(2024, 10, 31),
        "TAF": datetime.date(2024, 10, 31),
        "RNK": datetime.date(2026, 3, 31),
    }
    assert icb_codes("RRP", on=datetime.date(2024, 10, 31)) == {"QMJ"}
    assert icb_codes("RRP", on=datetime.date(2024, 11, 1)) == set()
    assert icb_codes("RNK", on=datetime.date(2026, 3, 31)) == {"QMJ"}
    assert icb_codes("RNK", on=datetime.date(2026, 4, 1)) == set()
