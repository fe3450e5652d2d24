"""Forms for signing in and managing people. Every form renders through the NHS.UK crispy template pack."""

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from portal.models import TrustRole, User

INVITATION_DAYS = settings.INVITATION_MAX_AGE.days


def nhsuk_helper(submit_label: str) -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


class SignInForm(auth_forms.AuthenticationForm):
    username = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the correct format, like name@example.nhs.uk",
        },
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password"},
    )
    error_messages = {
        # The same message whether or not the account exists.
        "invalid_login": "Enter a correct email address and password",
        "inactive": "This account has been closed. Contact your trust's social work lead.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Sign in")


class PasswordResetForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the correct format, like name@example.nhs.uk",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Send reset link")


class SetPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "New password"
        self.fields["new_password1"].error_messages["required"] = "Enter a new password"
        self.fields["new_password2"].label = "Confirm new password"
        self.fields["new_password2"].error_messages["required"] = "Enter the new password again"
        self.helper = nhsuk_helper("Save new password")


ROLE_CHOICES_WITH_HINTS = [(role.value, role.label) for role in TrustRole]


class InviteColleagueForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Enter the person's full name"},
    )
    email = forms.EmailField(
        label="Work email address",
        max_length=254,
        help_text=f"The invitation link is sent here. It works once and expires after {INVITATION_DAYS} days.",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={
            "required": "Enter the person's work email address",
            "invalid": "Enter an email address in the correct format, like name@example.nhs.uk",
        },
    )
    role = forms.ChoiceField(
        label="Role",
        choices=ROLE_CHOICES_WITH_HINTS,
        widget=forms.RadioSelect,
        error_messages={"required": "Select a role"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Send invitation")

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(
        label="Role",
        choices=ROLE_CHOICES_WITH_HINTS,
        widget=forms.RadioSelect,
        error_messages={"required": "Select a role"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Save role")


class CreateAccountForm(forms.Form):
    """For someone accepting an invitation who has no account yet."""

    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"required": "Enter your full name"},
    )
    job_title = forms.CharField(
        label="Job title",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
    password1 = forms.CharField(
        label="Create a password",
        strip=False,
        help_text="At least 12 characters. Avoid common passwords and your name.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": "Enter a password"},
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": "Enter the password again"},
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email
        self.helper = nhsuk_helper("Create account and join")

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The passwords do not match")
        elif password1:
            candidate = User(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class SecurityCodeForm(forms.Form):
    """The 6-digit code from an authenticator app (setting one up), or a recovery code (signing in)."""

    code = forms.CharField(
        label="Security code",
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "spellcheck": "false",
                "class": "nhsuk-input--width-10",
            }
        ),
        error_messages={"required": "Enter the 6-digit security code from your authenticator app"},
    )
    shape_message = "Security code must be 6 numbers"

    def __init__(self, *args, allow_recovery_code=False, submit_label="Continue", **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_recovery_code = allow_recovery_code
        if allow_recovery_code:
            self.fields[
                "code"
            ].help_text = (
                "The 6-digit code your authenticator app shows for this service, or one of your recovery codes"
            )
            self.shape_message = "Security code must be 6 numbers, or a recovery code of 8 letters and numbers"
        else:
            self.fields["code"].help_text = "The 6-digit code your authenticator app shows for this service"
        self.helper = nhsuk_helper(submit_label)

    def clean_code(self):
        from portal.two_factor import RECOVERY_CODE, TOTP_CODE

        code = re.sub(r"[\s-]", "", self.cleaned_data["code"]).lower()
        if TOTP_CODE.fullmatch(code) or (self.allow_recovery_code and RECOVERY_CODE.fullmatch(code)):
            return code
        raise ValidationError(self.shape_message, code="shape")
