"""Two-factor sign-in: every account sets up an authenticator app at its first sign-in and gives
a security code (or a one-time recovery code) at every sign-in after that. Nobody skips it,
administrators included."""

import datetime
import html
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import two_factor
from portal.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory, confirmed_authenticator, current_code, sign_in_with_two_factor

SETUP = reverse("two-factor-setup")
VERIFY = reverse("two-factor-verify")
SECURITY = reverse("account-security")
CODES = reverse("two-factor-recovery-codes")


def password_sign_in(client, user, next_url=None):
    url = reverse("sign-in") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def code_for(device):
    return current_code(device)


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def errors(response):
    found = re.findall(
        r'class="nhsuk-error-message"[^>]*>\s*<span class="nhsuk-u-visually-hidden">Error:\s*</span>([^<]+)',
        response.content.decode(),
    )
    return [html.unescape(message).strip() for message in found]


# ---- first sign-in: setting up -------------------------------------------------------------------


class TestFirstSignIn:
    def test_every_page_sends_a_person_without_an_app_to_set_one_up(self, client, lead, trust):
        password_sign_in(client, lead)
        for path in [
            reverse("home"),
            reverse("trust-people", args=[trust.ods_code]),
            reverse("assessment-list", args=[trust.ods_code]),
        ]:
            response = client.get(path)
            assert response.status_code == 302
            assert response["Location"] == f"{SETUP}?next={path.replace('/', '%2F')}"

    def test_the_set_up_page_shows_a_qr_code_and_the_key_to_type_in(self, client, lead):
        password_sign_in(client, lead)
        page = client.get(SETUP)
        assert page.status_code == 200
        device = TOTPDevice.objects.get(user=lead)
        assert not device.confirmed
        body = page.content.decode()
        assert "<svg" in body
        assert 'role="img"' in body
        key = two_factor.readable_key(device)
        assert key.replace(" ", "") in re.sub(r"\s", "", body)
        assert "issuer=MH%20social%20work%20self-assessment" in device.config_url
        # A reload keeps the same key: the QR code already scanned stays valid.
        client.get(SETUP)
        assert TOTPDevice.objects.filter(user=lead).count() == 1

    def test_a_wrong_code_is_refused_and_the_same_key_kept(self, client, lead):
        password_sign_in(client, lead)
        client.get(SETUP)
        device = TOTPDevice.objects.get(user=lead)
        wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
        response = client.post(SETUP, {"code": wrong})
        assert response.status_code == 200
        assert errors(response) == ["The security code is not correct. Enter the code your app shows now"]
        assert "There is a problem" in response.content.decode()
        device.refresh_from_db()
        assert not device.confirmed
        assert TOTPDevice.objects.filter(user=lead).count() == 1

    @pytest.mark.parametrize(
        ("code", "message"),
        [
            ("", "Enter the 6-digit security code from your authenticator app"),
            ("12345", "Security code must be 6 numbers"),
            ("abcdef", "Security code must be 6 numbers"),
            ("1" * 5000, "Security code must be 6 numbers"),
        ],
    )
    def test_badly_formed_codes_get_a_specific_message(self, client, lead, code, message):
        password_sign_in(client, lead)
        client.get(SETUP)
        response = client.post(SETUP, {"code": code})
        assert errors(response) == [message]

    def test_the_right_code_confirms_the_app_and_shows_ten_recovery_codes_once(self, client, lead):
        password_sign_in(client, lead, next_url="/assessments/")
        client.get(f"{SETUP}?next=/assessments/")
        device = TOTPDevice.objects.get(user=lead)
        response = client.post(
            f"{SETUP}?next=/assessments/", {"code": " " + code_for(device)[:3] + " " + code_for(device)[3:]}
        )
        assert response.status_code == 302
        assert response["Location"] == f"{CODES}?next=%2Fassessments%2F"
        device.refresh_from_db()
        assert device.confirmed
        assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id

        page = client.get(response["Location"])
        shown = re.findall(r"<li[^>]*>\s*<code>([a-z2-7]{4} [a-z2-7]{4})</code>", page.content.decode())
        assert len(shown) == 10
        stored = set(StaticToken.objects.filter(device__user=lead).values_list("token", flat=True))
        assert {code.replace(" ", "") for code in shown} == stored
        assert 'href="/assessments/"' in page.content.decode()
        # Shown once: a second visit does not show them again.
        again = client.get(CODES)
        assert again.status_code == 302
        assert again["Location"] == SECURITY
        assert AuditEvent.objects.filter(actor=lead, action="two_factor.set_up").count() == 1

    def test_the_person_then_reaches_the_page_they_asked_for(self, client, lead):
        password_sign_in(client, lead)
        client.get(SETUP)
        device = TOTPDevice.objects.get(user=lead)
        client.post(SETUP, {"code": code_for(device)})
        assert client.get(reverse("home")).status_code == 200

    def test_an_accepted_invitation_leads_straight_to_setting_up(self, client, lead, trust):
        from portal import services
        from portal.models import TrustRole

        _, token = services.invite_colleague(
            trust=trust,
            invited_by=lead,
            email="new.starter@example.nhs.uk",
            full_name="Nia New",
            role=TrustRole.CONTRIBUTOR,
        )
        url = reverse("accept-invitation", args=[token])
        created = client.post(
            url,
            {
                "full_name": "Nia New",
                "job_title": "Social worker",
                "password1": "a-long-new-password-2026",
                "password2": "a-long-new-password-2026",
            },
        )
        assert created.status_code == 302
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP)


# ---- later sign-ins: the security code -----------------------------------------------------------


class TestLaterSignIns:
    def test_a_person_with_an_app_is_asked_for_a_code_not_sent_to_set_up(self, client, lead):
        confirmed_authenticator(lead)
        password_sign_in(client, lead)
        response = client.get(reverse("home"))
        assert response["Location"] == f"{VERIFY}?next=%2F"
        assert client.get(SETUP)["Location"].startswith(VERIFY)

    def test_someone_with_only_the_password_cannot_add_their_own_app(self, client, lead):
        """The attack two-factor exists for: a stolen password must not let anyone enrol a new app."""
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        response = client.post(SETUP, {"code": "123456"})
        assert response.status_code == 302
        assert response["Location"].startswith(VERIFY)
        assert list(TOTPDevice.objects.filter(user=lead)) == [device]

    def test_the_right_code_signs_in(self, client, lead):
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        response = client.post(f"{VERIFY}?next=/assessments/", {"code": code_for(device)})
        assert response.status_code == 302
        assert response["Location"] == "/assessments/"
        assert client.get(reverse("home")).status_code == 200

    def test_a_wrong_code_is_refused_with_a_message(self, client, lead):
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        response = client.post(VERIFY, {"code": f"{(int(code_for(device)) + 500_000) % 1_000_000:06d}"})
        assert response.status_code == 200
        assert errors(response) == ["The security code is not correct. Enter the code your app shows now"]
        assert client.get(reverse("home")).status_code == 302

    def test_a_code_cannot_be_used_twice(self, client, lead):
        device = confirmed_authenticator(lead)
        code = code_for(device)
        password_sign_in(client, lead)
        assert client.post(VERIFY, {"code": code}).status_code == 302
        client.post(reverse("sign-out"))
        password_sign_in(client, lead)
        response = client.post(VERIFY, {"code": code})
        assert response.status_code == 200
        assert errors(response) == ["The security code is not correct. Enter the code your app shows now"]

    def test_repeated_wrong_codes_slow_down_guessing(self, client, lead):
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        wrong = f"{(int(code_for(device)) + 500_000) % 1_000_000:06d}"
        for _ in range(3):
            client.post(VERIFY, {"code": wrong})
        response = client.post(VERIFY, {"code": code_for(device)})
        assert response.status_code == 200
        [message] = errors(response)
        assert re.fullmatch(r"You have entered too many wrong codes\. Wait \d+ seconds?, then try again", message)
        assert client.get(reverse("home")).status_code == 302

    def test_a_recovery_code_signs_in_once(self, client, lead):
        confirmed_authenticator(lead)
        codes = two_factor.create_recovery_codes(lead, actor=lead)
        password_sign_in(client, lead)
        response = client.post(VERIFY, {"code": codes[0].upper().replace("", " ").strip()}, follow=True)
        assert response.status_code == 200
        assert "You signed in with a recovery code. You have 9 recovery codes left." in text(response)
        assert AuditEvent.objects.filter(actor=lead, action="two_factor.recovery_code_used").count() == 1

        client.post(reverse("sign-out"))
        password_sign_in(client, lead)
        again = client.post(VERIFY, {"code": codes[0]})
        assert errors(again) == ["The recovery code is not correct or has already been used"]

    def test_few_recovery_codes_left_prompts_new_ones(self, client, lead):
        confirmed_authenticator(lead)
        codes = two_factor.create_recovery_codes(lead, actor=lead)
        StaticToken.objects.filter(token__in=codes[1:8]).delete()
        password_sign_in(client, lead)
        response = client.post(VERIFY, {"code": codes[0]}, follow=True)
        assert "You have 2 recovery codes left. Create new recovery codes" in text(response)

    def test_the_next_address_cannot_leave_the_portal(self, client, lead):
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        response = client.post(f"{VERIFY}?next=https://evil.example/", {"code": code_for(device)})
        assert response["Location"] == reverse("home")

    def test_verify_without_an_app_sends_to_set_up(self, client, lead):
        password_sign_in(client, lead)
        assert client.get(VERIFY)["Location"].startswith(SETUP)

    def test_a_person_half_signed_in_can_still_sign_out_and_read_public_pages(self, client, lead):
        confirmed_authenticator(lead)
        password_sign_in(client, lead)
        assert client.get(reverse("accessibility")).status_code == 200
        response = client.post(reverse("sign-out"))
        assert response.status_code == 302
        assert SESSION_KEY not in client.session

    def test_the_security_pages_need_the_password_first(self, client):
        for url in (SETUP, VERIFY, SECURITY, CODES):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("sign-in"))


class TestAdministrators:
    def test_an_administrator_cannot_reach_the_admin_without_a_code(self, client, administrator):
        confirmed_authenticator(administrator)
        password_sign_in(client, administrator)
        for path in ("/admin/", "/admin/portal/user/"):
            response = client.get(path)
            assert response.status_code == 302
            assert response["Location"].startswith(VERIFY)

    def test_the_admin_site_itself_refuses_an_unverified_session(self, rf, administrator):
        """Defence in depth: even without the middleware the admin site asks for a verified session."""
        from django.contrib import admin

        request = rf.get("/admin/")
        request.user = administrator
        administrator.is_verified = lambda: False
        assert not admin.site.has_permission(request)
        administrator.is_verified = lambda: True
        assert admin.site.has_permission(request)

    def test_an_administrator_without_an_app_must_set_one_up(self, client, administrator):
        password_sign_in(client, administrator)
        assert client.get("/admin/")["Location"].startswith(SETUP)

    def test_an_administrator_resets_a_lost_phone_and_the_person_sets_up_again(
        self, client, client_for, administrator, lead
    ):
        confirmed_authenticator(lead)
        two_factor.create_recovery_codes(lead, actor=lead)
        admin_client = client_for(administrator)
        response = admin_client.post(
            "/admin/portal/user/",
            {"action": "reset_two_factor", "_selected_action": [lead.pk], "index": 0},
            follow=True,
        )
        assert response.status_code == 200
        assert "Two-factor sign-in reset for 1 person" in text(response)
        assert not TOTPDevice.objects.filter(user=lead).exists()
        assert not StaticDevice.objects.filter(user=lead).exists()
        event = AuditEvent.objects.get(action="two_factor.reset")
        assert event.actor == administrator
        assert lead.email in event.summary

    def test_the_reset_command(self, lead):
        confirmed_authenticator(lead)
        call_command("reset_two_factor", lead.email.upper())
        assert not TOTPDevice.objects.filter(user=lead).exists()
        with pytest.raises(CommandError, match=re.escape("No account with the email address nobody@example.nhs.uk")):
            call_command("reset_two_factor", "nobody@example.nhs.uk")


# ---- managing it once signed in ------------------------------------------------------------------


class TestAccountSecurity:
    def test_the_page_says_what_is_set_up(self, client_for, lead):
        two_factor.create_recovery_codes(lead, actor=lead)
        page = client_for(lead).get(SECURITY)
        assert page.status_code == 200
        body = text(page)
        assert "Authenticator app" in body
        assert "10 of 10 recovery codes unused" in body

    def test_new_recovery_codes_replace_the_old_ones(self, client_for, lead):
        old = two_factor.create_recovery_codes(lead, actor=lead)
        client = client_for(lead)
        response = client.post(reverse("two-factor-new-recovery-codes"))
        assert response["Location"] == CODES
        new = set(StaticToken.objects.filter(device__user=lead).values_list("token", flat=True))
        assert len(new) == 10
        assert not new & set(old)
        assert client.get(CODES).status_code == 200

    def test_replacing_the_app_keeps_the_old_one_until_the_new_one_works(self, client_for, lead):
        client = client_for(lead)
        old = TOTPDevice.objects.get(user=lead, confirmed=True)
        page = client.get(SETUP)
        assert page.status_code == 200
        new = TOTPDevice.objects.get(user=lead, confirmed=False)
        assert client.post(SETUP, {"code": "000000" if code_for(new) != "000000" else "111111"}).status_code == 200
        assert TOTPDevice.objects.filter(pk=old.pk).exists()
        # A person takes more than the second django-otp waits after one wrong code.
        TOTPDevice.objects.filter(pk=new.pk).update(
            throttling_failure_timestamp=timezone.now() - datetime.timedelta(seconds=5)
        )
        response = client.post(SETUP, {"code": code_for(new)})
        assert response.status_code == 302
        assert list(TOTPDevice.objects.filter(user=lead)) == [new]
        # Still signed in, now through the new app.
        assert client.get(reverse("home")).status_code == 200


class TestDemo:
    def test_demo_accounts_share_one_published_key_and_the_command_prints_its_code(self, db, settings, capsys):
        settings.DEBUG = True
        user = UserFactory(email="demo.person@example.nhs.uk")
        device = two_factor.give_demo_authenticator(user)
        assert device.confirmed
        call_command("demo_code")
        printed = capsys.readouterr().out
        assert re.search(r"\b\d{6}\b", printed)
        assert current_code(device) in printed

    def test_the_demo_command_refuses_outside_debug(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="only for the demo"):
            call_command("demo_code")


def test_mail_is_not_used_for_codes(client, lead):
    """Codes come from the person's app, never by email (email is not a second factor)."""
    password_sign_in(client, lead)
    client.get(SETUP)
    assert mail.outbox == []


class TestHardening:
    """From the security review of this feature."""

    def test_a_reset_ends_the_persons_open_sessions(self, client_for, lead, administrator):
        lost_laptop = client_for(lead)
        assert lost_laptop.get(reverse("home")).status_code == 200
        admin_client = sign_in_with_two_factor(Client(), administrator)
        admin_client.post(
            "/admin/portal/user/", {"action": "reset_two_factor", "_selected_action": [lead.pk], "index": 0}
        )
        response = lost_laptop.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("sign-in"))  # signed out, not offered a new app
        assert admin_client.get(reverse("home")).status_code == 200  # the administrator's own session stays

    def test_the_session_gets_a_new_id_once_the_code_is_given(self, client, lead):
        device = confirmed_authenticator(lead)
        password_sign_in(client, lead)
        before = client.session.session_key
        client.post(VERIFY, {"code": code_for(device)})
        assert client.session.session_key != before
        assert client.get(reverse("home")).status_code == 200

    def test_django_otps_own_admin_pages_are_not_there(self, client_for, administrator, lead):
        confirmed_authenticator(lead)
        client = client_for(administrator)
        for path in ("/admin/otp_totp/totpdevice/", "/admin/otp_static/staticdevice/"):
            assert client.get(path).status_code == 404

    def test_a_head_request_does_not_use_up_the_one_showing_of_new_codes(self, client_for, lead):
        client = client_for(lead)
        client.post(reverse("two-factor-new-recovery-codes"))
        assert client.head(CODES).status_code == 405
        assert client.get(CODES).status_code == 200
