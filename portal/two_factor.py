"""Two-factor sign-in: a password, then a 6-digit code from an authenticator app (TOTP).

django-otp keeps the devices and checks the codes (with its replay guard and growing delays
after wrong codes); this module holds the portal's rules on top:

- everyone, administrators included, sets up an authenticator app at their first sign-in and
  gives a code at every sign-in after that (``TwoFactorRequiredMiddleware``);
- a person who has an app but has only given their password can reach nothing but the code
  page and the public pages, and cannot set up another app (the attack this exists to stop);
- setting up gives ten single-use recovery codes, shown once; new ones replace the old;
- a platform administrator resets a lost phone (admin action or ``manage.py reset_two_factor``),
  after which the person sets up again at their next sign-in.

Every change is written to the audit trail.
"""

from __future__ import annotations

import math
import re
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import AuditEvent, User

APP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
TOTP_CODE = re.compile(r"\d{6}")
RECOVERY_CODE = re.compile(r"[a-z2-7]{8}")  # django-otp's static tokens: 5 random bytes in base32


# ---- marking views -------------------------------------------------------------------------------


def two_factor_not_required(view):
    """For the pages of the sign-in journey itself (the code page, setting up, signing out)."""
    view.two_factor_required = False
    return view


class TwoFactorRequiredMiddleware:
    """Sends a person who has signed in with a password, but not yet given a code, to do so.

    Goes after LoginRequiredMiddleware (which deals with people not signed in at all) and
    django-otp's OTPMiddleware (which sets ``request.user.is_verified()``). Public pages
    (``login_not_required``) stay open, as they are to anyone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if not getattr(view_func, "login_required", True) or not getattr(view_func, "two_factor_required", True):
            return None
        return redirect(second_step_url(user, request.get_full_path()))


def second_step_url(user, next_path: str) -> str:
    """Where a person who has given only their password goes: the code page, or setting up an app."""
    step = "two-factor-verify" if has_authenticator(user) else "two-factor-setup"
    return f"{reverse(step)}?{urlencode({'next': next_path})}"


def is_platform_administrator(user) -> bool:
    """Staff who have also given their security code: a password alone never shows what only they see."""
    return user.is_staff and getattr(user, "is_verified", lambda: False)()


# ---- the person's devices ------------------------------------------------------------------------


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def authenticator(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def pending_authenticator(user: User) -> TOTPDevice:
    """The app being set up: the same key on every visit until it is confirmed, so a scanned code stays valid."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=APP_NAME, confirmed=False)


def readable_key(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for people who type it in rather than scan the QR code."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_code_svg(device: TOTPDevice) -> str:
    """The setting-up address as an inline SVG QR code (no image request, nothing for the CSP to allow)."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=4, dark="#212b32", light="#ffffff", omitsize=True
    )
    # An accessible name for the image; the key itself is printed beside it.
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code for setting up your authenticator app" ', 1)


def remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _audit(*, actor: User | None, action: str, summary: str) -> None:
    AuditEvent.objects.create(trust=None, actor=actor, action=action, summary=summary)


# ---- setting up, signing in and managing ---------------------------------------------------------


class CodeRefused(Exception):
    """A code that did not sign the person in; the message says why, for the form to show."""


def _throttled_message(device) -> str | None:
    allowed, data = device.verify_is_allowed()
    if allowed:
        return None
    locked_until = (data or {}).get("locked_until")
    seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds())) if locked_until else 60
    unit = "second" if seconds == 1 else "seconds"
    return f"You have entered too many wrong codes. Wait {seconds} {unit}, then try again"


def _check(device, code: str, wrong_message: str):
    """The device if the code is right for it; otherwise CodeRefused (throttled or wrong)."""
    throttled = _throttled_message(device)
    if throttled:
        raise CodeRefused(throttled)
    verified = verify_token(device.user, device.persistent_id, code)
    if verified is None:
        raise CodeRefused(wrong_message)
    return verified


WRONG_APP_CODE = "The security code is not correct. Enter the code your app shows now"
WRONG_RECOVERY_CODE = "The recovery code is not correct or has already been used"


def confirm_authenticator(request, device: TOTPDevice, code: str) -> list[str]:
    """Confirms the app being set up with a code from it; returns the new recovery codes.

    The person's previous app (if they are replacing one) stops working only now, so a mistake
    while setting up a new phone never locks them out.
    """
    device = _check(device, code, WRONG_APP_CODE)
    user = request.user
    with transaction.atomic():
        replacing = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk)
        replaced = replacing.filter(confirmed=True).exists()
        replacing.delete()
        device.confirmed = True
        device.name = APP_NAME
        device.save(update_fields=["confirmed", "name"])
        _audit(
            actor=user,
            action="two_factor.set_up",
            summary=f"{user.email} {'replaced their' if replaced else 'set up an'} authenticator app",
        )
        codes = create_recovery_codes(user, actor=user)
    _signed_in_with(request, device)
    return codes


def verify(request, code: str):
    """Signs the person in with a code from their app, or one of their recovery codes.

    Returns the device that accepted it; raises CodeRefused with the message to show.
    """
    user = request.user
    if RECOVERY_CODE.fullmatch(code):
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise CodeRefused(WRONG_RECOVERY_CODE)
        device = _check(device, code, WRONG_RECOVERY_CODE)
        _audit(
            actor=user, action="two_factor.recovery_code_used", summary=f"{user.email} signed in with a recovery code"
        )
    else:
        device = authenticator(user)
        if device is None:
            raise CodeRefused(WRONG_APP_CODE)
        device = _check(device, code, WRONG_APP_CODE)
    _signed_in_with(request, device)
    return device


def used_recovery_code(device) -> bool:
    return isinstance(device, StaticDevice)


def _signed_in_with(request, device) -> None:
    """The second step done: a new session id for the verified session, which names the device."""
    request.session.cycle_key()
    otp_login(request, device)


@transaction.atomic
def create_recovery_codes(user: User, *, actor: User) -> list[str]:
    """Ten new single-use recovery codes; any earlier ones stop working."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    _audit(actor=actor, action="two_factor.recovery_codes_created", summary=f"New recovery codes for {user.email}")
    return codes


@transaction.atomic
def reset(user: User, *, actor: User | None) -> None:
    """A lost phone: removes the person's app and recovery codes and ends every session they have open
    (whoever holds the lost device must not be able to set up their own app); they set up again at
    their next sign-in."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    end_sessions(user)
    who = actor.email if actor else "a platform administrator (command line)"
    _audit(actor=actor, action="two_factor.reset", summary=f"Two-factor sign-in reset for {user.email} by {who}")


def end_sessions(user: User) -> int:
    """Deletes every unexpired session signed in as ``user``; returns how many."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


# ---- the demo ------------------------------------------------------------------------------------

# Published in the README so that anyone trying `make run` can add it to an authenticator app.
# seed_demo (which refuses to run without DEBUG) is the only thing that uses it.
DEMO_KEY_HEX = "3132333435363738393031323334353637383930"  # RFC 6238's test key, "12345678901234567890"
DEMO_KEY_BASE32 = "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"


def give_demo_authenticator(user: User) -> TOTPDevice:
    """The demo accounts' shared, published key. Only seed_demo calls this, and it refuses without DEBUG."""
    device, _ = TOTPDevice.objects.update_or_create(
        user=user, name=APP_NAME, defaults={"key": DEMO_KEY_HEX, "confirmed": True}
    )
    return device
