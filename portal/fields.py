"""Form fields for NHS.UK patterns that Django does not have."""

import datetime
import re

from django import forms
from django.core.exceptions import ValidationError


class DateInputWidget(forms.MultiWidget):
    """Day, month and year boxes, rendered by the template pack as an NHS.UK date input."""

    part_labels = ("Day", "Month", "Year")
    widths = ("nhsuk-input--width-2", "nhsuk-input--width-2", "nhsuk-input--width-4")

    def __init__(self, attrs=None):
        part = {"inputmode": "numeric"}
        widgets = {
            "day": forms.TextInput(attrs={**part, "maxlength": "2"}),
            "month": forms.TextInput(attrs={**part, "maxlength": "2"}),
            "year": forms.TextInput(attrs={**part, "maxlength": "4"}),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if isinstance(value, datetime.date):
            return [value.day, value.month, value.year]
        return [None, None, None]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # The pack gives every part the same classes; NHS.UK sizes the year box wider.
        for subwidget, width in zip(context["widget"]["subwidgets"], self.widths, strict=True):
            classes = subwidget["attrs"].get("class", "")
            subwidget["attrs"]["class"] = f"{classes} {width}".strip()
        return context


class DateField(forms.Field):
    """A date typed as day, month and year, with NHS.UK error messages naming the question."""

    widget = DateInputWidget
    part_names = ("day", "month", "year")

    def __init__(self, *, subject: str, **kwargs):
        self.subject = subject
        kwargs.setdefault("error_messages", {}).setdefault("required", f"Enter the {subject.lower()}")
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, datetime.date):
            return value
        if not value:
            return None
        parts = [str(part if part is not None else "").strip() for part in value]
        if not any(parts):
            return None
        missing = [name for name, part in zip(self.part_names, parts, strict=True) if not part]
        if missing:
            raise ValidationError(f"{self.subject} must include a {' and a '.join(missing)}", code="incomplete")
        if not all(re.fullmatch(r"[0-9]{1,4}", part) for part in parts):
            raise ValidationError(f"{self.subject} must be a real date", code="invalid")
        if len(parts[2]) != 4:
            raise ValidationError("Year must include 4 numbers", code="invalid_year")
        day, month, year = (int(part) for part in parts)
        try:
            return datetime.date(year, month, day)
        except ValueError as error:
            raise ValidationError(f"{self.subject} must be a real date", code="invalid") from error
