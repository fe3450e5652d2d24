"""Fetch-and-authorise helpers: one place where views learn what a person may do at a trust.

Outsiders get 404 (the trust might as well not exist); members without the right get 403.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from portal.models import Trust, TrustMembership, TrustRole


def trust_role(user, trust: Trust) -> str | None:
    """The person's role at the trust, or None."""
    return TrustMembership.objects.filter(user=user, trust=trust).values_list("role", flat=True).first()


def access_trust(user, ods_code: str, *, roles: set[str] | None = None) -> tuple[Trust, str | None]:
    """The trust with this ODS code if the user may see it, and their role there.

    With ``roles``, the user must hold one of them at the trust (403 otherwise).
    """
    trust = get_object_or_404(Trust.objects.visible_to(user), ods_code=ods_code)
    role = trust_role(user, trust)
    if roles is not None and role not in roles:
        raise PermissionDenied
    return trust, role


def access_trust_as_lead(user, ods_code: str) -> Trust:
    trust, _ = access_trust(user, ods_code, roles={TrustRole.LEAD})
    return trust
