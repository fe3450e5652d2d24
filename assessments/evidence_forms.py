"""Forms for the evidence library: a document, a link, a new version of a document.

A checked file survives a form that fails for another reason: ``keep_file_for_retry`` holds it
(see ``evidence.hold_upload``) and puts the signed token in a hidden field, so the person never
has to choose the file again; everything else they typed is kept by the bound form.
"""

from __future__ import annotations

from crispy_forms.layout import Layout
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html

from assessments import evidence
from portal.fields import DateField
from portal.forms import nhsuk_helper


class DocumentDateField(DateField):
    def validate(self, value):
        super().validate(value)
        if value and value > timezone.localdate():
            raise ValidationError(f"{self.subject} must be today or in the past", code="future")
        if value and value.year < 1948:
            raise ValidationError(f"{self.subject} must be after the NHS began in 1948", code="too_early")


# ---- shared parts -------------------------------------------------------------------------------


def confirm_no_patient_data_field() -> forms.BooleanField:
    return forms.BooleanField(
        label="I confirm this document contains no patient-identifiable information",
        help_text="No names, NHS numbers, dates of birth, addresses or case details of people who use services.",
        error_messages={"required": "Confirm the document contains no patient-identifiable information"},
    )


class EvidenceFormBase(forms.Form):
    submit_label = "Save"

    def __init__(self, *args, action: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action

    def layout_fields(self) -> list[str]:
        return list(self.fields)

    @property
    def helper(self):
        # Built when the form is rendered, so that it shows what validation found
        # (a held file, NHS-number-like values to confirm).
        helper = nhsuk_helper(self.submit_label)
        if self.action:
            helper.form_action = self.action
        helper.layout = Layout(*self.layout_fields())
        helper.nhsuk_legend_size = "s"
        return helper


class EvidenceDetailsForm(EvidenceFormBase):
    """What the library shows about every item, document or link."""

    title = forms.CharField(
        label="Title",
        max_length=250,
        help_text="As people would recognise it, for example “Social work supervision policy 2025”.",
        error_messages={"required": "Enter a title", "max_length": "Title must be 250 characters or fewer"},
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the document shows, and which part of it matters.",
        error_messages={"max_length": "Description must be 2,000 characters or fewer"},
    )
    evidence_date = DocumentDateField(
        subject="Date of the document",
        label="Date of the document",
        help_text="When it was written, approved or last reviewed. For example, 31 3 2026",
    )
    owner = forms.CharField(
        label="Owner",
        max_length=200,
        help_text="The person or team in the trust responsible for the document.",
        error_messages={
            "required": "Enter who owns the document",
            "max_length": "Owner must be 200 characters or fewer",
        },
    )


# ---- uploads ------------------------------------------------------------------------------------


class FileUploadForm(EvidenceFormBase):
    """A file with the uploader's declarations. Subclasses add the item's details."""

    file = forms.FileField(
        label="Upload a file",
        widget=forms.FileInput(attrs={"accept": evidence.ACCEPT}),
        error_messages={
            "required": "Select a file to upload",
            "empty": evidence.MESSAGES["empty"],
            "invalid": "The selected file could not be read. Select it again",
            "missing": "The selected file could not be read. Select it again",
        },
    )
    upload_token = forms.CharField(required=False, widget=forms.HiddenInput)
    not_nhs_numbers = forms.BooleanField(
        label="These are not NHS numbers",
        required=False,
        help_text="For example staff numbers, phone numbers or budget codes that happen to pass the NHS number check.",
    )
    confirm_no_patient_data = confirm_no_patient_data_field()

    def __init__(self, *args, trust, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.trust = trust
        self.user = user
        self.checked: evidence.CheckedFile | None = None
        self.held = None  # the HeldUpload the checked file came from, if any
        if self.is_bound and self.data.get(self.add_prefix("upload_token")):
            # A file is already held for this form: choosing another is optional.
            self.fields["file"].required = False
        limit = evidence.size_text(settings.EVIDENCE_MAX_UPLOAD_BYTES)
        self.fields["file"].help_text = (
            "PDF, Word, Excel, PowerPoint, OpenDocument text or spreadsheet, CSV, PNG or JPEG. "
            f"Smaller than {limit}. Do not upload anything with patient information in it."
        )

    def layout_fields(self) -> list[str]:
        fields = [name for name in self.fields if name not in {"not_nhs_numbers", "confirm_no_patient_data"}]
        if self.nhs_numbers_to_confirm:
            fields.append("not_nhs_numbers")
        fields.append("confirm_no_patient_data")
        return fields

    @property
    def nhs_numbers_to_confirm(self) -> bool:
        return bool(self.checked and self.checked.nhs_numbers)

    @property
    def confirmed_not_nhs_numbers(self) -> bool:
        # Only for a file the person was shown the warning about: it was held for them to confirm.
        return bool(self.held and self.cleaned_data.get("not_nhs_numbers"))

    def clean(self):
        cleaned = super().clean()
        self._check_file(cleaned)
        return cleaned

    def _check_file(self, cleaned):
        if "file" in self.errors:  # no file, or an empty one: the field said so
            return
        new_file = cleaned.get("file")
        token = cleaned.get("upload_token") or ""
        if new_file is not None:
            if token:  # a different file replaces the one held
                evidence.release_held_upload(token, user=self.user, trust=self.trust)
                self._set_token("")
            try:
                self.checked = evidence.check_upload(new_file)
            except ValidationError as error:
                self.add_error("file", error)
                return
        elif token:
            try:
                self.held = evidence.open_held_upload(token, user=self.user, trust=self.trust)
            except evidence.HeldUploadGone:
                self._set_token("")
                self.add_error("file", "The file you chose earlier is no longer available. Select the file again")
                return
            try:
                self.checked = evidence.check_upload(self.held.file, name=self.held.file_name)
            except ValidationError as error:
                self.discard_held_file()
                self.add_error("file", error)
                return
        else:
            self.add_error("file", "Select a file to upload")
            return
        if self.checked.nhs_numbers and not self.confirmed_not_nhs_numbers:
            self.add_error("not_nhs_numbers", evidence.nhs_number_warning(self.checked.nhs_numbers))

    def keep_file_for_retry(self) -> None:
        """After a failed submission: hold a file that passed its checks, so it need not be chosen again."""
        if self.checked is None:
            return
        if self.held is None:
            try:
                token = evidence.hold_upload(self.checked, user=self.user, trust=self.trust)
            except evidence.STORAGE_ERRORS:
                # Storage is failing (a full disk, say): the person will have to choose the file again.
                return
            self._set_token(token)
        else:
            self.held.file.close()
        label = "Upload a different file"
        hint = format_html(
            "You have chosen <strong>{}</strong> ({}). We will use it unless you choose a different file.",
            self.checked.original_name,
            filesizeformat(self.checked.size),
        )
        self.fields["file"].required = False
        # The bound field copied its label and hint when validation first used it.
        for target in (self.fields["file"], self["file"]):
            target.label, target.help_text = label, hint

    def discard_held_file(self) -> None:
        """Once the file is stored for good (or refused), remove the held copy."""
        if self.held is not None:
            self.held.file.close()
            evidence.release_held_upload(
                self.data.get(self.add_prefix("upload_token"), ""), user=self.user, trust=self.trust
            )
            self.held = None

    def _set_token(self, token: str) -> None:
        self.data = self.data.copy()
        self.data[self.add_prefix("upload_token")] = token


class EvidenceUploadForm(FileUploadForm, EvidenceDetailsForm):
    submit_label = "Add document"
    field_order = [
        "title",
        "description",
        "evidence_date",
        "owner",
        "file",
        "upload_token",
        "not_nhs_numbers",
        "confirm_no_patient_data",
    ]


class NewVersionForm(FileUploadForm):
    submit_label = "Upload new version"


class EvidenceLinkForm(EvidenceDetailsForm):
    submit_label = "Add link"
    url = forms.CharField(
        label="Link to the document",
        max_length=1000,
        help_text="The full web address, starting with https://",
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocomplete": "url"}),
        error_messages={
            "required": "Enter the link to the document",
            "max_length": "The link must be 1,000 characters or fewer",
        },
    )
    confirm_no_patient_data = confirm_no_patient_data_field()

    def clean_url(self):
        return evidence.check_link(self.cleaned_data["url"])


class LinkChoiceForm(forms.Form):
    """Which library item to link to a response, or to remove from it (one button per item)."""

    link = forms.IntegerField(required=False, min_value=1)
    unlink = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("link")) == bool(cleaned.get("unlink")):
            raise ValidationError("Choose a document to add or remove")
        return cleaned
