from django.core.management.base import BaseCommand

from assessments import evidence


class Command(BaseCommand):
    help = (
        "Delete evidence uploads held for a second look (possible NHS numbers) once their hold time has passed. "
        "Schedule it hourly, so that nothing is kept longer than that when nobody is adding evidence."
    )

    def handle(self, *args, **options):
        removed = evidence.purge_expired_holds()
        noun = "file" if removed == 1 else "files"
        self.stdout.write(f"Deleted {removed} held {noun} past the hold time ({evidence.HOLD_MAX_AGE // 60} minutes).")
