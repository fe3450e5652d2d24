"""``python manage.py load_framework fixtures/frameworks/mh-social-work-2026.toml``"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from requirements.loader import FrameworkLoadError, load_framework


class Command(BaseCommand):
    help = (
        "Load one version of a framework from a TOML file (see fixtures/frameworks/). All or nothing; "
        "loading the same file again changes nothing; a version that assessments use cannot change."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The framework file, such as fixtures/frameworks/….toml")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report what would change, saving nothing."
        )

    def handle(self, *args, path: Path, dry_run: bool, **options):
        try:
            result = load_framework(path=path, dry_run=dry_run)
        except FrameworkLoadError as error:
            for problem in error.problems:
                self.stderr.write(f"- {problem}")
            count = len(error.problems)
            raise CommandError(
                f"Nothing was loaded from {path}: {count} {'problem' if count == 1 else 'problems'}."
            ) from None
        if options["verbosity"] >= 1:
            self.stdout.write(result.summary)
