"""Fetch an assessment and the person's role at its trust in one step.

Outsiders (and board readers or ICS leads looking at a draft) get 404: the assessment is not
visible to them. Members who can see it but lack the right get 403.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from assessments.models import Assessment, Response
from portal.access import trust_role


def access_assessment(user, pk: int, *, roles: set[str] | None = None) -> tuple[Assessment, str | None]:
    assessment = get_object_or_404(
        Assessment.objects.visible_to(user).select_related("trust", "cycle", "framework"), pk=pk
    )
    role = trust_role(user, assessment.trust)
    if roles is not None and role not in roles:
        raise PermissionDenied
    return assessment, role


def access_response(user, assessment_pk: int, code: str, *, roles: set[str] | None = None):
    """The response to one requirement (by its code, such as R3) of a visible assessment."""
    assessment, role = access_assessment(user, assessment_pk, roles=roles)
    response = get_object_or_404(
        Response.objects.select_related("requirement", "rating", "assignee", "updated_by").filter(
            assessment=assessment
        ),
        requirement__code=code,
    )
    response.assessment = assessment
    return assessment, response, role
