"""The board paper's cover sheet, filled in by the trust's social work lead."""

from django import forms

from assessments.models import AssuranceLevel, Meeting, Purpose
from portal.fields import DateField
from portal.forms import nhsuk_helper


def text(label: str, *, hint: str = "", rows: int | None = None, max_length: int | None = None) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(label=label, help_text=hint, required=False, widget=widget, max_length=max_length)


class CoverSheetForm(forms.Form):
    meeting = forms.ChoiceField(
        label="Which meeting is the paper for?",
        choices=Meeting.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the meeting"},
    )
    meeting_date = DateField(
        label="Meeting date", subject="Meeting date", required=False, help_text="For example, 14 5 2027"
    )
    agenda_item = text("Agenda item", hint="For example, 7.2", max_length=20)
    title = text(
        "Title of the paper",
        hint="Leave blank for 'Organisational requirements for social work: self-assessment' and the cycle.",
        max_length=250,
    )
    author = text("Author", hint="Usually the principal social worker.", max_length=200)
    lead_executive = text("Lead executive", hint="For example, Chief Nurse.", max_length=200)
    purpose = forms.ChoiceField(
        label="Purpose of the paper",
        choices=Purpose.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the purpose of the paper"},
    )
    assurance_level = forms.ChoiceField(
        label="Proposed assurance level",
        choices=AssuranceLevel.choices,
        widget=forms.RadioSelect,
        help_text="The board's assurance, separate from the requirement ratings.",
        error_messages={"required": "Select the proposed assurance level"},
    )
    strategic_objectives = text("Links to strategic objectives", rows=3)
    baf_risks = text("Board Assurance Framework risks", hint="The BAF risks this paper gives assurance on.", rows=3)
    recommendation = text("Recommendation", hint="What the board is asked to do with this paper.", rows=3)
    key_messages = text(
        "Key messages",
        hint="The overall position in your own words, for the executive summary.",
        rows=6,
    )
    ask_of_the_board = text(
        "The ask of the board", hint="What you need from the board: support, decisions, resources.", rows=4
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = nhsuk_helper("Save cover sheet")
