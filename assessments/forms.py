"""Forms for starting an assessment, answering requirements, workforce figures and the improvement plan.

Each renders through the NHS.UK crispy template pack (or, for the workforce figures, through
its field template one field at a time). Forms check what a person typed and word the errors
the NHS.UK way; who may change what, and when, is decided in ``services.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crispy_forms.layout import Field, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.html import format_html

from assessments.models import ActionStatus, Cycle, IndicatorValue
from portal.fields import DateField
from portal.forms import nhsuk_helper
from requirements.models import IndicatorDefinition, IndicatorUnit, RatingLevel, Requirement


def lower_first(text: str) -> str:
    """'Funded posts' -> 'funded posts', but 'AMHPs on a rota' stays as it is."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


# ---- starting an assessment -------------------------------------------------------------------


class CycleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, cycle: Cycle) -> str:
        return f"{cycle.label} (submit by {date_format(cycle.submission_deadline, 'j F Y')})"


START_FROM_LAST_YEAR = "carry_forward"
START_BLANK = "blank"


class StartAssessmentForm(forms.Form):
    cycle = CycleChoiceField(
        label="Which cycle is this assessment for?",
        queryset=Cycle.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Select the cycle to assess"},
    )
    start_from = forms.ChoiceField(
        label="How do you want to start?",
        choices=[
            (START_FROM_LAST_YEAR, "Start from last year's answers"),
            (START_BLANK, "Start blank"),
        ],
        widget=forms.RadioSelect,
        help_text="Last year's ratings, rationale, strengths, gaps, evidence links and open actions are copied. "
        "Each answer is marked 'Carried forward: review' until someone saves it.",
        error_messages={"required": "Select how you want to start the assessment"},
    )

    def __init__(self, *args, cycles, can_carry_forward: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cycle"].queryset = cycles
        if not can_carry_forward:
            # Nothing to carry forward: every assessment starts blank.
            del self.fields["start_from"]
        self.helper = nhsuk_helper("Start the assessment")

    @property
    def carry_forward(self) -> bool:
        return self.cleaned_data.get("start_from") == START_FROM_LAST_YEAR


# ---- answering a requirement --------------------------------------------------------------------


class RatingRadioSelect(forms.RadioSelect):
    """Radios whose options carry the rating level's meaning as an NHS.UK item hint."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        level = getattr(value, "instance", None)
        option["hint"] = level.meaning if isinstance(level, RatingLevel) else ""
        if option["hint"] and option["attrs"].get("id"):
            option["hint_id"] = f"{option['attrs']['id']}-item-hint"
            option["attrs"]["aria-describedby"] = option["hint_id"]
        return option


class RatingChoiceField(forms.ModelChoiceField):
    """Shown as a question to answer, but a draft may be saved without a rating (``ResponseForm.clean``)."""

    def label_from_instance(self, level: RatingLevel) -> str:
        return str(level)  # "3 – Largely met": the number and the label, never colour alone

    def validate(self, value):
        pass


class RationaleField(forms.CharField):
    """Needed with any rating (``ResponseForm.clean``), so not labelled optional, but blank is allowed."""

    def validate(self, value):
        pass


class ResponseForm(forms.Form):
    """One requirement's answer. ``version`` is the response version the person started from."""

    use_required_attribute = False

    rating = RatingChoiceField(queryset=RatingLevel.objects.none(), widget=RatingRadioSelect, empty_label=None)
    rationale = RationaleField(
        label="Rationale",
        help_text="Why this rating: what the evidence shows. Every rating needs a rationale.",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    strengths = forms.CharField(label="Strengths", widget=forms.Textarea(attrs={"rows": 4}), required=False)
    gaps_and_risks = forms.CharField(
        label="Gaps and risks",
        help_text="What is missing or not working, and what could go wrong as a result.",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    ready = forms.BooleanField(
        label="Mark as ready",
        help_text="The answer is finished. The lead submits the assessment when every requirement is ready.",
        required=False,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, response, **kwargs):
        super().__init__(*args, **kwargs)
        self.response = response
        code = response.requirement.code
        rating = self.fields["rating"]
        rating.queryset = response.assessment.framework.rating_levels.all()
        rating.label = f"How well does the trust meet {code}?"
        rating.error_messages["invalid_choice"] = f"Select a rating for {code}"
        self.fields["version"].error_messages = {
            "required": "The page was out of date. Check your answer and save it again.",
            "invalid": "The page was out of date. Check your answer and save it again.",
        }
        self.helper = nhsuk_helper("Save")
        self.helper.nhsuk_label_size = "s"
        self.helper.layout = Layout(
            Field("rating", template="assessments/_radios_with_hints.html"),
            "rationale",
            "strengths",
            "gaps_and_risks",
            "ready",
            "version",
        )

    @classmethod
    def initial_for(cls, response) -> dict:
        return {
            "rating": response.rating_id,
            "rationale": response.rationale,
            "strengths": response.strengths,
            "gaps_and_risks": response.gaps_and_risks,
            "ready": response.status == "ready",
            "version": response.version,
        }

    def clean(self):
        cleaned = super().clean()
        code = self.response.requirement.code
        rating = cleaned.get("rating")
        if rating is not None and not cleaned.get("rationale", "").strip() and "rationale" not in self.errors:
            self.add_error("rationale", f"Explain the rating for {code}")
        if cleaned.get("ready") and rating is None and "rating" not in self.errors:
            self.add_error("rating", f"Select a rating for {code}")
        return cleaned


class AssignForm(forms.Form):
    NOT_ASSIGNED = "none"

    assignee = forms.ChoiceField(
        widget=forms.RadioSelect, error_messages={"required": "Select who should answer this requirement"}
    )

    def __init__(self, *args, response, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = {str(membership.user_id): membership.user for membership in people}
        field = self.fields["assignee"]
        field.label = f"Who should answer {response.requirement.code}?"
        field.choices = [
            (str(membership.user_id), f"{membership.user.full_name} ({membership.get_role_display().lower()})")
            for membership in people
        ] + [(self.NOT_ASSIGNED, "Not assigned")]
        field.error_messages["invalid_choice"] = "Select one of the trust's contributors or leads"
        self.helper = nhsuk_helper("Save")
        self.helper.nhsuk_page_heading = "assignee"

    def chosen_person(self):
        """The person chosen, or None for "Not assigned"."""
        return self.people.get(self.cleaned_data["assignee"])


# ---- workforce figures ---------------------------------------------------------------------------


FIGURE_WHOLE_DIGITS = 7  # IndicatorValue stores numeric(9, 2)


class FigureField(forms.DecimalField):
    """A workforce figure: not negative, a whole number unless the figure is a whole-time equivalent.

    Any figure may be left blank until the trust has it; the page says so once, rather than
    every label saying "(optional)".
    """

    def validate(self, value):
        if value not in self.empty_values:
            super().validate(value)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", "")
        value = super().to_python(value)
        if value is None:
            return None
        if not value.is_finite() or value.adjusted() >= FIGURE_WHOLE_DIGITS:
            # Infinity, NaN and 1e400 are numbers to Python but not figures; the column holds 7 digits.
            raise ValidationError(self.error_messages["max_whole_digits"], code="max_whole_digits")
        if value == value.to_integral_value():
            value = value.quantize(Decimal(1))  # "12.0" is the whole number 12
        return value


def allows_decimals(indicator: IndicatorDefinition, part_label: str) -> bool:
    """WTE figures may have two decimal places; counts of people or posts are whole numbers.

    A rate is in WTE when its part says so (such as "Vacant funded social work posts (WTE)"
    or "WTE days lost"): the framework records units per indicator, not per part.
    """
    return indicator.unit == IndicatorUnit.WTE or "WTE" in part_label


def _figure_field(indicator: IndicatorDefinition, label: str) -> FigureField:
    decimals = allows_decimals(indicator, label)
    name = lower_first(label)
    field = FigureField(
        label=label,
        min_value=0,
        max_digits=FIGURE_WHOLE_DIGITS + (2 if decimals else 0),
        decimal_places=2 if decimals else 0,
        widget=forms.TextInput(
            attrs={
                "class": "nhsuk-input--width-5",
                "inputmode": "decimal" if decimals else "numeric",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        ),
    )
    field.error_messages.update(
        {
            "invalid": f"Enter {name} as a number, like {'12.5' if decimals else '12'}",
            "min_value": f"{label} cannot be negative",
            "max_decimal_places": (
                f"Enter {name} to no more than 2 decimal places" if decimals else f"Enter {name} as a whole number"
            ),
            "max_digits": f"{label} must be less than 10,000,000",
            "max_whole_digits": f"{label} must be less than 10,000,000",
        }
    )
    return field


@dataclass
class IndicatorRow:
    indicator: IndicatorDefinition
    numerator: forms.BoundField
    denominator: forms.BoundField | None

    @property
    def hint_id(self) -> str:
        return f"indicator-{self.indicator.code}-hint"

    @property
    def hint(self) -> str:
        return _indicator_hint(self.indicator)


class WorkforceForm(forms.Form):
    """Every indicator of the framework version: a count, or a numerator over a denominator.

    An implausible rate is not an error: the figures are saved and the workforce page warns
    about them, because a trust in real difficulty can have a vacancy rate of 45%.
    """

    use_required_attribute = False

    def __init__(self, *args, indicators, values: dict[int, IndicatorValue], **kwargs):
        super().__init__(*args, **kwargs)
        self.indicators = list(indicators)
        for indicator in self.indicators:
            value = values.get(indicator.pk)
            self.fields[f"{indicator.code}-numerator"] = _figure_field(indicator, indicator.numerator_label)
            self.initial[f"{indicator.code}-numerator"] = plain_figure(value.numerator if value else None)
            if indicator.is_rate:
                self.fields[f"{indicator.code}-denominator"] = _figure_field(indicator, indicator.denominator_label)
                self.initial[f"{indicator.code}-denominator"] = plain_figure(value.denominator if value else None)
            if not indicator.is_rate:
                self.fields[f"{indicator.code}-numerator"].help_text = _indicator_hint(indicator)

    def rows(self) -> list[IndicatorRow]:
        return [
            IndicatorRow(
                indicator=indicator,
                numerator=self[f"{indicator.code}-numerator"],
                denominator=self[f"{indicator.code}-denominator"] if indicator.is_rate else None,
            )
            for indicator in self.indicators
        ]

    def clean(self):
        cleaned = super().clean()
        for indicator in self.indicators:
            if not indicator.is_rate:
                continue
            num_name, den_name = f"{indicator.code}-numerator", f"{indicator.code}-denominator"
            if num_name in self.errors or den_name in self.errors:
                continue
            numerator, denominator = cleaned.get(num_name), cleaned.get(den_name)
            if numerator is None and denominator is None:
                continue
            if denominator is None:
                self.add_error(den_name, f"Enter {lower_first(indicator.denominator_label)}")
            elif numerator is None:
                self.add_error(num_name, f"Enter {lower_first(indicator.numerator_label)}")
            elif denominator == 0:
                self.add_error(den_name, f"{indicator.denominator_label} must be more than 0")
            elif numerator > denominator:
                self.add_error(
                    num_name,
                    f"{indicator.numerator_label} ({plain_figure(numerator)}) cannot be more than "
                    f"{lower_first(indicator.denominator_label)} ({plain_figure(denominator)})",
                )
        return cleaned

    def values(self) -> dict[int, tuple[Decimal | None, Decimal | None]]:
        return {
            indicator.pk: (
                self.cleaned_data.get(f"{indicator.code}-numerator"),
                self.cleaned_data.get(f"{indicator.code}-denominator") if indicator.is_rate else None,
            )
            for indicator in self.indicators
        }


def _indicator_hint(indicator: IndicatorDefinition) -> str:
    # The pack marks help text safe: escape the framework's text here.
    return format_html("{}<br>Data source: {}", " ".join(indicator.definition.split()), indicator.data_source)


def plain_figure(value: Decimal | None) -> str:
    """A stored figure as a person would type it: 212.00 -> "212", 196.40 -> "196.4"."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


# ---- improvement plan -------------------------------------------------------------------------


class RequirementChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, requirement: Requirement) -> str:
        return f"{requirement.code}: {requirement.title}"


class ActionForm(forms.Form):
    title = forms.CharField(
        label="Action",
        help_text="What will be done, for example 'Audit supervision compliance in community teams'.",
        max_length=250,
        error_messages={
            "required": "Enter the action",
            "max_length": "The action must be 250 characters or fewer",
        },
    )
    requirements = RequirementChoiceField(
        label="Which requirements does it address?",
        queryset=Requirement.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Select at least one requirement",
            "invalid_choice": "Select requirements from this assessment's framework",
        },
    )
    owner = forms.CharField(
        label="Owner",
        help_text="The person or role responsible, for example 'Principal social worker'.",
        max_length=200,
        error_messages={
            "required": "Enter who owns the action",
            "max_length": "The owner must be 200 characters or fewer",
        },
    )
    due_date = DateField(
        label="Due date",
        subject="Due date",
        help_text="For example, 31 3 2027",
        error_messages={"required": "Enter the date the action is due"},
    )
    status = forms.ChoiceField(
        label="Status",
        choices=ActionStatus.choices,
        widget=forms.RadioSelect,
        help_text="An action that is not complete by its due date is shown as overdue.",
        error_messages={"required": "Select the action's status"},
    )
    progress_notes = forms.CharField(
        label="Progress notes",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )

    def __init__(self, *args, framework, submit_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requirements"].queryset = framework.requirements.all()
        self.helper = nhsuk_helper(submit_label)
        self.helper.nhsuk_label_size = "s"
        self.helper.nhsuk_legend_size = "s"

    @classmethod
    def initial_for(cls, action) -> dict:
        return {
            "title": action.title,
            "requirements": [r.pk for r in action.requirements.all()],
            "owner": action.owner,
            "due_date": action.due_date,
            "status": action.status,
            "progress_notes": action.progress_notes,
        }
