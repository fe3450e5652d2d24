"""Fetch an assessment and the person's role at its trust in one step.

Outsiders (and board readers or ICS leads looking at a draft) get 404: the assessment is not
visible to them. Members who can see it but lack the right get 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from assessments import sections
from assessments.models import WORKING_ROLES, Assessment, Response
from portal.models import TrustMembership


def _role_at_trust(user, trust_path: str) -> Subquery:
    """The person's role at the trust the outer query's ``trust_path`` names (None if they have none)."""
    return Subquery(TrustMembership.objects.filter(trust=OuterRef(trust_path), user=user).values("role")[:1])


def _annotations(user, trust_path: str, assessment_pk: int, versioned: bool) -> dict:
    role = {"member_role": _role_at_trust(user, trust_path)}
    return role | sections.trails(assessment_pk) if versioned else role


def _check(user, assessment: Assessment, role: str | None, roles: set[str] | None) -> None:
    """``visible_to``'s first rule, from the role read with the assessment: the trust's working team
    (leads, contributors, executives) sees every state. Anyone else is checked against ``visible_to``
    itself, one query more."""
    if role not in WORKING_ROLES and not Assessment.objects.visible_to(user).filter(pk=assessment.pk).exists():
        raise Http404
    if roles is not None and role not in roles:
        raise PermissionDenied


def access_assessment(
    user, pk: int, *, roles: set[str] | None = None, versioned: bool = False
) -> tuple[Assessment, str | None]:
    """The assessment and the person's role at its trust (None for an ICS lead), if they may see it.

    One query for the trust's working team, who open these pages all day (see ``_check``). With
    ``versioned``, the same query reads what ``assessments.sections`` keys its cached sections on
    (``assessment.data_version``).
    """
    if not user.is_authenticated:
        raise Http404
    assessment = get_object_or_404(
        Assessment.objects.select_related("trust", "cycle", "framework").annotate(
            **_annotations(user, "trust", pk, versioned)
        ),
        pk=pk,
    )
    _check(user, assessment, assessment.member_role, roles)
    if versioned:
        assessment.data_version = sections.data_version(assessment)
    return assessment, assessment.member_role


def access_response(user, assessment_pk: int, code: str, *, roles: set[str] | None = None, versioned: bool = False):
    """The response to one requirement (by its code, such as R3) of a visible assessment, its
    assessment and the person's role: one query for the working team, as ``access_assessment``."""
    if not user.is_authenticated:
        raise Http404
    response = get_object_or_404(
        # Only what the page's header and the cache key need: the rest is read when a section is
        # rendered, as joining it here costs more than it saves on the pages served from the cache.
        Response.objects.select_related("assessment__cycle", "requirement").annotate(
            **_annotations(user, "assessment__trust", assessment_pk, versioned)
        ),
        assessment_id=assessment_pk,
        requirement__code=code,
    )
    _check(user, response.assessment, response.member_role, roles)
    if versioned:
        for name in sections.TRAIL_NAMES:
            setattr(response.assessment, name, getattr(response, name))
        response.assessment.data_version = sections.data_version(response.assessment)
    return response.assessment, response, response.member_role
