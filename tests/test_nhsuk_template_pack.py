"""The NHS.UK crispy-forms template pack (templates/nhsuk/) renders Django forms as NHS.UK markup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Button, ButtonHolder, Div, Fieldset, Layout, Submit
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template

# ---- a small DOM, enough to ask questions of the rendered HTML ----

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        parts = [child if isinstance(child, str) else child.text for child in self.children]
        return " ".join(" ".join(parts).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (cls is None or cls in element.classes)
            and all(element.attrs.get(name.rstrip("_").replace("_", "-")) == value for name, value in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} class={cls} {attrs}>, found {len(found)}"
        return found[0]

    def by_id(self, id_: str) -> Element:
        return self.find(id=id_)

    def ancestor(self, cls: str) -> Element:
        node = self.parent
        while node is not None and cls not in node.classes:
            node = node.parent
        assert node is not None, f"no ancestor with class {cls}"
        return node


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(element)
        if tag not in VOID_ELEMENTS:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"unexpected </{tag}>"
        self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> never closed"
    return builder.root


def render_crispy(form) -> str:
    return Template("{% load crispy_forms_tags %}{% crispy form %}").render(
        Context({"form": form, "csrf_token": "test-csrf-token"})
    )


def render_summary(form) -> str:
    return Template('{% include "nhsuk/error_summary.html" %}').render(Context({"form": form}))


def page(form) -> Element:
    """The error summary and the form, as base.html puts them on a page."""
    return parse(render_summary(form) + render_crispy(form))


def described_by(element: Element) -> list[str]:
    return (element.attrs.get("aria-describedby") or "").split()


# ---- forms under test ----

RATINGS = [("met", "Met"), ("partly", "Partly met"), ("not", "Not met")]
TEAMS = [("adult", "Adult mental health"), ("older", "Older adults"), ("crisis", "Crisis")]


class EverythingForm(forms.Form):
    full_name = forms.CharField(label="Full name", help_text="As it appears on your work badge")
    email = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false", "autofocus": True}),
        error_messages={"required": "Enter your email address"},
    )
    job_title = forms.CharField(label="Job title", required=False)
    evidence = forms.CharField(label="Describe the evidence", widget=forms.Textarea(attrs={"rows": 4}))
    summary = forms.CharField(label="Summary", widget=forms.Textarea, max_length=300, required=False)
    region = forms.ChoiceField(label="Region", choices=[("", "Choose a region"), ("east", "East"), ("west", "West")])
    rating = forms.ChoiceField(
        label="How well does the trust meet R3?",
        choices=RATINGS,
        widget=forms.RadioSelect,
        help_text="Choose the rating the evidence supports",
        error_messages={"required": "Select a rating for R3"},
    )
    teams = forms.MultipleChoiceField(
        label="Teams", choices=TEAMS, widget=forms.CheckboxSelectMultiple, error_messages={"required": "Select a team"}
    )
    confirm = forms.BooleanField(
        label="I confirm the evidence is accurate",
        help_text="The board will see your name",
        error_messages={"required": "Confirm the evidence is accurate"},
    )
    attachment = forms.FileField(label="Upload evidence", required=False, help_text="PDF or Word, up to 10MB")
    headcount = forms.IntegerField(label="Number of social workers")
    password = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    next = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Save"))


VALID_DATA = {
    "full_name": "Sam Patel",
    "email": "sam@example.nhs.uk",
    "evidence": "Supervision policy, 2024",
    "region": "east",
    "rating": "met",
    "teams": ["adult"],
    "confirm": "on",
    "headcount": "12",
    "password": "secret",
}

# Everything typed, but nothing for the questions the tests expect to see errors on.
INVALID_DATA = {
    "full_name": "",
    "email": "",
    "job_title": "Approved mental health professional",
    "evidence": "Line one\nLine two <b>bold</b>",
    "summary": "Short summary",
    "region": "west",
    "teams": ["older", "crisis"],
    "headcount": "12",
    "password": "",
}


def invalid_form() -> EverythingForm:
    form = EverythingForm(data=INVALID_DATA)
    assert not form.is_valid()
    return form


# ---- the form element ----


def test_form_posts_without_browser_validation_and_carries_csrf_token():
    """{% crispy %} renders a POST form with novalidate and the CSRF token."""
    dom = parse(render_crispy(EverythingForm()))

    form = dom.find("form")
    assert form.attrs["method"] == "post"
    assert "novalidate" in form.attrs
    assert form.attrs["enctype"] == "multipart/form-data"
    assert dom.find("input", name="csrfmiddlewaretoken").attrs["value"] == "test-csrf-token"


def test_hidden_field_renders_as_bare_hidden_input():
    """A hidden field is a hidden input with no form group, label or hint."""
    dom = parse(render_crispy(EverythingForm()))

    hidden = dom.find("input", name="next")
    assert hidden.attrs["type"] == "hidden"
    assert "nhsuk-form-group" not in hidden.parent.classes
    assert not dom.find_all("label", for_="id_next")


# ---- single inputs ----


def test_text_input_has_an_nhsuk_label_bound_to_it():
    """A text field is an nhsuk-form-group with an nhsuk-label whose for= is the nhsuk-input's id."""
    dom = parse(render_crispy(EverythingForm()))

    text_input = dom.by_id("id_full_name")
    assert text_input.tag == "input"
    assert text_input.classes == {"nhsuk-input"}
    label = dom.find("label", for_="id_full_name")
    assert label.classes == {"nhsuk-label"}
    assert label.text == "Full name"
    group = text_input.ancestor("nhsuk-form-group")
    assert "nhsuk-form-group--error" not in group.classes
    assert label.ancestor("nhsuk-form-group") is group


def test_help_text_is_a_hint_the_input_is_described_by():
    """help_text renders as nhsuk-hint with id <id>-hint, referenced by the input's aria-describedby."""
    dom = parse(render_crispy(EverythingForm()))

    hint = dom.by_id("id_full_name-hint")
    assert hint.classes == {"nhsuk-hint"}
    assert hint.text == "As it appears on your work badge"
    assert described_by(dom.by_id("id_full_name")) == ["id_full_name-hint"]


def test_field_without_hint_or_error_has_no_aria_describedby():
    """An input with neither hint nor error points at nothing."""
    dom = parse(render_crispy(EverythingForm()))

    assert "aria-describedby" not in dom.by_id("id_job_title").attrs


def test_invalid_input_shows_error_message_with_visually_hidden_prefix():
    """An invalid field gets the error group, nhsuk-input--error and an error message the input is described by."""
    dom = parse(render_crispy(invalid_form()))

    text_input = dom.by_id("id_full_name")
    assert text_input.classes == {"nhsuk-input", "nhsuk-input--error"}
    assert "nhsuk-form-group--error" in text_input.ancestor("nhsuk-form-group").classes
    message = dom.by_id("id_full_name-error")
    assert message.tag == "span"
    assert message.classes == {"nhsuk-error-message"}
    prefix = message.find("span", cls="nhsuk-u-visually-hidden")
    assert prefix.text == "Error:"
    assert message.text == "Error: This field is required."
    assert described_by(text_input) == ["id_full_name-hint", "id_full_name-error"]


def test_custom_error_message_is_shown_beside_the_field():
    """The field's own error message is the one shown, not Django's default."""
    dom = parse(render_crispy(invalid_form()))

    assert dom.by_id("id_email-error").text == "Error: Enter your email address"


def test_email_input_keeps_the_widget_attributes():
    """Widget attrs such as autocomplete, spellcheck and autofocus survive rendering."""
    dom = parse(render_crispy(EverythingForm()))

    email = dom.by_id("id_email")
    assert email.attrs["type"] == "email"
    assert email.attrs["autocomplete"] == "email"
    assert email.attrs["spellcheck"] == "false"
    assert "autofocus" in email.attrs


def test_optional_field_says_optional_and_required_field_has_no_asterisk():
    """Labels of optional fields end with "(optional)"; required fields carry no marker."""
    html = render_crispy(EverythingForm())
    dom = parse(html)

    assert dom.find("label", for_="id_job_title").text == "Job title (optional)"
    assert dom.find("label", for_="id_full_name").text == "Full name"
    assert "*" not in html
    assert "asteriskField" not in html


def test_bound_text_inputs_keep_what_was_typed():
    """After a failed submission every text input shows what the person typed."""
    dom = parse(render_crispy(invalid_form()))

    assert dom.by_id("id_job_title").attrs["value"] == "Approved mental health professional"
    assert dom.by_id("id_headcount").attrs["value"] == "12"


def test_number_input_asks_for_the_numeric_keyboard():
    """An IntegerField keeps type=number and gains inputmode=numeric."""
    dom = parse(render_crispy(EverythingForm()))

    headcount = dom.by_id("id_headcount")
    assert headcount.attrs["type"] == "number"
    assert headcount.attrs["inputmode"] == "numeric"
    assert "nhsuk-input" in headcount.classes


def test_password_field_is_the_nhsuk_password_input():
    """A PasswordInput is the NHS.UK password input with its hidden show button, never echoing a value."""
    form = invalid_form()
    dom = parse(render_crispy(form))

    password = dom.by_id("id_password")
    assert {"nhsuk-input", "nhsuk-password-input__input", "nhsuk-input--error"} <= password.classes
    assert password.attrs["autocomplete"] == "current-password"
    assert "value" not in password.attrs
    group = password.ancestor("nhsuk-form-group")
    assert {"nhsuk-password-input", "nhsuk-form-group--error"} <= group.classes
    assert group.attrs["data-module"] == "nhsuk-password-input"
    toggle = group.find("button")
    assert toggle.attrs["aria-controls"] == "id_password"
    assert "hidden" in toggle.attrs


# ---- textarea and select ----


def test_textarea_keeps_typed_text_and_rows():
    """A Textarea is an nhsuk-textarea that re-renders the typed text (escaped) and keeps its rows."""
    html = render_crispy(invalid_form())
    dom = parse(html)

    textarea = dom.by_id("id_evidence")
    assert textarea.tag == "textarea"
    assert textarea.classes == {"nhsuk-textarea"}
    assert textarea.attrs["rows"] == "4"
    assert "Line one\nLine two <b>bold</b>" in "".join(textarea.children)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_textarea_with_maxlength_is_a_character_count():
    """A textarea with a maxlength becomes the NHS.UK character count, keeping maxlength as a fallback."""
    dom = parse(render_crispy(invalid_form()))

    textarea = dom.by_id("id_summary")
    assert {"nhsuk-textarea", "nhsuk-js-character-count"} <= textarea.classes
    assert textarea.attrs["maxlength"] == "300"
    group = textarea.ancestor("nhsuk-form-group")
    assert "nhsuk-character-count" in group.classes
    assert group.attrs["data-module"] == "nhsuk-character-count"
    assert group.attrs["data-maxlength"] == "300"
    assert dom.by_id("id_summary-info").text == "You can enter up to 300 characters"
    assert described_by(textarea) == ["id_summary-info"]
    assert "".join(textarea.children).strip() == "Short summary"


def test_select_keeps_the_chosen_option():
    """A Select is an nhsuk-select with the submitted option still selected."""
    dom = parse(render_crispy(invalid_form()))

    select = dom.by_id("id_region")
    assert select.classes == {"nhsuk-select"}
    selected = [option.attrs["value"] for option in select.find_all("option") if "selected" in option.attrs]
    assert selected == ["west"]


# ---- radios, checkboxes and the single checkbox ----


def test_radios_are_a_fieldset_with_the_label_as_legend():
    """RadioSelect renders nhsuk-radios in an nhsuk-fieldset whose medium legend is the field's label."""
    dom = parse(render_crispy(EverythingForm()))

    radios = dom.find("div", cls="nhsuk-radios")
    assert radios.attrs["data-module"] == "nhsuk-radios"
    fieldset = radios.ancestor("nhsuk-fieldset")
    assert fieldset.tag == "fieldset"
    legend = fieldset.find("legend")
    assert legend.classes == {"nhsuk-fieldset__legend", "nhsuk-fieldset__legend--m"}
    assert legend.text == "How well does the trust meet R3?"
    assert described_by(fieldset) == ["id_rating-hint"]
    assert not dom.find_all("label", for_="id_rating")


def test_radio_options_have_numbered_ids_and_their_own_labels():
    """Each radio has id <id>_<n>, the nhsuk-radios__input class and an nhsuk-radios__label bound to it."""
    dom = parse(render_crispy(EverythingForm()))

    for index, (value, label_text) in enumerate(RATINGS):
        radio = dom.by_id(f"id_rating_{index}")
        assert radio.attrs["type"] == "radio"
        assert radio.attrs["value"] == value
        assert "nhsuk-radios__input" in radio.classes
        assert "aria-describedby" not in radio.attrs  # the fieldset carries it
        assert "nhsuk-radios__item" in radio.parent.classes
        label = dom.find("label", for_=f"id_rating_{index}")
        assert label.classes == {"nhsuk-label", "nhsuk-radios__label"}
        assert label.text == label_text


def test_invalid_radios_describe_the_fieldset_with_hint_and_error():
    """An unanswered radio question shows its error inside the fieldset, which is described by hint and error."""
    dom = parse(render_crispy(invalid_form()))

    fieldset = dom.find("div", cls="nhsuk-radios").ancestor("nhsuk-fieldset")
    assert "nhsuk-form-group--error" in fieldset.ancestor("nhsuk-form-group").classes
    assert described_by(fieldset) == ["id_rating-hint", "id_rating-error"]
    assert dom.by_id("id_rating-error").text == "Error: Select a rating for R3"
    assert dom.by_id("id_rating-error").ancestor("nhsuk-fieldset") is fieldset


def test_chosen_radio_stays_checked():
    """After a failed submission the chosen radio is still checked."""
    form = EverythingForm(data={**INVALID_DATA, "rating": "partly"})
    assert not form.is_valid()
    dom = parse(render_crispy(form))

    checked = [radio.attrs["value"] for radio in dom.find_all("input", type="radio") if "checked" in radio.attrs]
    assert checked == ["partly"]


def test_checkboxes_are_a_fieldset_and_keep_ticked_options():
    """CheckboxSelectMultiple renders nhsuk-checkboxes in a fieldset, with the ticked options still ticked."""
    dom = parse(render_crispy(invalid_form()))

    checkboxes = dom.by_id("id_teams_0").ancestor("nhsuk-checkboxes")
    assert checkboxes.attrs["data-module"] == "nhsuk-checkboxes"
    assert len(checkboxes.find_all("input", type="checkbox", name="teams")) == len(TEAMS)
    assert checkboxes.ancestor("nhsuk-fieldset").find("legend").text == "Teams"
    assert dom.by_id("id_teams_0").classes == {"nhsuk-checkboxes__input"}
    assert dom.find("label", for_="id_teams_2").text == "Crisis"
    ticked = [box.attrs["value"] for box in checkboxes.find_all("input") if "checked" in box.attrs]
    assert ticked == ["older", "crisis"]


def test_boolean_field_is_a_single_checkbox_item():
    """A BooleanField is one nhsuk-checkboxes item with its label beside it and its hint inside the item."""
    dom = parse(render_crispy(invalid_form()))

    checkbox = dom.by_id("id_confirm")
    assert checkbox.attrs["type"] == "checkbox"
    assert checkbox.classes == {"nhsuk-checkboxes__input"}
    item = checkbox.parent
    assert "nhsuk-checkboxes__item" in item.classes
    assert item.find("label", for_="id_confirm").classes == {"nhsuk-label", "nhsuk-checkboxes__label"}
    assert item.find("label").text == "I confirm the evidence is accurate"
    assert dom.by_id("id_confirm-hint").classes == {"nhsuk-hint", "nhsuk-checkboxes__hint"}
    assert described_by(checkbox) == ["id_confirm-hint", "id_confirm-error"]
    assert dom.by_id("id_confirm-error").text == "Error: Confirm the evidence is accurate"
    assert not checkbox.ancestor("nhsuk-form-group").find_all("fieldset")


# ---- file upload ----


def test_file_field_is_the_nhsuk_file_upload():
    """A FileField is the NHS.UK file upload: enhanced form group, bare file input, label and hint."""
    dom = parse(render_crispy(EverythingForm()))

    file_input = dom.by_id("id_attachment")
    assert file_input.attrs["type"] == "file"
    assert file_input.classes == {"nhsuk-file-upload__input"}
    assert described_by(file_input) == ["id_attachment-hint"]
    group = file_input.ancestor("nhsuk-form-group")
    assert "nhsuk-file-upload" in group.classes
    assert group.attrs["data-module"] == "nhsuk-file-upload"
    assert group.find("label", for_="id_attachment").text == "Upload evidence (optional)"
    assert len(group.find_all("input")) == 1


def test_file_field_with_current_file_offers_to_remove_it_outside_the_upload_group():
    """A ClearableFileInput holding a file names it and offers a remove checkbox after the upload group."""

    class StoredFile:
        name = "evidence/2025/supervision-policy.pdf"
        url = "/files/1"

    form = EverythingForm(initial={"attachment": StoredFile()})
    dom = parse(render_crispy(form))

    upload_group = dom.by_id("id_attachment").ancestor("nhsuk-file-upload")
    assert len(upload_group.find_all("input")) == 1
    remove = dom.find("input", name="attachment-clear")
    assert remove.attrs["type"] == "checkbox"
    assert remove.ancestor("nhsuk-form-group") is not upload_group
    assert dom.find("label", for_=remove.attrs["id"]).text == "Remove the current file"
    assert "Current file: supervision-policy.pdf" in dom.text


# ---- buttons and layout objects ----


def test_submit_input_is_an_nhsuk_button():
    """helper.add_input(Submit(...)) renders <button class="nhsuk-button" data-module="nhsuk-button" type="submit">."""
    dom = parse(render_crispy(EverythingForm()))

    button = dom.find("button", type="submit")
    assert button.classes == {"nhsuk-button"}
    assert button.attrs["data-module"] == "nhsuk-button"
    assert button.text == "Save"
    assert "id" not in button.attrs
    assert not dom.find_all("input", type="submit")


def test_layout_objects_render_as_nhsuk_markup():
    """Fieldset, Div, HTML and ButtonHolder with a secondary button render as NHS.UK markup."""

    class ContactForm(forms.Form):
        phone = forms.CharField(label="Phone number")
        postcode = forms.CharField(label="Postcode")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.helper = FormHelper()
            self.helper.layout = Layout(
                Fieldset("How can we contact you?", "phone", "postcode", css_id="contact"),
                Div(HTML('<p class="nhsuk-body">We only use this to reply.</p>'), css_class="nhsuk-inset-text"),
                ButtonHolder(
                    Submit("save", "Save"),
                    Button("cancel", "Cancel", css_class="nhsuk-button--secondary"),
                ),
            )

    dom = parse(render_crispy(ContactForm()))

    fieldset = dom.by_id("contact")
    assert fieldset.tag == "fieldset"
    assert "nhsuk-fieldset" in fieldset.classes
    assert fieldset.find("legend").classes == {"nhsuk-fieldset__legend", "nhsuk-fieldset__legend--m"}
    assert fieldset.find("legend").text == "How can we contact you?"
    assert fieldset.find("input", name="phone").attrs["id"] == "id_phone"
    assert dom.find("div", cls="nhsuk-inset-text").find("p").text == "We only use this to reply."
    group = dom.find("div", cls="nhsuk-button-group")
    save, cancel = group.find_all("button")
    assert save.classes == {"nhsuk-button"}
    assert save.attrs["type"] == "submit"
    assert cancel.classes == {"nhsuk-button", "nhsuk-button--secondary"}
    assert cancel.attrs["type"] == "button"
    assert cancel.text == "Cancel"


def test_page_heading_field_label_is_the_h1():
    """helper.nhsuk_page_heading makes that field's label the page's h1 at size L."""
    form = EverythingForm()
    form.helper.nhsuk_page_heading = "full_name"
    form.helper.layout = Layout("full_name", "rating")
    dom = parse(render_crispy(form))

    heading = dom.find("h1")
    assert heading.classes == {"nhsuk-label-wrapper"}
    assert heading.find("label", for_="id_full_name").classes == {"nhsuk-label", "nhsuk-label--l"}


def test_page_heading_radio_question_legend_holds_the_h1():
    """For a radio question that is the page heading, the legend is size L and holds the h1."""
    form = EverythingForm()
    form.helper.nhsuk_page_heading = "rating"
    dom = parse(render_crispy(form))

    heading = dom.find("h1")
    assert heading.classes == {"nhsuk-fieldset__heading"}
    assert heading.text == "How well does the trust meet R3?"
    assert heading.parent.classes == {"nhsuk-fieldset__legend", "nhsuk-fieldset__legend--l"}


def test_legend_size_follows_the_helper():
    """helper.nhsuk_legend_size sets the size of question legends."""
    form = EverythingForm()
    form.helper.nhsuk_legend_size = "s"
    dom = parse(render_crispy(form))

    legend = dom.find("div", cls="nhsuk-radios").ancestor("nhsuk-fieldset").find("legend")
    assert legend.classes == {"nhsuk-fieldset__legend", "nhsuk-fieldset__legend--s"}


# ---- multi-part fields ----


class WhenForm(forms.Form):
    reviewed_at = forms.SplitDateTimeField(label="When was the policy reviewed?")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()


def test_multi_part_field_is_a_group_fieldset_with_labelled_parts():
    """A MultiWidget renders as a role=group fieldset whose parts each have a label and keep their values."""
    form = WhenForm(data={"reviewed_at_0": "2025-03-01", "reviewed_at_1": ""})
    assert not form.is_valid()
    dom = parse(render_crispy(form))

    fieldset = dom.find("fieldset", role="group")
    assert fieldset.find("legend").text == "When was the policy reviewed?"
    assert described_by(fieldset) == ["id_reviewed_at-error"]
    assert dom.find("label", for_="id_reviewed_at_0").text == "Date"
    assert dom.find("label", for_="id_reviewed_at_1").text == "Time"
    assert dom.by_id("id_reviewed_at_0").attrs["value"] == "2025-03-01"
    assert "nhsuk-input--error" in dom.by_id("id_reviewed_at_1").classes


# ---- errors: inline and in the summary ----


def test_error_summary_lists_every_error_linked_to_an_element_on_the_page():
    """Each summary link points at an id that exists in the form: inputs, first radio, first checkbox."""
    form = EverythingForm(data={**INVALID_DATA, "teams": []})
    assert not form.is_valid()
    form.add_error(None, "This assessment was changed by someone else. Check the answers and save again.")
    dom = page(form)

    summary = dom.find("div", cls="nhsuk-error-summary")
    items = summary.find_all("li")
    assert items[0].text == "This assessment was changed by someone else. Check the answers and save again."
    assert not items[0].find_all("a")
    links = [(link.attrs["href"], link.text) for link in summary.find_all("a")]
    assert links == [
        ("#id_full_name", "This field is required."),
        ("#id_email", "Enter your email address"),
        ("#id_rating_0", "Select a rating for R3"),
        ("#id_teams_0", "Select a team"),
        ("#id_confirm", "Confirm the evidence is accurate"),
        ("#id_password", "This field is required."),
    ]
    hrefs = [href for href, _ in links]
    for href in hrefs:
        target = dom.by_id(href.removeprefix("#"))
        assert target.tag in {"input", "textarea", "select"}


def test_error_summary_uses_the_nhsuk_v10_markup():
    """The summary has data-module, an inner role=alert and the heading "There is a problem"."""
    dom = parse(render_summary(invalid_form()))

    summary = dom.find("div", cls="nhsuk-error-summary")
    assert summary.attrs["data-module"] == "nhsuk-error-summary"
    alert = summary.find("div", role="alert")
    heading = alert.find("h2")
    assert heading.classes == {"nhsuk-error-summary__heading"}
    assert heading.text == "There is a problem"
    assert alert.find("ul").classes == {"nhsuk-list", "nhsuk-error-summary__list"}
    assert "Select a rating for R3" in [link.text for link in alert.find_all("a")]


def test_error_summary_is_empty_for_unbound_and_valid_forms():
    """No summary is rendered when there is nothing to fix."""
    valid = EverythingForm(data=VALID_DATA)
    assert valid.is_valid(), valid.errors

    assert render_summary(EverythingForm()).strip() == ""
    assert render_summary(valid).strip() == ""


def test_error_summary_links_multi_part_field_to_its_first_part():
    """A multi-part field's summary link moves focus to its first input."""
    form = WhenForm(data={})
    assert not form.is_valid()
    dom = page(form)

    link = dom.find("div", cls="nhsuk-error-summary").find("a")
    assert link.attrs["href"] == "#id_reviewed_at_0"
    assert dom.by_id("id_reviewed_at_0").tag == "input"


def test_form_rendering_never_includes_an_error_summary():
    """The crispy form shows errors inline only; the page's summary comes from error_summary.html."""
    html = render_crispy(invalid_form())

    assert "nhsuk-error-summary" not in html
    assert "There is a problem" not in html


def test_non_field_errors_are_shown_at_the_top_of_the_form():
    """Errors not tied to a field appear as NHS.UK error messages before the first field."""
    form = invalid_form()
    form.add_error(None, "Enter a correct email address and password")
    dom = parse(render_crispy(form))

    messages = dom.find("form").find_all("span", cls="nhsuk-error-message")
    assert messages[0].text == "Error: Enter a correct email address and password"
    assert "id" not in messages[0].attrs


def test_rendered_form_has_no_inline_styles_or_scripts():
    """Strict CSP: no style attributes, no <script>, no event-handler attributes."""
    form = invalid_form()
    html = render_summary(form) + render_crispy(form)
    dom = parse(html)

    assert not dom.find_all("script")
    assert not dom.find_all("style")
    for element in dom.iter():
        assert "style" not in element.attrs
        assert not [name for name in element.attrs if name.startswith("on")]


def test_every_id_on_the_page_is_unique():
    """Hint, error and option ids never collide (axe's duplicate-id rule)."""
    dom = page(invalid_form())

    ids = [element.attrs["id"] for element in dom.iter() if element.attrs.get("id")]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z][\w-]*", id_) for id_ in ids)


def test_uploaded_file_form_is_valid_with_the_pack_field_names():
    """The rendered file input's name is the one Django reads the upload from."""
    upload = SimpleUploadedFile("policy.pdf", b"%PDF-1.4", content_type="application/pdf")
    dom = parse(render_crispy(EverythingForm()))
    name = dom.by_id("id_attachment").attrs["name"]

    form = EverythingForm(data=VALID_DATA, files={name: upload})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["attachment"].name == "policy.pdf"
