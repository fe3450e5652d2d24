"""Trust leads invite colleagues, change their roles and remove them; nobody manages another trust's people."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal import services
from portal.models import AuditEvent, Invitation, TrustMembership, TrustRole, User
from tests.factories import TrustMembershipFactory, UserFactory, sign_in_with_two_factor


def people_url(trust):
    return reverse("trust-people", args=[trust.ods_code])


def invite_url(trust):
    return reverse("invite-colleague", args=[trust.ods_code])


def invitation_link(message):
    return re.search(r"https?://[^/]+(/invitations/[^/\s]+/)", message.body).group(1)


def invite(client, trust, **data):
    data = {"full_name": "Nia Jones", "email": "Nia.Jones@example.nhs.uk", "role": "contributor", **data}
    return client.post(invite_url(trust), data)


class TestPeoplePage:
    def test_lead_sees_members_and_pending_invitations(self, client_for, lead, contributor, trust):
        """The lead sees everyone at the trust and invitations not yet accepted."""
        services.invite_colleague(
            trust=trust, invited_by=lead, email="new@example.nhs.uk", full_name="New Person", role=TrustRole.EXECUTIVE
        )
        response = client_for(lead).get(people_url(trust))
        assert response.status_code == 200
        content = response.content.decode()
        assert contributor.full_name in content
        assert "new@example.nhs.uk" in content

    @pytest.mark.parametrize("person", ["contributor", "executive", "board_reader", "ics_lead"])
    def test_other_roles_are_forbidden(self, client_for, trust, person, request):
        """Only the trust's lead manages people: other roles that can see the trust get 403."""
        user = request.getfixturevalue(person)
        assert client_for(user).get(people_url(trust)).status_code == 403

    def test_outsider_gets_404(self, client_for, outsider, trust):
        """Another trust's lead cannot even learn that the page exists."""
        assert client_for(outsider).get(people_url(trust)).status_code == 404

    def test_administrator_gets_404(self, client_for, administrator, trust):
        """Platform administrators have no routine access to a trust's pages."""
        assert client_for(administrator).get(people_url(trust)).status_code == 404

    def test_anonymous_is_sent_to_sign_in(self, client, trust):
        """Signing in is required."""
        response = client.get(people_url(trust))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("sign-in"))

    def test_post_is_not_allowed(self, client_for, lead, trust):
        """The page only reads."""
        assert client_for(lead).post(people_url(trust)).status_code == 405


class TestInvite:
    def test_lead_invites_a_colleague_by_email(self, client_for, lead, trust):
        """An invitation is stored (as a token hash) and e-mailed with a link."""
        response = invite(client_for(lead), trust)
        assert response.status_code == 302
        invitation = Invitation.objects.get()
        assert invitation.email == "nia.jones@example.nhs.uk"
        assert invitation.role == TrustRole.CONTRIBUTOR
        assert invitation.invited_by == lead
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["nia.jones@example.nhs.uk"]
        token = invitation_link(mail.outbox[0]).split("/")[2]
        assert invitation.token_hash == services.hash_token(token)
        assert token not in invitation.token_hash
        assert AuditEvent.objects.filter(trust=trust, action="invitation_sent", actor=lead).exists()

    def test_missing_fields_give_specific_errors_and_keep_what_was_typed(self, client_for, lead, trust):
        """Bad input is refused with NHS-style messages and nothing typed is lost."""
        response = client_for(lead).post(invite_url(trust), {"full_name": "Nia Jones", "email": "not-an-email"})
        assert response.status_code == 200
        content = response.content.decode()
        assert "There is a problem" in content
        assert "Enter an email address in the correct format, like name@example.nhs.uk" in content
        assert "Select a role" in content
        assert 'value="Nia Jones"' in content
        assert 'value="not-an-email"' in content
        assert not Invitation.objects.exists()
        assert mail.outbox == []

    def test_existing_member_cannot_be_invited_again(self, client_for, lead, contributor, trust):
        """Someone who already has access gets a role change, not a second invitation."""
        response = invite(client_for(lead), trust, email=contributor.email.upper())
        assert response.status_code == 200
        assert "already has access" in response.content.decode()
        assert not Invitation.objects.exists()

    def test_inviting_again_withdraws_the_earlier_link(self, lead, trust):
        """Only the newest invitation to an address works."""
        first, _ = services.invite_colleague(
            trust=trust, invited_by=lead, email="a@example.nhs.uk", full_name="A", role=TrustRole.CONTRIBUTOR
        )
        services.invite_colleague(
            trust=trust, invited_by=lead, email="a@example.nhs.uk", full_name="A", role=TrustRole.EXECUTIVE
        )
        first.refresh_from_db()
        assert not first.is_pending
        assert trust.invitations.pending().get().role == TrustRole.EXECUTIVE

    def test_overlong_email_is_refused_with_a_message(self, client_for, lead, trust):
        """An address longer than the 254 characters e-mail allows gets a message, not a server error."""
        response = invite(client_for(lead), trust, email="a" * 64 + "@" + ("b" * 60 + ".") * 4 + "nhs.uk")
        assert response.status_code == 200
        assert "There is a problem" in response.content.decode()
        assert not Invitation.objects.exists()

    def test_mail_server_down_withdraws_invitation_and_keeps_form(self, client_for, lead, trust, settings):
        """If the e-mail cannot be sent, no working link is left behind and what was typed stays."""
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": 1, "timeout": 2},
            }
        }
        response = invite(client_for(lead), trust)
        content = response.content.decode()
        assert response.status_code == 200
        assert "could not send the invitation email" in content
        assert 'value="Nia Jones"' in content
        assert not trust.invitations.pending().exists()

    def test_outsider_cannot_invite_to_another_trust(self, client_for, outsider, trust):
        """Nobody can manage another trust's people."""
        assert invite(client_for(outsider), trust).status_code == 404
        assert not Invitation.objects.exists()

    def test_contributor_cannot_invite(self, client_for, contributor, trust):
        """Inviting is for the lead."""
        assert invite(client_for(contributor), trust).status_code == 403

    def test_put_is_not_allowed(self, client_for, lead, trust):
        """Only GET and POST."""
        assert client_for(lead).put(invite_url(trust)).status_code == 405


class TestAcceptInvitation:
    @pytest.fixture
    def link(self, client_for, lead, trust, client):
        invite(client_for(lead), trust)
        client.logout()
        return invitation_link(mail.outbox[0])

    def test_new_person_creates_an_account_and_joins(self, client, link, trust):
        """The invited person sets a password and lands on their home page with the role."""
        page = client.get(link)
        assert page.status_code == 200
        assert "Create your account" in page.content.decode()
        response = client.post(
            link,
            {
                "full_name": "Nia Jones",
                "job_title": "AMHP",
                "password1": "a-long-pass-phrase",
                "password2": "a-long-pass-phrase",
            },
        )
        assert response.status_code == 302
        user = User.objects.get(email="nia.jones@example.nhs.uk")
        assert TrustMembership.objects.get(user=user, trust=trust).role == TrustRole.CONTRIBUTOR
        # Signed in with the new password; their first stop is setting up two-factor sign-in.
        assert client.session[SESSION_KEY] == str(user.pk)
        assert client.get(reverse("home"))["Location"].startswith(reverse("two-factor-setup"))

    def test_weak_or_mismatched_password_is_refused_and_name_kept(self, client, link):
        """Password rules apply and the form keeps the name typed."""
        response = client.post(link, {"full_name": "Nia Typed", "password1": "short", "password2": "other"})
        content = response.content.decode()
        assert "The passwords do not match" in content
        assert 'value="Nia Typed"' in content
        assert not User.objects.filter(email="nia.jones@example.nhs.uk").exists()

    def test_link_works_once(self, client, link):
        """A used invitation cannot be used again."""
        data = {"full_name": "Nia", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}
        client.post(link, data)
        client.logout()
        assert client.get(link).status_code == 410

    def test_expired_link_is_refused(self, client, link):
        """Invitations expire."""
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        response = client.get(link)
        assert response.status_code == 410
        assert "does not work" in response.content.decode()

    def test_unknown_link_is_404(self, client, db):
        """A made-up token finds nothing."""
        assert client.get(reverse("accept-invitation", args=["not-a-real-token"])).status_code == 404

    def test_existing_account_signs_in_then_accepts(self, client, link, trust):
        """Someone with an account (say at another trust) signs in and accepts with one click."""
        user = UserFactory(email="nia.jones@example.nhs.uk", full_name="Nia Jones")
        page = client.get(link)
        assert "Sign in to accept" in page.content.decode()
        sign_in_with_two_factor(client, user)
        assert client.post(link).status_code == 302
        assert TrustMembership.objects.filter(user=user, trust=trust).exists()

    def test_someone_else_signed_in_cannot_accept(self, client_for, link, contributor, trust):
        """An invitation belongs to the address it was sent to."""
        response = client_for(contributor).post(link)
        assert response.status_code == 403
        assert not TrustMembership.objects.filter(user__email="nia.jones@example.nhs.uk").exists()


class TestChangeRoleAndRemove:
    def test_lead_changes_a_role_and_it_is_audited(self, client_for, lead, contributor, trust):
        """The change is saved with who made it, before and after."""
        membership = TrustMembership.objects.get(user=contributor)
        url = reverse("change-role", args=[trust.ods_code, membership.pk])
        assert client_for(lead).post(url, {"role": "executive"}).status_code == 302
        membership.refresh_from_db()
        assert membership.role == TrustRole.EXECUTIVE
        event = AuditEvent.objects.get(action="role_changed")
        assert event.actor == lead
        assert event.changes == {"role": ["contributor", "executive"]}

    def test_change_role_without_choice_shows_error(self, client_for, lead, contributor, trust):
        """Submitting nothing says what to do."""
        membership = TrustMembership.objects.get(user=contributor)
        response = client_for(lead).post(reverse("change-role", args=[trust.ods_code, membership.pk]), {})
        assert "Select a role" in response.content.decode()

    def test_last_lead_cannot_step_down(self, client_for, lead, trust):
        """A trust always keeps a social work lead."""
        membership = TrustMembership.objects.get(user=lead)
        response = client_for(lead).post(
            reverse("change-role", args=[trust.ods_code, membership.pk]), {"role": "contributor"}
        )
        assert response.status_code == 200
        assert "at least one social work lead" in response.content.decode()
        membership.refresh_from_db()
        assert membership.role == TrustRole.LEAD

    def test_lead_who_steps_down_goes_home(self, client_for, lead, trust):
        """With another lead in place, a lead can make themselves a contributor and lands on home."""
        TrustMembershipFactory(trust=trust, role=TrustRole.LEAD)
        membership = TrustMembership.objects.get(user=lead)
        url = reverse("change-role", args=[trust.ods_code, membership.pk])
        response = client_for(lead).post(url, {"role": "contributor"})
        assert response["Location"] == reverse("home")
        membership.refresh_from_db()
        assert membership.role == TrustRole.CONTRIBUTOR

    def test_lead_removes_a_member(self, client_for, lead, contributor, trust):
        """After confirming, the person loses access."""
        membership = TrustMembership.objects.get(user=contributor)
        url = reverse("remove-member", args=[trust.ods_code, membership.pk])
        assert client_for(lead).get(url).status_code == 200
        assert client_for(lead).post(url).status_code == 302
        assert not TrustMembership.objects.filter(pk=membership.pk).exists()
        assert AuditEvent.objects.filter(action="member_removed", trust=trust).exists()

    def test_last_lead_cannot_remove_themselves(self, client_for, lead, trust):
        """The only lead stays."""
        membership = TrustMembership.objects.get(user=lead)
        response = client_for(lead).post(reverse("remove-member", args=[trust.ods_code, membership.pk]))
        assert response.status_code == 400
        assert TrustMembership.objects.filter(pk=membership.pk).exists()

    def test_second_lead_can_remove_the_first(self, client_for, lead, trust):
        """With two leads, one may go."""
        other_lead = TrustMembershipFactory(trust=trust, role=TrustRole.LEAD).user
        membership = TrustMembership.objects.get(user=lead)
        client_for(other_lead).post(reverse("remove-member", args=[trust.ods_code, membership.pk]))
        assert not TrustMembership.objects.filter(pk=membership.pk).exists()

    def test_membership_of_another_trust_is_404_under_own_trust(self, client_for, lead, outsider, trust):
        """A lead cannot reach another trust's member by guessing an id."""
        foreign = TrustMembership.objects.get(user=outsider)
        for name in ["change-role", "remove-member"]:
            response = client_for(lead).post(reverse(name, args=[trust.ods_code, foreign.pk]), {"role": "contributor"})
            assert response.status_code == 404
        assert TrustMembership.objects.get(pk=foreign.pk).role == TrustRole.LEAD

    def test_outsider_cannot_remove_member(self, client_for, outsider, contributor, trust):
        """Another trust's lead gets 404 and nothing changes."""
        membership = TrustMembership.objects.get(user=contributor)
        assert (
            client_for(outsider).post(reverse("remove-member", args=[trust.ods_code, membership.pk])).status_code == 404
        )
        assert TrustMembership.objects.filter(pk=membership.pk).exists()

    def test_contributor_cannot_change_roles(self, client_for, contributor, trust):
        """Managing people is for the lead."""
        membership = TrustMembership.objects.get(user=contributor)
        url = reverse("change-role", args=[trust.ods_code, membership.pk])
        assert client_for(contributor).post(url, {"role": "lead"}).status_code == 403
        membership.refresh_from_db()
        assert membership.role == TrustRole.CONTRIBUTOR

    def test_lead_cannot_withdraw_another_trusts_invitation(self, client_for, lead, outsider, other_trust, trust):
        """An invitation id from another trust is 404 under your own trust and stays valid."""
        invitation, _ = services.invite_colleague(
            trust=other_trust, invited_by=outsider, email="y@example.nhs.uk", full_name="Y", role=TrustRole.LEAD
        )
        url = reverse("withdraw-invitation", args=[trust.ods_code, invitation.pk])
        assert client_for(lead).post(url).status_code == 404
        invitation.refresh_from_db()
        assert invitation.is_pending

    def test_lead_withdraws_an_invitation(self, client_for, lead, trust):
        """A withdrawn invitation link stops working."""
        invitation, token = services.invite_colleague(
            trust=trust, invited_by=lead, email="x@example.nhs.uk", full_name="X", role=TrustRole.CONTRIBUTOR
        )
        url = reverse("withdraw-invitation", args=[trust.ods_code, invitation.pk])
        assert client_for(lead).get(url).status_code == 405
        assert client_for(lead).post(url).status_code == 302
        invitation.refresh_from_db()
        assert invitation.revoked_at is not None
        assert client_for(lead).get(reverse("accept-invitation", args=[token])).status_code == 410
