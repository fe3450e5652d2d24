from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from portal import two_factor


class Command(BaseCommand):
    help = "Print the security code the demo accounts' shared authenticator key gives now (demo only, DEBUG)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_code is only for the demo (DJANGO_DEBUG=1): real accounts use their own app.")
        totp = TOTP(bytes.fromhex(two_factor.DEMO_KEY_HEX))
        seconds = 30 - int(totp.time) % 30
        self.stdout.write(f"Security code for the demo accounts: {totp.token():06d} (changes in {seconds} s)")
