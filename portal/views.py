"""Home, health check, and managing a trust's people."""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.mail import send_mail
from django.db import DatabaseError, connection
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from portal import services, two_factor
from portal.access import access_trust_as_lead
from portal.forms import ChangeRoleForm, CreateAccountForm, InviteColleagueForm, SecurityCodeForm
from portal.models import TRUST_ROLE_DESCRIPTIONS, TrustICBMembership, User
from portal.services import PeopleError
from portal.two_factor import two_factor_not_required

logger = logging.getLogger(__name__)


@login_not_required
@require_safe
@never_cache
def healthz(request):
    """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def home(request):
    """The signed-in person's organisations and what they can do in each."""
    current_trusts = TrustICBMembership.objects.effective_on(timezone.localdate()).select_related("trust")
    trust_memberships = request.user.trust_memberships.select_related("trust", "trust__region")
    icb_memberships = request.user.icb_memberships.select_related("icb", "icb__region").prefetch_related(
        Prefetch("icb__trust_memberships", queryset=current_trusts.order_by("trust__name"), to_attr="current_trusts")
    )
    return render(
        request,
        "portal/home.html",
        {
            "trust_memberships": trust_memberships,
            "icb_memberships": icb_memberships,
            "role_descriptions": TRUST_ROLE_DESCRIPTIONS,
        },
    )


@require_safe
def trust_people(request, ods_code):
    trust = access_trust_as_lead(request.user, ods_code)
    memberships = trust.memberships.select_related("user").order_by("user__full_name")
    invitations = trust.invitations.pending().select_related("invited_by").order_by("email")
    return render(
        request,
        "portal/people.html",
        {"trust": trust, "memberships": memberships, "invitations": invitations},
    )


@require_http_methods(["GET", "POST"])
def invite_colleague(request, ods_code):
    trust = access_trust_as_lead(request.user, ods_code)
    form = InviteColleagueForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = services.invite_colleague(
                trust=trust,
                invited_by=request.user,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"],
            )
        except PeopleError as error:
            form.add_error("email", str(error))
        else:
            try:
                _send_invitation(request, invitation, token)
            except OSError:
                # SMTP down or refusing: the link never reached anyone, so it must not stay valid.
                logger.exception("Could not send the invitation e-mail to %s", invitation.email)
                services.withdraw_invitation(invitation=invitation, withdrawn_by=request.user)
                form.add_error(
                    None, "Sorry, we could not send the invitation email. Nothing was sent; try again in a few minutes."
                )
            else:
                messages.success(request, f"Invitation sent to {invitation.email}")
                return redirect("trust-people", ods_code=trust.ods_code)
    return render(
        request,
        "portal/invite.html",
        {"trust": trust, "form": form, "role_descriptions": TRUST_ROLE_DESCRIPTIONS},
    )


def _send_invitation(request, invitation, token):
    link = request.build_absolute_uri(reverse("accept-invitation", kwargs={"token": token}))
    context = {
        "invitation": invitation,
        "link": link,
        "inviter": request.user,
    }
    send_mail(
        subject=f"You have been invited to the {invitation.trust.name} self-assessment",
        message=render_to_string("portal/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def _membership_for_lead(request, ods_code, membership_id):
    trust = access_trust_as_lead(request.user, ods_code)
    membership = get_object_or_404(trust.memberships.select_related("user"), pk=membership_id)
    return trust, membership


@require_http_methods(["GET", "POST"])
def change_role(request, ods_code, membership_id):
    trust, membership = _membership_for_lead(request, ods_code, membership_id)
    form = ChangeRoleForm(request.POST if request.method == "POST" else None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.change_role(membership=membership, role=form.cleaned_data["role"], changed_by=request.user)
        except PeopleError as error:
            form.add_error("role", str(error))
        else:
            messages.success(request, f"{membership.user.full_name}'s role has been updated")
            if membership.user == request.user:
                # They are no longer the lead, so the people page is closed to them now.
                return redirect("home")
            return redirect("trust-people", ods_code=trust.ods_code)
    return render(
        request,
        "portal/change_role.html",
        {"trust": trust, "membership": membership, "form": form, "role_descriptions": TRUST_ROLE_DESCRIPTIONS},
    )


@require_http_methods(["GET", "POST"])
def remove_member(request, ods_code, membership_id):
    trust, membership = _membership_for_lead(request, ods_code, membership_id)
    error = None
    if request.method == "POST":
        try:
            services.remove_member(membership=membership, removed_by=request.user)
        except PeopleError as problem:
            error = str(problem)
        else:
            messages.success(request, f"{membership.user.full_name} no longer has access to {trust.name}")
            if membership.user == request.user:
                return redirect("home")
            return redirect("trust-people", ods_code=trust.ods_code)
    return render(
        request,
        "portal/remove_member.html",
        {"trust": trust, "membership": membership, "error": error},
        status=400 if error else 200,
    )


@require_POST
def withdraw_invitation(request, ods_code, invitation_id):
    trust = access_trust_as_lead(request.user, ods_code)
    invitation = get_object_or_404(trust.invitations.all(), pk=invitation_id)
    try:
        services.withdraw_invitation(invitation=invitation, withdrawn_by=request.user)
    except PeopleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The invitation for {invitation.email} has been withdrawn")
    return redirect("trust-people", ods_code=trust.ods_code)


@login_not_required
@require_http_methods(["GET", "POST"])
@never_cache
def accept_invitation(request, token):
    """The link in an invitation e-mail: join the trust, creating an account if needed."""
    invitation = services.find_invitation(token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    if not invitation.is_pending:
        return render(request, "portal/invitation_invalid.html", {"invitation": invitation}, status=410)

    context = {"invitation": invitation, "role_description": TRUST_ROLE_DESCRIPTIONS[invitation.role]}
    user = request.user
    if user.is_authenticated and not user.is_verified():
        return redirect(two_factor.second_step_url(user, request.path))
    if user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            return render(request, "portal/invitation_wrong_account.html", context, status=403)
        if request.method == "POST":
            return _join(request, invitation, user)
        return render(request, "portal/accept_invitation.html", context)

    if User.objects.filter(email__iexact=invitation.email).exists():
        sign_in_url = f"{reverse('sign-in')}?{urlencode({'next': request.path})}"
        return render(request, "portal/accept_invitation.html", {**context, "sign_in_url": sign_in_url})

    form = CreateAccountForm(
        request.POST if request.method == "POST" else None,
        email=invitation.email,
        initial={"full_name": invitation.full_name},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user, _ = services.create_account_from_invitation(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                job_title=form.cleaned_data["job_title"],
                password=form.cleaned_data["password1"],
            )
        except PeopleError as error:
            form.add_error(None, str(error))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Your account has been created and you have joined {invitation.trust.name}")
            return redirect("home")
    return render(request, "portal/accept_invitation.html", {**context, "form": form})


def _join(request, invitation, user):
    try:
        services.accept_invitation(invitation=invitation, user=user)
    except PeopleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"You have joined {invitation.trust.name} as {invitation.get_role_display()}")
    return redirect("home")


# ---- two-factor sign-in ------------------------------------------------------------------------

RECOVERY_CODES_SESSION_KEY = "two_factor_new_recovery_codes"


def _next_url(request, default="home"):
    """Where the person was going, if it is a page of this portal."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


def _with_next(url, request):
    next_url = request.GET.get("next")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@two_factor_not_required
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("code")
def two_factor_setup(request):
    """Setting up an authenticator app: at the first sign-in, or to replace one from Account security."""
    user = request.user
    if not user.is_verified() and two_factor.has_authenticator(user):
        # Only the password so far: setting up another app would let a stolen password in.
        return redirect(_with_next(reverse("two-factor-verify"), request))
    device = two_factor.pending_authenticator(user)
    form = SecurityCodeForm(request.POST or None, submit_label="Continue")
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.confirm_authenticator(request, device, form.cleaned_data["code"])
        except two_factor.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(_with_next(reverse("two-factor-recovery-codes"), request))
    replacing = user.is_verified()
    context = {
        "form": form,
        "qr_code": mark_safe(two_factor.qr_code_svg(device)),  # noqa: S308 (segno's SVG of our own otpauth address)
        "key": two_factor.readable_key(device),
        "replacing": replacing,
    }
    return render(request, "portal/two_factor_setup.html", context)


@two_factor_not_required
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("code")
def two_factor_verify(request):
    """The second step of signing in: a code from the app, or a recovery code."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not two_factor.has_authenticator(user):
        return redirect(_with_next(reverse("two-factor-setup"), request))
    form = SecurityCodeForm(request.POST or None, allow_recovery_code=True, submit_label="Continue")
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify(request, form.cleaned_data["code"])
        except two_factor.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            if two_factor.used_recovery_code(device):
                left = two_factor.remaining_recovery_codes(user)
                codes = "recovery code" if left == 1 else "recovery codes"
                message = f"You signed in with a recovery code. You have {left} {codes} left."
                if left <= 3:
                    message += " Create new recovery codes from Account security."
                messages.warning(request, message)
            return redirect(_next_url(request))
    return render(request, "portal/two_factor_verify.html", {"form": form, "otp_issuer": settings.OTP_TOTP_ISSUER})


@require_GET  # not HEAD: that would use up the one showing unseen
@never_cache
def two_factor_recovery_codes(request):
    """New recovery codes, shown once, straight after they are made."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("account-security")
    shown = [f"{code[:4]} {code[4:]}" for code in codes]
    return render(request, "portal/two_factor_recovery_codes.html", {"codes": shown, "next_url": _next_url(request)})


@require_POST
def two_factor_new_recovery_codes(request):
    request.session[RECOVERY_CODES_SESSION_KEY] = two_factor.create_recovery_codes(request.user, actor=request.user)
    return redirect("two-factor-recovery-codes")


@require_safe
def account_security(request):
    user = request.user
    context = {
        "authenticator": two_factor.authenticator(user),
        "recovery_left": two_factor.remaining_recovery_codes(user),
        "recovery_total": two_factor.RECOVERY_CODE_COUNT,
    }
    return render(request, "portal/account_security.html", context)
