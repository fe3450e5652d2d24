from django.core.management.base import BaseCommand, CommandError

from portal import two_factor
from portal.models import User


class Command(BaseCommand):
    help = (
        "Reset a person's two-factor sign-in (a lost or replaced phone): removes their authenticator app and "
        "recovery codes, so that they set up a new app at their next sign-in. Check who is asking first."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="the person's email address")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No account with the email address {email}")
        two_factor.reset(user, actor=None)
        self.stdout.write(f"Two-factor sign-in reset for {user.email}: they set up a new app at their next sign-in.")
