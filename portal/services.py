"""Changes to who may do what at a trust. Each is one transaction that writes its own audit event."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.models import AuditEvent, Invitation, Trust, TrustMembership, TrustRole, User


class PeopleError(Exception):
    """A change to a trust's people that the rules do not allow; the message is for the user."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(*, trust: Trust, actor: User | None, action: str, summary: str, changes: dict | None = None) -> None:
    AuditEvent.objects.create(trust=trust, actor=actor, action=action, summary=summary, changes=changes or {})


@transaction.atomic
def invite_colleague(
    *, trust: Trust, invited_by: User, email: str, full_name: str, role: TrustRole
) -> tuple[Invitation, str]:
    """Create a single-use invitation and return it with its token (the only copy: it goes in the e-mail).

    Inviting the same address again withdraws the earlier invitation, so only the newest link works.
    """
    email = email.strip().lower()
    if TrustMembership.objects.filter(trust=trust, user__email__iexact=email).exists():
        raise PeopleError(f"{email} already has access to {trust.name}. Change their role instead.")
    now = timezone.now()
    Invitation.objects.pending().filter(trust=trust, email__iexact=email).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        trust=trust,
        email=email,
        full_name=full_name.strip(),
        role=role,
        token_hash=hash_token(token),
        invited_by=invited_by,
        expires_at=now + settings.INVITATION_MAX_AGE,
    )
    _audit(
        trust=trust,
        actor=invited_by,
        action="invitation_sent",
        summary=f"Invited {invitation.full_name} ({email}) as {invitation.get_role_display()}",
        changes={"role": [None, role]},
    )
    return invitation, token


def find_invitation(token: str) -> Invitation | None:
    return Invitation.objects.select_related("trust").filter(token_hash=hash_token(token)).first()


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: User) -> TrustMembership:
    """Give the invited person their role at the trust. The invitation can be used once only."""
    # Lock the row: two clicks on the same link must not both succeed.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise PeopleError("This invitation has expired or has already been used.")
    if user.email.lower() != invitation.email.lower():
        raise PeopleError(f"This invitation is for {invitation.email}.")
    if TrustMembership.objects.filter(trust=invitation.trust, user=user).exists():
        raise PeopleError(f"You already have access to {invitation.trust.name}.")
    membership = TrustMembership.objects.create(user=user, trust=invitation.trust, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    _audit(
        trust=invitation.trust,
        actor=user,
        action="invitation_accepted",
        summary=f"{user.full_name} joined as {membership.get_role_display()}",
        changes={"role": [None, membership.role]},
    )
    return membership


@transaction.atomic
def create_account_from_invitation(
    *, invitation: Invitation, full_name: str, job_title: str, password: str
) -> tuple[User, TrustMembership]:
    """Create the invited person's account and accept the invitation in one step."""
    # Lock the invitation first: a double-clicked "Create account" must not create two accounts.
    Invitation.objects.select_for_update().get(pk=invitation.pk)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise PeopleError(f"An account for {invitation.email} already exists. Sign in to accept the invitation.")
    user = User.objects.create_user(invitation.email, password, full_name=full_name.strip(), job_title=job_title)
    return user, accept_invitation(invitation=invitation, user=user)


def _lock_leads(trust: Trust) -> list[TrustMembership]:
    return list(TrustMembership.objects.select_for_update().filter(trust=trust, role=TrustRole.LEAD))


def _ensure_another_lead(membership: TrustMembership, leads: list[TrustMembership], doing: str) -> None:
    if membership.role == TrustRole.LEAD and len(leads) <= 1:
        raise PeopleError(
            f"You cannot {doing} {membership.user.full_name}: a trust needs at least one social work lead. "
            "Make someone else a lead first."
        )


@transaction.atomic
def change_role(*, membership: TrustMembership, role: TrustRole, changed_by: User) -> TrustMembership:
    leads = _lock_leads(membership.trust)
    membership = TrustMembership.objects.select_for_update().select_related("user", "trust").get(pk=membership.pk)
    if membership.role == role:
        return membership
    if role != TrustRole.LEAD:
        _ensure_another_lead(membership, leads, "change the role of")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _audit(
        trust=membership.trust,
        actor=changed_by,
        action="role_changed",
        summary=f"Changed {membership.user.full_name}'s role from {TrustRole(before).label} to {TrustRole(role).label}",
        changes={"role": [before, role]},
    )
    return membership


@transaction.atomic
def remove_member(*, membership: TrustMembership, removed_by: User) -> None:
    leads = _lock_leads(membership.trust)
    membership = TrustMembership.objects.select_for_update().select_related("user", "trust").get(pk=membership.pk)
    _ensure_another_lead(membership, leads, "remove")
    membership.delete()
    _audit(
        trust=membership.trust,
        actor=removed_by,
        action="member_removed",
        summary=f"Removed {membership.user.full_name} ({membership.get_role_display()})",
        changes={"role": [membership.role, None]},
    )


@transaction.atomic
def withdraw_invitation(*, invitation: Invitation, withdrawn_by: User) -> None:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise PeopleError("This invitation has already been used, withdrawn or has expired.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    _audit(
        trust=invitation.trust,
        actor=withdrawn_by,
        action="invitation_withdrawn",
        summary=f"Withdrew the invitation for {invitation.email}",
    )
