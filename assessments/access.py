"""Fetch an assessment and the person's role at its trust in one step.

Outsiders (and board readers or ICS leads looking at a draft) get 404: the assessment is not
visible to them. Members who can see it but lack the right get 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.shortcuts import get_object_or_404

from assessments import sections
from assessments.models import WORKING_ROLES, Approval, Assessment, Response

# The person's role at the assessment's trust (one role per person per trust), in SQL: the ORM's
# Subquery for the same costs about 0.8 ms of CPU to compile, on every page of an assessment.
ROLE_SQL = (
    "SELECT role FROM portal_trustmembership WHERE user_id = %s"
    " AND trust_id = (SELECT trust_id FROM assessments_assessment WHERE id = %s)"
)


def _annotations(user, assessment_pk: int, versioned: bool) -> dict:
    role = {"member_role": RawSQL(ROLE_SQL, [user.pk, assessment_pk])}  # noqa: S611 (fixed SQL; values are parameters)
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
        # A versioned page is mostly served from the cache: its framework is read only when rendered.
        Assessment.objects.select_related("trust", "cycle", *(() if versioned else ("framework",))).annotate(
            **_annotations(user, pk, versioned)
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
    # Only what the page's header and the cache key need: the rest is read when a section is
    # rendered, as joining it here costs more than it saves on the pages served from the cache.
    responses = Response.objects.select_related("assessment__cycle", "requirement").annotate(
        **_annotations(user, assessment_pk, versioned)
    )
    try:
        response = responses.get(assessment_id=assessment_pk, requirement__code=code)
    except Response.DoesNotExist:
        # No such requirement: the assessment's own check first, so a member without the right
        # gets 403 whatever code they try, and anyone who cannot see the assessment 404.
        access_assessment(user, assessment_pk, roles=roles)
        raise Http404 from None
    _check(user, response.assessment, response.member_role, roles)
    if versioned:
        response.assessment.data_version = sections.data_version(response.assessment, trails_from=response)
    return response.assessment, response, response.member_role


def access_approval(user, assessment_pk: int, revision: int, *, with_snapshot: bool = True) -> Approval:
    """An approved revision the person may read, with its assessment's trust and cycle and its stored
    board report (``approval.stored_report``, None until the worker has rendered it).

    Every member of the trust may read its approved revisions (``Approval.objects.visible_to``'s first
    rule), which the role read with the approval settles in one query; anyone else (an ICS lead) is
    checked against ``visible_to`` itself. Without ``with_snapshot`` the frozen JSON is left unread.
    """
    if not user.is_authenticated:
        raise Http404
    approvals = Approval.objects.select_related("assessment__trust", "assessment__cycle", "board_report").annotate(
        member_role=RawSQL(ROLE_SQL, [user.pk, assessment_pk])  # noqa: S611 (fixed SQL; values are parameters)
    )
    if not with_snapshot:
        approvals = approvals.defer("snapshot")
    approval = get_object_or_404(approvals, assessment_id=assessment_pk, revision=revision)
    if approval.member_role is None and not Approval.objects.visible_to(user).filter(pk=approval.pk).exists():
        raise Http404
    try:
        approval.stored_report = approval.board_report
    except Approval.board_report.RelatedObjectDoesNotExist:
        approval.stored_report = None
    return approval
