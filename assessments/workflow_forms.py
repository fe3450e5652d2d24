"""Forms for sign-off: approving, returning and reopening an assessment.

Each renders through the NHS.UK crispy template pack. The forms only check what a person
typed; the rules about who may do what, and when, live in ``services.py``.
"""

from crispy_forms.layout import HTML, Layout
from django import forms

from portal.forms import nhsuk_helper

REASON_MAX_LENGTH = 2000


def sign_off_statement(assessment) -> str:
    """What the executive confirms; stored word for word in the approval."""
    snapshot_date = assessment.cycle.snapshot_date
    return (
        f"I confirm that this self-assessment is a fair reflection of {assessment.trust.name}'s position "
        f"against the organisational requirements as at {snapshot_date.day} {snapshot_date:%B %Y}, "
        "and that it may be reported to the board."
    )


class ApproveForm(forms.Form):
    approver_name = forms.CharField(
        label="Your full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
        error_messages={"required": "Enter your full name"},
    )
    approver_role = forms.CharField(
        label="Your role or job title",
        help_text="As it should appear in the sign-off record, for example Chief Nurse.",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
        error_messages={"required": "Enter your role or job title"},
    )
    # Which submission the executive read: approval is refused if it has been resubmitted since.
    submission = forms.CharField(widget=forms.HiddenInput, required=False)
    confirm = forms.BooleanField(
        label="I confirm this statement",
        error_messages={"required": "Confirm the sign-off statement to approve the assessment"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Approve the assessment")
        # The statement sits between the signer's details and the box that confirms it.
        self.helper.layout = Layout(
            "approver_name",
            "approver_role",
            HTML('{% include "assessments/workflow/_statement.html" %}'),
            "confirm",
            "submission",
        )


class ReasonForm(forms.Form):
    """A required reason, for returning or reopening an assessment."""

    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args, label: str, hint: str, required_message: str, submit_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        field.label = label
        field.help_text = hint
        field.error_messages["required"] = required_message
        field.error_messages["max_length"] = f"The reason must be {REASON_MAX_LENGTH} characters or fewer"
        self.helper = nhsuk_helper(submit_label)


def return_form(data=None) -> ReasonForm:
    return ReasonForm(
        data,
        label="Why are you returning the assessment?",
        hint="The social work lead sees this reason. Say what needs to change before you can approve it.",
        required_message="Enter a reason for returning the assessment",
        submit_label="Return the assessment",
    )


def reopen_form(data=None) -> ReasonForm:
    return ReasonForm(
        data,
        label="Why are you reopening the assessment?",
        hint="For example, a correction to a workforce figure. The reason is kept in the audit trail.",
        required_message="Enter a reason for reopening the assessment",
        submit_label="Reopen the assessment",
    )
