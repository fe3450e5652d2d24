"""Helpers for the NHS.UK crispy-forms template pack in templates/nhsuk/.

The templates hold the markup; this module works out what the markup needs for one
bound field (which NHS.UK component it is, the ids of its hint and error message, the
classes and aria-describedby its input gets) and lists a form's errors for the summary.
"""

import os
from dataclasses import dataclass
from functools import cached_property

from django import forms, template
from django.forms.boundfield import BoundField, BoundWidget
from django.forms.formsets import BaseFormSet
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import slugify

register = template.Library()

SIZES = ("s", "m", "l", "xl")

# kind -> (class every input of that kind gets, class added when the field has errors)
INPUT_CLASSES = {
    "input": ("nhsuk-input", "nhsuk-input--error"),
    "password": ("nhsuk-input nhsuk-password-input__input nhsuk-js-password-input-input", "nhsuk-input--error"),
    "textarea": ("nhsuk-textarea", "nhsuk-textarea--error"),
    "select": ("nhsuk-select", "nhsuk-select--error"),
    # NHS.UK file upload has no error modifier on the input itself.
    "file": ("nhsuk-file-upload__input", ""),
    "checkbox": ("nhsuk-checkboxes__input", ""),
    "radios": ("nhsuk-radios__input", ""),
    "checkboxes": ("nhsuk-checkboxes__input", ""),
    "group": ("nhsuk-input", "nhsuk-input--error"),
}

# Kinds whose question is a <legend> of a <fieldset> rather than a <label>.
FIELDSET_KINDS = {"radios", "checkboxes", "group"}

# Classes crispy's Python layout objects hard-code for Bootstrap.
BOOTSTRAP_BUTTON_CLASSES = {"btn", "btn-primary", "btn-secondary", "btn-inverse", "hidden"}


def widget_kind(widget: forms.Widget) -> str:
    if widget.is_hidden:
        return "hidden"
    if isinstance(widget, forms.RadioSelect):  # CheckboxSelectMultiple subclasses RadioSelect
        return "checkboxes" if isinstance(widget, forms.CheckboxSelectMultiple) else "radios"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.FileInput):
        return "file"
    if isinstance(widget, forms.Textarea):
        return "textarea"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, (forms.MultiWidget, forms.SelectDateWidget)):
        return "group"
    if isinstance(widget, forms.PasswordInput):
        return "password"
    return "input"


def join_tokens(*token_lists: str) -> str:
    """Join space-separated lists (classes, ids), dropping blanks and repeats."""
    seen: dict[str, None] = {}
    for tokens in token_lists:
        for token in (tokens or "").split():
            seen.setdefault(token)
    return " ".join(seen)


def size_or(value, default: str) -> str:
    return value if value in SIZES else default


def anchor_id(field: BoundField) -> str:
    """The id of the element an error summary link should move focus to."""
    widget = field.field.widget
    id_ = widget.attrs.get("id") or field.auto_id
    if not id_:
        return ""
    if isinstance(widget, forms.RadioSelect):
        return widget.id_for_label(id_, "0")
    if isinstance(widget, forms.MultiWidget):
        return f"{id_}_0"
    return widget.id_for_label(id_) or id_


def part_labels(widget: forms.Widget, subwidgets: list[dict]) -> tuple[str, ...]:
    labels = getattr(widget, "part_labels", None)
    if labels:
        return tuple(labels)
    if isinstance(widget, forms.SplitDateTimeWidget):
        return ("Date", "Time")
    if isinstance(widget, forms.SelectDateWidget):
        return tuple(subwidget["name"].rsplit("_", 1)[-1].capitalize() for subwidget in subwidgets)
    return ()


@dataclass
class NhsukField:
    """One bound field as field.html renders it."""

    field: BoundField
    show_errors: bool = True
    show_label: bool = True
    is_page_heading: bool = False
    label_size: str = ""
    legend_size: str = "m"
    inline: bool = False
    wrapper_class: str = ""
    label_class: str = ""

    @cached_property
    def widget(self) -> forms.Widget:
        return self.field.field.widget

    @cached_property
    def kind(self) -> str:
        return widget_kind(self.widget)

    @property
    def uses_fieldset(self) -> bool:
        return self.kind in FIELDSET_KINDS

    @cached_property
    def id(self) -> str:
        return self.widget.attrs.get("id") or self.field.auto_id or ""

    @property
    def has_errors(self) -> bool:
        return bool(self.show_errors and self.field.errors)

    @property
    def hint_id(self) -> str:
        return f"{self.id}-hint" if self.id and self.field.help_text else ""

    @property
    def error_id(self) -> str:
        return f"{self.id}-error" if self.id and self.has_errors else ""

    @cached_property
    def maxlength(self) -> str:
        return str(self.widget.attrs.get("maxlength") or "")

    @property
    def is_character_count(self) -> bool:
        return self.kind == "textarea" and bool(self.maxlength) and bool(self.id)

    @property
    def info_id(self) -> str:
        return f"{self.id}-info" if self.is_character_count else ""

    @property
    def described_by(self) -> str:
        return join_tokens(self.widget.attrs.get("aria-describedby", ""), self.info_id, self.hint_id, self.error_id)

    @property
    def label(self):
        """The field's label, with "(optional)" when the person may leave it blank."""
        label = self.field.label
        if not label:
            return ""
        if self.field.field.required or self.kind == "checkbox" or str(label).endswith("(optional)"):
            return label
        return format_html("{} (optional)", label)

    @property
    def label_classes(self) -> str:
        size = "l" if self.is_page_heading else size_or(self.label_size, "")
        return join_tokens(
            "nhsuk-label",
            f"nhsuk-label--{size}" if size else "",
            self.label_class,
            "" if self.show_label else "nhsuk-u-visually-hidden",
        )

    @property
    def legend_classes(self) -> str:
        size = "l" if self.is_page_heading else size_or(self.legend_size, "m")
        return join_tokens(
            "nhsuk-fieldset__legend",
            f"nhsuk-fieldset__legend--{size}",
            self.label_class,
            "" if self.show_label else "nhsuk-u-visually-hidden",
        )

    @property
    def group_classes(self) -> str:
        component = {"file": "nhsuk-file-upload", "password": "nhsuk-password-input"}.get(self.kind, "")
        if self.is_character_count:
            component = "nhsuk-character-count"
        return join_tokens(
            "nhsuk-form-group",
            "nhsuk-form-group--error" if self.has_errors else "",
            component,
            self.wrapper_class,
            self.field.css_classes(),
        )

    @property
    def group_module(self) -> str:
        """The NHS.UK frontend JavaScript module that enhances the form group, if any."""
        if self.is_character_count:
            return "nhsuk-character-count"
        return {"file": "nhsuk-file-upload", "password": "nhsuk-password-input"}.get(self.kind, "")

    def _input_attrs(self) -> dict:
        base, error = INPUT_CLASSES["select" if isinstance(self.widget, forms.SelectDateWidget) else self.kind]
        if self.is_character_count:
            base += " nhsuk-js-character-count"
        attrs = {"class": join_tokens(base, error if self.has_errors else "", self.widget.attrs.get("class", ""))}
        if not self.uses_fieldset and self.described_by:
            attrs["aria-describedby"] = self.described_by
        if isinstance(self.widget, forms.NumberInput) and "inputmode" not in self.widget.attrs:
            attrs["inputmode"] = "numeric" if isinstance(self.field.field, forms.IntegerField) else "decimal"
        if self.kind == "password":
            attrs.setdefault("spellcheck", self.widget.attrs.get("spellcheck", "false"))
            attrs.setdefault("autocapitalize", self.widget.attrs.get("autocapitalize", "none"))
        return attrs

    @property
    def widget_html(self):
        """The input, textarea or select, rendered by Django so a bound form keeps what was typed."""
        widget = self.widget
        if isinstance(widget, forms.ClearableFileInput):
            # The NHS.UK file upload is a bare <input type="file">; the current file and the
            # "remove" checkbox are rendered by file.html outside the enhanced form group.
            plain = forms.FileInput()
            plain.attrs = widget.attrs.copy()
            plain.allow_multiple_selected = widget.allow_multiple_selected
            widget = plain
        return self.field.as_widget(widget=widget, attrs=self._input_attrs())

    @cached_property
    def options(self) -> list[BoundWidget]:
        """One radio or checkbox per choice, with ids <id>_0, <id>_1…, rendered by Django."""
        attrs = {"id": self.id} if self.id else {}
        attrs = self.field.build_widget_attrs(attrs)
        attrs["class"] = self._input_attrs()["class"]
        renderer = self.field.form.renderer
        return [
            BoundWidget(self.widget, option, renderer)
            for option in self.widget.subwidgets(self.field.html_name, self.field.value(), attrs=attrs)
        ]

    @cached_property
    def parts(self) -> list[dict]:
        """The inputs of a multi-part field, each with its own label, as NHS.UK date input items.

        Labels come from the widget's ``part_labels`` (a tuple of strings), or are known for
        SplitDateTimeWidget and SelectDateWidget. Without labels the list is empty and
        field.html renders the parts side by side as Django does.
        """
        if self.kind != "group":
            return []
        attrs = self.field.build_widget_attrs(self._input_attrs(), self.widget)
        if self.id:
            attrs.setdefault("id", self.id)
        if not isinstance(self.widget, forms.SelectDateWidget):
            attrs["class"] = join_tokens(attrs["class"], "nhsuk-date-input__input")
        context = self.widget.get_context(self.field.html_name, self.field.value(), attrs)
        subwidgets = context["widget"]["subwidgets"]
        labels = part_labels(self.widget, subwidgets)
        if not labels:
            return []
        renderer = self.field.form.renderer
        return [
            {
                "label": label,
                "id": subwidget["attrs"].get("id", ""),
                "html": mark_safe(renderer.render(subwidget["template_name"], {"widget": subwidget})),  # noqa: S308
            }
            for label, subwidget in zip(labels, subwidgets, strict=False)
        ]

    @cached_property
    def current_file(self):
        """The file a ClearableFileInput already holds, if any."""
        if isinstance(self.widget, forms.ClearableFileInput):
            value = self.field.value()
            if self.widget.is_initial(value):
                return value
        return None

    @property
    def current_file_name(self) -> str:
        return os.path.basename(self.current_file.name) if self.current_file else ""

    @property
    def clear_checkbox(self) -> dict | None:
        if not self.current_file or self.field.field.required:
            return None
        name = self.widget.clear_checkbox_name(self.field.html_name)
        return {"name": name, "id": self.widget.clear_checkbox_id(name), "checked": self.widget.checked}


@register.simple_tag(takes_context=True)
def nhsuk_field(context, field: BoundField) -> NhsukField:
    """Describe a bound field for field.html, reading crispy's and the helper's settings from the context.

    FormHelper attributes the pack reads (all optional):
      nhsuk_page_heading = "<field name>"  that field's label or legend is the page's <h1>
      nhsuk_label_size = "s" | "m" | "l" | "xl"  size of labels of single inputs
      nhsuk_legend_size = "s" | "m" | "l" | "xl"  size of legends (default "m")
    """
    return NhsukField(
        field=field,
        show_errors=context.get("form_show_errors", True) is not False,
        show_label=context.get("form_show_labels", True) is not False,
        is_page_heading=bool(field.name) and context.get("nhsuk_page_heading") == field.name,
        label_size=context.get("nhsuk_label_size") or "",
        legend_size=context.get("nhsuk_legend_size") or "m",
        inline=context.get("inline_class") == "inline",
        wrapper_class=context.get("wrapper_class") or "",
        label_class=context.get("label_class") or "",
    )


@register.simple_tag(takes_context=True)
def nhsuk_legend_classes(context) -> str:
    """Classes for the legend of a crispy Fieldset layout object."""
    size = size_or(context.get("nhsuk_legend_size"), "m")
    return f"nhsuk-fieldset__legend nhsuk-fieldset__legend--{size}"


@register.filter
def nhsuk_top_errors(form) -> list[str]:
    """Errors that belong to no visible field: non-field errors, then errors on hidden fields."""
    if isinstance(form, BaseFormSet):
        return list(form.non_form_errors())
    if not hasattr(form, "non_field_errors"):
        return []
    errors = list(form.non_field_errors())
    for field in form.hidden_fields():
        errors.extend(field.errors)
    return errors


@dataclass(frozen=True)
class SummaryItem:
    message: str
    href: str = ""


def _summary_items(form) -> list[SummaryItem]:
    items = [SummaryItem(message) for message in nhsuk_top_errors(form)]
    for field in form.visible_fields():
        target = anchor_id(field)
        items.extend(SummaryItem(message, f"#{target}" if target else "") for message in field.errors)
    return items


@register.simple_tag
def nhsuk_error_summary_items(form) -> list[SummaryItem]:
    """Every error of a form (or formset), in page order, each linked to the input that needs fixing."""
    if isinstance(form, BaseFormSet):
        items = [SummaryItem(message) for message in form.non_form_errors()]
        for subform in form.forms:
            items.extend(_summary_items(subform))
        return items
    if not getattr(form, "errors", None):
        return []
    return _summary_items(form)


@register.filter
def nhsuk_button_classes(input_object) -> str:
    """nhsuk-button plus the author's css_class, without the Bootstrap classes crispy adds."""
    kept = [name for name in input_object.field_classes.split() if name not in BOOTSTRAP_BUTTON_CLASSES]
    return join_tokens("nhsuk-button", *kept)


@register.filter
def nhsuk_button_id(input_object) -> str:
    """The button's id if the author chose one; crispy's made-up default would repeat across forms on a page."""
    default = f"{input_object.input_type}-id-{slugify(input_object.name)}"
    return "" if input_object.id == default else input_object.id
