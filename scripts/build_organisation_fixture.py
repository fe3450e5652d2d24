#!/usr/bin/env python
"""Build ``fixtures/organisations.json`` from the shared reference CSVs.

Run from anywhere: ``python scripts/build_organisation_fixture.py`` (``--check`` exits 1
if the committed fixture differs from what the CSVs would give). It needs only the
standard library. The portal never reads ``../shared/reference`` at run time: the
fixture this writes is the seed, and ``manage.py import_ods`` keeps it current.

The fixture uses natural keys and no primary keys, so ``manage.py loaddata
fixtures/organisations.json`` can be run again and again without duplicating anything.
See docs/organisations.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"
OUTPUT = REPO / "fixtures" / "organisations.json"

# The seven NHS England regions and their ODS codes.
REGIONS = {
    "Y56": "London",
    "Y58": "South West",
    "Y59": "South East",
    "Y60": "Midlands",
    "Y61": "East of England",
    "Y62": "North West",
    "Y63": "North East and Yorkshire",
}

# ICBs were established on 1 July 2022; the reference ICBs all date from then. Their
# April 2026 mergers are not in the reference data: import an ODS extract for those.
ICB_OPEN_DATE = datetime.date(2022, 7, 1)
MEMBERSHIP_START = ICB_OPEN_DATE

# Trusts that serve ICBs besides their host, for their mental health services. Only
# well-established, whole-service arrangements are listed; trust-wide specialist or
# national services and children's-only contracts are left out. Every code must be in
# the reference CSVs (the script stops if not).
OTHER_ICBS = {
    "RVN": ["QUY"],  # Avon and Wiltshire: also Bristol, North Somerset and South Gloucestershire
    "RV3": ["QRV", "QHG"],  # Central and North West London: North West London boroughs, and Milton Keynes
    "RNU": ["QOX"],  # Oxford Health: children's mental health in Bath and North East Somerset, Swindon, Wiltshire
    "RX3": ["QOQ"],  # Tees, Esk and Wear Valleys: York, Selby and North Yorkshire
    "RWK": ["QHG"],  # East London: Bedfordshire and Luton
    "RMY": ["QJG"],  # Norfolk and Suffolk: Suffolk
    "R1L": ["QJG", "QM7"],  # Essex Partnership: north east Essex, and west Essex
    "RXG": ["QF7"],  # South West Yorkshire Partnership: Barnsley
    "RXE": ["QOQ"],  # Rotherham Doncaster and South Humber: North Lincolnshire
    "RWX": ["QU9"],  # Berkshire Healthcare (host Frimley, for east Berkshire): Berkshire West
    "RRE": ["QOC"],  # Midlands Partnership: Shropshire, Telford and Wrekin
    "RXX": ["QNQ"],  # Surrey and Borders: Surrey Heath (Frimley)
}

# Closures that reference/README.md records, applied only to trusts in the CSVs. North
# London NHS Foundation Trust, which took these trusts' services over, is not in the
# reference data and its ODS code is not known here: it comes in with an ODS extract
# (import_ods), which can also set these trusts' successor.
CLOSURES = {
    "RRP": datetime.date(2024, 10, 31),  # Barnet, Enfield and Haringey: merged 1 November 2024
    "TAF": datetime.date(2024, 10, 31),  # Camden and Islington: merged 1 November 2024
    "RNK": datetime.date(2026, 3, 31),  # Tavistock and Portman: absorbed 1 April 2026
}


class ReferenceDataError(Exception):
    pass


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return [{key: (value or "").strip() for key, value in row.items()} for row in csv.DictReader(f)]


def iso(date: datetime.date | None) -> str | None:
    return date.isoformat() if date else None


def build(reference: Path) -> list[dict]:
    """The fixture's records, in loading order: regions, ICBs, trusts, memberships."""
    icb_rows = read_csv(reference / "icbs.csv")
    trust_rows = read_csv(reference / "mental_health_trusts.csv")
    region_codes = {name: code for code, name in REGIONS.items()}
    problems = []

    icb_regions = {}
    for row in icb_rows:
        if row["nhs_region"] not in region_codes:
            problems.append(f"icbs.csv: {row['ods_code']} has unknown region {row['nhs_region']!r}")
        icb_regions[row["ods_code"]] = row["nhs_region"]
    trust_codes = {row["ods_code"] for row in trust_rows}
    for row in trust_rows:
        if row["nhs_region"] not in region_codes:
            problems.append(f"mental_health_trusts.csv: {row['ods_code']} has unknown region {row['nhs_region']!r}")
        if row["host_icb_ods_code"] not in icb_regions:
            problems.append(f"mental_health_trusts.csv: {row['ods_code']} has unknown host ICB")
    for trust_code, icb_codes in OTHER_ICBS.items():
        if trust_code not in trust_codes:
            problems.append(f"OTHER_ICBS: trust {trust_code} is not in the reference CSVs")
        problems.extend(f"OTHER_ICBS: ICB {code} is not in icbs.csv" for code in icb_codes if code not in icb_regions)
    if len({row["ods_code"] for row in icb_rows}) != len(icb_rows) or len(trust_codes) != len(trust_rows):
        problems.append("an ODS code appears twice in the reference CSVs")
    if problems:
        raise ReferenceDataError("\n".join(problems))

    records = [{"model": "portal.region", "fields": {"code": code, "name": name}} for code, name in REGIONS.items()]
    records += [
        {
            "model": "portal.icb",
            "fields": {
                "ods_code": row["ods_code"],
                "name": row["name"],
                "region": [region_codes[row["nhs_region"]]],
                "open_date": iso(ICB_OPEN_DATE),
                "close_date": None,
            },
        }
        for row in icb_rows
    ]
    memberships = []
    for row in trust_rows:
        code = row["ods_code"]
        close_date = CLOSURES.get(code)
        records.append(
            {
                "model": "portal.trust",
                "fields": {
                    "ods_code": code,
                    "name": row["name"],
                    "region": [region_codes[row["nhs_region"]]],
                    "open_date": None,
                    "close_date": iso(close_date),
                    "successor": None,
                },
            }
        )
        for icb_code in [row["host_icb_ods_code"], *OTHER_ICBS.get(code, [])]:
            memberships.append(
                {
                    "model": "portal.trusticbmembership",
                    "fields": {
                        "trust": [code],
                        "icb": [icb_code],
                        "is_host": icb_code == row["host_icb_ods_code"],
                        "start_date": iso(MEMBERSHIP_START),
                        "end_date": iso(close_date),
                    },
                }
            )
    return records + memberships


def render(records: list[dict]) -> str:
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="folder holding the reference CSVs")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the fixture is out of date; write nothing")
    args = parser.parse_args(argv)

    try:
        text = render(build(args.reference))
    except (OSError, KeyError, ReferenceDataError) as error:
        print(f"Cannot build the fixture: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    records = json.loads(text)
    counts = {}
    for record in records:
        counts[record["model"]] = counts.get(record["model"], 0) + 1
    print(f"Wrote {args.output}: " + ", ".join(f"{count} {model}" for model, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
