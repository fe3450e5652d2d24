"""Home page per role, the health check, and signing in and out."""

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from tests.factories import TEST_PASSWORD


class TestHome:
    def test_lead_sees_trust_role_and_manage_people(self, client_for, lead, trust):
        """A lead lands on their trust with the role and a way to manage people."""
        content = client_for(lead).get(reverse("home")).content.decode()
        assert trust.name in content
        assert "Social work lead" in content
        assert reverse("trust-people", args=[trust.ods_code]) in content

    @pytest.mark.parametrize(
        ("person", "label"),
        [("contributor", "Contributor"), ("executive", "Executive sponsor"), ("board_reader", "Board reader")],
    )
    def test_other_trust_roles_see_their_role_without_people_management(
        self, client_for, trust, person, label, request
    ):
        """Each trust role sees its organisation and what it can do there, but not people management."""
        content = client_for(request.getfixturevalue(person)).get(reverse("home")).content.decode()
        assert trust.name in content
        assert label in content
        assert reverse("trust-people", args=[trust.ods_code]) not in content

    def test_trust_people_reach_assessments_and_evidence(self, client_for, contributor, trust):
        """Working roles get links to the trust's assessments and its evidence library."""
        content = client_for(contributor).get(reverse("home")).content.decode()
        assert reverse("assessment-list", args=[trust.ods_code]) in content
        assert reverse("evidence-library", args=[trust.ods_code]) in content

    def test_board_reader_reaches_signed_off_assessments_only(self, client_for, board_reader, trust):
        """Board readers see signed-off assessments, not the evidence library."""
        content = client_for(board_reader).get(reverse("home")).content.decode()
        assert "Signed-off assessments" in content
        assert reverse("evidence-library", args=[trust.ods_code]) not in content

    def test_ics_lead_sees_their_icb_and_its_trusts(
        self, client_for, ics_lead, icb, trust, neighbour_trust, other_trust
    ):
        """ICS leads see their system and the trusts in it."""
        content = client_for(ics_lead).get(reverse("home")).content.decode()
        assert icb.name in content
        assert trust.name in content
        assert neighbour_trust.name in content
        assert other_trust.name not in content

    def test_administrator_sees_administration_link(self, client_for, administrator):
        """Staff get the administration link and no trust."""
        content = client_for(administrator).get(reverse("home")).content.decode()
        assert reverse("admin:index") in content

    def test_person_without_memberships_is_told_how_to_get_access(self, client_for, db):
        """Nobody is left on an empty page."""
        from tests.factories import UserFactory

        content = client_for(UserFactory()).get(reverse("home")).content.decode()
        assert "Ask your trust's social work lead to invite you" in content

    def test_home_query_count_does_not_grow_with_memberships(self, client_for, ics_lead, trust):
        """A fixed number of queries however many organisations and trusts a person has."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from tests.factories import ICBMembershipFactory, TrustICBMembershipFactory, TrustMembershipFactory

        client = client_for(ics_lead)
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("home"))
        for _ in range(3):
            TrustICBMembershipFactory(icb=ICBMembershipFactory(user=ics_lead).icb)
            TrustMembershipFactory(user=ics_lead)
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("home"))
        assert len(many) == len(few)

    def test_anonymous_is_sent_to_sign_in(self, client, db):
        """Home requires signing in."""
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("sign-in"))


class TestHealthCheck:
    def test_ok_when_database_answers(self, client, db):
        """200 and the text ok, without signing in."""
        response = client.get(reverse("healthz"))
        assert response.status_code == 200
        assert response.content == b"ok"

    def test_post_not_allowed(self, client, db):
        """Only GET and HEAD."""
        assert client.post(reverse("healthz")).status_code == 405

    @pytest.mark.django_db(transaction=True)
    def test_503_when_database_does_not_answer(self, client):
        """A real connection failure (wrong port) gives 503, not a server error."""
        original = connection.settings_dict.copy()
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
        try:
            response = client.get(reverse("healthz"))
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(original)
        assert response.status_code == 503


class TestSignIn:
    def test_sign_in_with_email_in_any_case(self, client, lead):
        """E-mail addresses are matched without regard to case."""
        response = client.post(reverse("sign-in"), {"username": "LEAD@Example.NHS.uk", "password": TEST_PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == reverse("home")

    def test_wrong_password_gives_one_message_and_keeps_email(self, client, lead):
        """The message does not reveal whether the account exists; the address typed stays."""
        wrong = client.post(reverse("sign-in"), {"username": lead.email, "password": "nope"}).content.decode()
        unknown = client.post(
            reverse("sign-in"), {"username": "nobody@example.nhs.uk", "password": "nope"}
        ).content.decode()
        assert "Enter a correct email address and password" in wrong
        assert "Enter a correct email address and password" in unknown
        assert f'value="{lead.email}"' in wrong

    def test_empty_form_says_what_to_enter(self, client, db):
        """Each empty field has its own message."""
        content = client.post(reverse("sign-in"), {}).content.decode()
        assert "Enter your email address" in content
        assert "Enter your password" in content

    def test_sign_out_needs_post(self, client_for, lead):
        """Signing out is a POST (no sign-out by a stray link) and ends the session."""
        client = client_for(lead)
        assert client.get(reverse("sign-out")).status_code == 405
        assert client.post(reverse("sign-out")).status_code == 302
        assert client.get(reverse("home")).status_code == 302

    def test_password_reset_emails_a_link_that_sets_a_new_password(self, client, lead):
        """Forgotten passwords can be reset by e-mail."""
        response = client.post(reverse("password_reset"), {"email": lead.email})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        link = next(line for line in mail.outbox[0].body.splitlines() if "/password-reset/" in line)
        path = link.split("testserver", 1)[1]
        form_page = client.get(path, follow=True)
        set_url = form_page.redirect_chain[-1][0]
        done = client.post(
            set_url, {"new_password1": "brand-new-pass-phrase", "new_password2": "brand-new-pass-phrase"}
        )
        assert done.status_code == 302
        lead.refresh_from_db()
        assert lead.check_password("brand-new-pass-phrase")

    def test_password_reset_for_unknown_address_looks_the_same(self, client, db):
        """No e-mail, but the same next page: accounts are not revealed."""
        response = client.post(reverse("password_reset"), {"email": "nobody@example.nhs.uk"})
        assert response.status_code == 302
        assert mail.outbox == []

    def test_sessions_expire(self, settings):
        """Sessions end after inactivity and when the browser closes."""
        assert settings.SESSION_COOKIE_AGE <= 60 * 60
        # Activity renews the session: saved once a minute by the portal's session middleware, else on
        # every request (tests/test_session_expiry.py).
        assert (
            "portal.middleware.IdleTimeoutSessionMiddleware" in settings.MIDDLEWARE
            or settings.SESSION_SAVE_EVERY_REQUEST
        )
        assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
