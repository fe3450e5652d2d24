"""Demo data for a newcomer: the framework, the NHS organisations and one sign-in per role.

Idempotent: running it again changes nothing. Refuses to run outside development unless
forced, because every demo account shares one published password.
"""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.models import ICB, ICBMembership, Trust, TrustMembership, TrustRole, User

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - published in the README, development only

# Two real ICBs and their mental health trusts; the demo people work at Leeds and York.
DEMO_ICBS = ["QWO", "QYG"]  # West Yorkshire; Cheshire and Merseyside
DEMO_TRUST = "RGD"  # Leeds and York Partnership NHS Foundation Trust
OTHER_TRUST = "RW4"  # Mersey Care NHS Foundation Trust, in the other demo ICB

DEMO_PEOPLE = [
    # email, name, job title, (trust ODS code, role) or (ICB ODS code, None), staff
    ("lead@example.nhs.uk", "Priya Shah", "Principal social worker", DEMO_TRUST, TrustRole.LEAD),
    ("contributor@example.nhs.uk", "Tom Okafor", "AMHP service lead", DEMO_TRUST, TrustRole.CONTRIBUTOR),
    ("analyst@example.nhs.uk", "Grace Lin", "Workforce analyst", DEMO_TRUST, TrustRole.CONTRIBUTOR),
    ("executive@example.nhs.uk", "Helen Marsh", "Chief Nurse", DEMO_TRUST, TrustRole.EXECUTIVE),
    ("board@example.nhs.uk", "David Reid", "Non-executive director", DEMO_TRUST, TrustRole.BOARD_READER),
    ("mersey.lead@example.nhs.uk", "Sam Carter", "Head of social work", OTHER_TRUST, TrustRole.LEAD),
    ("ics@example.nhs.uk", "Amira Hassan", "ICS mental health workforce lead", "QWO", None),
]
ADMIN = ("admin@example.nhs.uk", "Alex Morgan", "Platform administrator")


class Command(BaseCommand):
    help = "Load the framework and organisations and create demo sign-ins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never on a live service)."
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with a published password: run it only with DJANGO_DEBUG=1.")
        fixtures = Path(settings.BASE_DIR) / "fixtures"
        call_command("loaddata", fixtures / "organisations.json", verbosity=0)
        for framework_file in sorted((fixtures / "frameworks").glob("*.toml")):
            call_command("load_framework", framework_file, verbosity=0, stdout=self.stdout)
        with transaction.atomic():
            created = self._people()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new demo accounts)."))
        self._print_sign_ins()

    def _people(self) -> int:
        created = 0
        trusts = {t.ods_code: t for t in Trust.objects.filter(ods_code__in=[DEMO_TRUST, OTHER_TRUST])}
        icbs = {i.ods_code: i for i in ICB.objects.filter(ods_code__in=DEMO_ICBS)}
        for email, name, job_title, org_code, role in DEMO_PEOPLE:
            user, was_created = self._user(email, name, job_title)
            created += was_created
            if role is None:
                ICBMembership.objects.get_or_create(user=user, icb=icbs[org_code])
            else:
                TrustMembership.objects.get_or_create(user=user, trust=trusts[org_code], defaults={"role": role})
        _, was_created = self._user(*ADMIN, is_staff=True, is_superuser=True)
        return created + was_created

    def _user(self, email, name, job_title, **flags) -> tuple[User, bool]:
        user, created = User.objects.get_or_create(
            email=email, defaults={"full_name": name, "job_title": job_title, **flags}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user, created

    def _print_sign_ins(self):
        self.stdout.write(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, name, _job_title, org_code, role in DEMO_PEOPLE:
            what = TrustRole(role).label if role else "ICS lead"
            self.stdout.write(f"  {email:<28} {name}, {what} ({org_code})")
        self.stdout.write(f"  {ADMIN[0]:<28} {ADMIN[1]}, platform administrator\n")
