"""``manage.py import_ods extract.csv [--dry-run] [--effective-date YYYY-MM-DD]``: see docs/organisations.md."""

import argparse
import csv
import datetime

from django.core.management.base import BaseCommand, CommandError

from portal.ods import ODSImportError, import_ods, read_ods_csv


def calendar_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Update ICBs and trusts from an ODS extract (CSV with a header row), reporting what was added, "
        "changed and closed. Nothing is written if any row has a problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path", help="the CSV file: see docs/organisations.md for its columns")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
        parser.add_argument(
            "--effective-date",
            type=calendar_date,
            help="the day a host ICB change takes effect (default today); the old host membership ends the day before",
        )

    def handle(self, *args, csv_path, dry_run, effective_date, verbosity, **options):
        try:
            rows = read_ods_csv(csv_path)
            report = import_ods(rows=rows, dry_run=dry_run, effective_date=effective_date)
        except OSError as error:
            raise CommandError(f"Cannot read {csv_path}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise CommandError(f"Cannot read {csv_path}: save it as UTF-8 CSV.") from None
        except csv.Error as error:
            raise CommandError(f"Cannot read {csv_path} as CSV: {error}") from None
        except ODSImportError as error:
            raise CommandError("Nothing was imported. Problems:\n" + "\n".join(error.problems)) from None

        if report.ignored_columns and verbosity >= 1:
            self.stdout.write("Ignored columns: " + ", ".join(report.ignored_columns))
        for line in report.lines(include_unchanged=verbosity >= 2):
            self.stdout.write(line)
        if verbosity >= 2 and report.not_in_file:
            self.stdout.write("Not in file (left as they are): " + ", ".join(report.not_in_file))
        self.stdout.write(self.style.SUCCESS(report.summary()))
