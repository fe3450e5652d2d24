from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import TemplateView

from portal import views
from portal.forms import PasswordResetForm, SetPasswordForm, SignInForm
from portal.two_factor import two_factor_not_required


def page(template_name):
    return login_not_required(TemplateView.as_view(template_name=template_name))


auth_patterns = [
    path(
        "sign-in/",
        login_not_required(
            auth_views.LoginView.as_view(
                template_name="portal/sign_in.html", authentication_form=SignInForm, redirect_authenticated_user=True
            )
        ),
        name="sign-in",
    ),
    path("sign-out/", two_factor_not_required(auth_views.LogoutView.as_view()), name="sign-out"),
    path("sign-in/security-code/", views.two_factor_verify, name="two-factor-verify"),
    path("signed-out/", page("portal/signed_out.html"), name="signed-out"),
    path(
        "password-reset/",
        login_not_required(
            auth_views.PasswordResetView.as_view(
                template_name="portal/password_reset.html",
                email_template_name="portal/email/password_reset.txt",
                subject_template_name="portal/email/password_reset_subject.txt",
                form_class=PasswordResetForm,
                extra_email_context={"password_reset_hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
            )
        ),
        name="password_reset",
    ),
    path("password-reset/sent/", page("portal/password_reset_sent.html"), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        login_not_required(
            auth_views.PasswordResetConfirmView.as_view(
                template_name="portal/password_reset_confirm.html", form_class=SetPasswordForm
            )
        ),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", page("portal/password_reset_complete.html"), name="password_reset_complete"),
]

account_patterns = [
    path("security/", views.account_security, name="account-security"),
    path("security/set-up/", views.two_factor_setup, name="two-factor-setup"),
    path("security/recovery-codes/", views.two_factor_recovery_codes, name="two-factor-recovery-codes"),
    path("security/recovery-codes/new/", views.two_factor_new_recovery_codes, name="two-factor-new-recovery-codes"),
]

people_patterns = [
    path("", views.trust_people, name="trust-people"),
    path("invite/", views.invite_colleague, name="invite-colleague"),
    path("<int:membership_id>/role/", views.change_role, name="change-role"),
    path("<int:membership_id>/remove/", views.remove_member, name="remove-member"),
    path("invitations/<int:invitation_id>/withdraw/", views.withdraw_invitation, name="withdraw-invitation"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    *auth_patterns,
    path("account/", include(account_patterns)),
    path("trusts/<str:ods_code>/people/", include(people_patterns)),
    path("invitations/<str:token>/", views.accept_invitation, name="accept-invitation"),
    path("framework/", include("requirements.urls")),
    path("", include("assessments.urls")),
    path("accessibility/", page("pages/accessibility.html"), name="accessibility"),
    path("privacy/", page("pages/privacy.html"), name="privacy"),
    path("cookies/", page("pages/cookies.html"), name="cookies"),
    path("contact/", page("pages/contact.html"), name="contact"),
    path("admin/", admin.site.urls),
]
