"""The evidence library pages: list, detail, links, new versions, downloads and linking evidence to a response."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import evidence, services
from assessments.models import AssessmentEvent, AuditAction, EvidenceItem, EvidenceVersion, ResponseEvidence
from portal.models import AuditEvent
from tests.test_evidence_upload import (
    add_document,
    details,
    make_docx,
    make_image,
    make_pdf,
    page_text,
    stored_files,
    use_temporary_evidence_storage,
)


@pytest.fixture(autouse=True)
def storage_root(monkeypatch, settings, tmp_path):
    return use_temporary_evidence_storage(monkeypatch, settings, tmp_path)


@pytest.fixture
def document(trust, lead):
    return add_document(trust, lead, title="Supervision policy", name="policy.pdf")


def link_to(assessment, code, item, user):
    response = assessment.responses.get(requirement__code=code)
    services.link_evidence(response=response, item=item, linked_by=user)
    return response


ROLES = [
    ("lead", 200),
    ("contributor", 200),
    ("executive", 200),
    ("board_reader", 403),
    ("ics_lead", 403),
    ("outsider", 404),
]

# ---- the library ----------------------------------------------------------------------------------


def test_library_lists_items_with_kind_date_owner_latest_version_and_where_used(
    client_for, lead, trust, assessment, document
):
    """Each row shows title, kind, date, owner, latest version and the cycles and requirements that use it."""
    link_to(assessment, "R3", document, lead)
    link_to(assessment, "R1", document, lead)
    evidence.create_link_evidence(
        trust=trust,
        created_by=lead,
        title="Board minutes, March 2026",
        evidence_date=datetime.date(2026, 3, 5),
        owner="Trust secretary",
        url="https://www.example.nhs.uk/board/2026-03",
        confirmed_no_patient_data=True,
    )

    response = client_for(lead).get(reverse("evidence-library", args=[trust.ods_code]))

    text = page_text(response)
    assert response.status_code == 200
    assert "2 items in the library" in text
    assert (
        "Supervision policy Document 31 Mar 2026 Principal social worker Version 1: policy.pdf 2026/27: R1, R3" in text
    )
    assert "Board minutes, March 2026 Link 5 Mar 2026 Trust secretary Link to www.example.nhs.uk Not used yet" in text
    assert reverse("evidence-detail", args=[trust.ods_code, document.pk]) in response.content.decode()


def test_library_shows_only_this_trusts_items(client_for, lead, trust, other_trust, outsider):
    """Another trust's evidence never appears in this trust's library."""
    add_document(other_trust, outsider, title="Their private paper")

    response = client_for(lead).get(reverse("evidence-library", args=[trust.ods_code]))

    assert "Their private paper" not in page_text(response)
    assert "There is nothing in the library yet" in page_text(response)


@pytest.mark.parametrize(("person", "status"), ROLES)
def test_library_is_for_lead_contributors_and_executive(client_for, request, trust, person, status):
    """Lead, contributor and executive read the library; board reader and ICS lead 403; outsider 404."""
    response = client_for(request.getfixturevalue(person)).get(reverse("evidence-library", args=[trust.ods_code]))

    assert response.status_code == status


def test_executive_sees_the_library_without_add_buttons(client_for, executive, trust):
    """The executive may read the library but is not offered uploads."""
    response = client_for(executive).get(reverse("evidence-library", args=[trust.ods_code]))

    assert response.status_code == 200
    assert "Upload a document" not in page_text(response)
    assert "Add a link" not in page_text(response)


def test_library_refuses_post(client_for, lead, trust):
    """The library is read-only: POST gets 405."""
    assert client_for(lead).post(reverse("evidence-library", args=[trust.ods_code])).status_code == 405


def test_library_signed_out_goes_to_sign_in(client, trust):
    """The library needs a signed-in person."""
    response = client.get(reverse("evidence-library", args=[trust.ods_code]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("sign-in"))


def _library_queries(client, trust) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("evidence-library", args=[trust.ods_code])).status_code == 200
    return len(queries)


def test_library_queries_do_not_grow_with_items(client_for, lead, trust, assessment):
    """The library page runs the same number of queries for 1 item as for 10, each with versions and uses."""
    client = client_for(lead)
    first = add_document(trust, lead, title="Item 0")
    link_to(assessment, "R1", first, lead)
    one = _library_queries(client, trust)

    for number in range(1, 10):
        item = add_document(trust, lead, title=f"Item {number}")
        link_to(assessment, f"R{number % 8 + 1}", item, lead)
        evidence.add_evidence_version(
            item=item,
            uploaded_by=lead,
            upload=evidence.check_upload(SimpleUploadedFile("v2.pdf", make_pdf())),
            confirmed_no_patient_data=True,
        )
    ten = _library_queries(client, trust)

    assert EvidenceItem.objects.count() == 10
    assert ten == one


# ---- detail and new versions ----------------------------------------------------------------------


def test_detail_shows_summary_versions_with_downloads_and_where_used(client_for, lead, trust, assessment, document):
    """The detail page has the summary, every version with a download link, and the requirements using it."""
    link_to(assessment, "R3", document, lead)
    evidence.add_evidence_version(
        item=document,
        uploaded_by=lead,
        upload=evidence.check_upload(SimpleUploadedFile("policy-2026.docx", make_docx("Policy"))),
        confirmed_no_patient_data=True,
    )

    response = client_for(lead).get(reverse("evidence-detail", args=[trust.ods_code, document.pk]))

    html, text = response.content.decode(), page_text(response)
    assert "Date of the document 31 March 2026" in text
    assert "Owner Principal social worker" in text
    assert "2 (latest) policy-2026.docx" in text
    assert "1 policy.pdf" in text
    assert reverse("evidence-download", args=[trust.ods_code, document.pk, 1]) in html
    assert reverse("evidence-download", args=[trust.ods_code, document.pk, 2]) in html
    assert "2026/27" in text
    assert "R3: " in text
    assert reverse("evidence-new-version", args=[trust.ods_code, document.pk]) in html


@pytest.mark.parametrize(("person", "status"), ROLES)
def test_detail_roles(client_for, request, trust, document, person, status):
    """Lead, contributor and executive read an item; board reader and ICS lead 403; outsider 404."""
    url = reverse("evidence-detail", args=[trust.ods_code, document.pk])

    assert client_for(request.getfixturevalue(person)).get(url).status_code == status


def test_item_of_another_trust_is_not_found_under_this_trust(client_for, lead, trust, other_trust, outsider):
    """An item id from another trust gives 404 under this trust's address."""
    theirs = add_document(other_trust, outsider)

    assert client_for(lead).get(reverse("evidence-detail", args=[trust.ods_code, theirs.pk])).status_code == 404
    assert client_for(lead).get(reverse("evidence-download", args=[trust.ods_code, theirs.pk, 1])).status_code == 404


def test_new_version_keeps_earlier_versions_downloadable(client_for, contributor, lead, trust, document):
    """Uploading a replacement adds version 2; version 1 still downloads with its own content."""
    client = client_for(contributor)
    png = make_image("PNG")

    response = client.post(
        reverse("evidence-new-version", args=[trust.ods_code, document.pk]),
        {"file": SimpleUploadedFile("policy-chart.png", png), "confirm_no_patient_data": "on"},
    )

    assert response.status_code == 302
    assert response.url == reverse("evidence-detail", args=[trust.ods_code, document.pk])
    first = client.get(reverse("evidence-download", args=[trust.ods_code, document.pk, 1]))
    second = client.get(reverse("evidence-download", args=[trust.ods_code, document.pk, 2]))
    assert b"".join(first.streaming_content) == make_pdf()
    assert b"".join(second.streaming_content) == png
    assert second["Content-Type"] == "image/png"
    assert EvidenceVersion.objects.get(item=document, number=2).uploaded_by == contributor


def test_new_version_refuses_a_hostile_file_and_keeps_the_old_one(client_for, lead, trust, document, storage_root):
    """A refused replacement stores nothing and leaves version 1 as the latest."""
    before = stored_files(storage_root)

    response = client_for(lead).post(
        reverse("evidence-new-version", args=[trust.ods_code, document.pk]),
        {"file": SimpleUploadedFile("policy.pdf", b"MZ\x90\x00evil"), "confirm_no_patient_data": "on"},
    )

    assert evidence.MESSAGES["not_allowed"] in page_text(response)
    assert list(document.versions.values_list("number", flat=True)) == [1]
    assert stored_files(storage_root) == before


def test_new_version_with_nhs_number_is_confirmed_without_reupload(client_for, lead, trust, document):
    """The new-version form flags NHS-number look-alikes and accepts the confirmation with the held file."""
    import re

    client = client_for(lead)
    url = reverse("evidence-new-version", args=[trust.ods_code, document.pk])
    first = client.post(
        url, {"file": SimpleUploadedFile("list.csv", b"9434765919\r\n"), "confirm_no_patient_data": "on"}
    )
    token = re.search(r'name="upload_token" value="([^"]+)"', first.content.decode()).group(1)

    second = client.post(url, {"upload_token": token, "not_nhs_numbers": "on", "confirm_no_patient_data": "on"})

    assert second.status_code == 302
    assert document.versions.get(number=2).possible_nhs_numbers == 1


@pytest.mark.parametrize(("person", "status"), [("executive", 403), ("board_reader", 403), ("outsider", 404)])
def test_new_version_is_for_lead_and_contributors(client_for, request, trust, document, person, status):
    """Only the lead and contributors replace documents."""
    url = reverse("evidence-new-version", args=[trust.ods_code, document.pk])

    assert client_for(request.getfixturevalue(person)).get(url).status_code == status


def test_link_items_have_no_new_version_page(client_for, lead, trust):
    """A link has no versions: its new-version address is 404."""
    item = evidence.create_link_evidence(
        trust=trust,
        created_by=lead,
        title="Intranet page",
        evidence_date=datetime.date(2026, 1, 1),
        owner="Comms",
        url="https://intranet.example.nhs.uk/sw",
        confirmed_no_patient_data=True,
    )

    assert client_for(lead).get(reverse("evidence-new-version", args=[trust.ods_code, item.pk])).status_code == 404


# ---- downloads ------------------------------------------------------------------------------------


def test_download_is_an_attachment_with_our_content_type_and_no_sniffing(client_for, executive, trust, document):
    """The file comes as an attachment named as uploaded, typed by our detection, with nosniff, CSP and no caching."""
    response = client_for(executive).get(reverse("evidence-download", args=[trust.ods_code, document.pk, 1]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == make_pdf()
    assert response["Content-Disposition"] == 'attachment; filename="policy.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_download_name_is_safe_in_the_header(client_for, lead, trust):
    """Quotes and non-ASCII characters in the original name are encoded, never break the header."""
    item = add_document(trust, lead, name='Minutes "final" – ç.pdf')

    response = client_for(lead).get(reverse("evidence-download", args=[trust.ods_code, item.pk, 1]))

    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "\n" not in response["Content-Disposition"]


@pytest.mark.parametrize(("person", "status"), ROLES)
def test_download_roles(client_for, request, trust, document, person, status):
    """Lead, contributor and executive download; board reader and ICS lead 403; outsider 404."""
    url = reverse("evidence-download", args=[trust.ods_code, document.pk, 1])

    assert client_for(request.getfixturevalue(person)).get(url).status_code == status


def test_download_signed_out_goes_to_sign_in(client, trust, document):
    """Downloads need a signed-in person."""
    response = client.get(reverse("evidence-download", args=[trust.ods_code, document.pk, 1]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("sign-in"))


def test_download_refuses_post_and_unknown_versions(client_for, lead, trust, document):
    """POST gets 405; a version that does not exist gets 404."""
    client = client_for(lead)

    assert client.post(reverse("evidence-download", args=[trust.ods_code, document.pk, 1])).status_code == 405
    assert client.get(reverse("evidence-download", args=[trust.ods_code, document.pk, 2])).status_code == 404


# ---- links ----------------------------------------------------------------------------------------


def _link_data(url, **overrides):
    return {**details(**overrides), "url": url}


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("https://www.example.nhs.uk/board/2026-03", "https://www.example.nhs.uk/board/2026-03"),
        ("http://intranet.example.nhs.uk/sw", "http://intranet.example.nhs.uk/sw"),
        ("www.example.nhs.uk/policies", "https://www.example.nhs.uk/policies"),
    ],
)
def test_link_is_added_with_https_or_http(client_for, contributor, trust, typed, saved):
    """A web link is saved (https assumed when no scheme is typed) and audited for the trust."""
    response = client_for(contributor).post(reverse("evidence-add-link", args=[trust.ods_code]), _link_data(typed))

    item = EvidenceItem.objects.get()
    assert response.status_code == 302
    assert (item.kind, item.url, item.title) == ("link", saved, "Supervision audit 2026")
    assert AuditEvent.objects.filter(trust=trust, action="evidence_link_added").count() == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("javascript:alert(document.cookie)", "The link must start with https:// or http://"),
        ("JavaScript:alert(1)", "The link must start with https:// or http://"),
        ("data:text/html,<script>alert(1)</script>", "The link must start with https:// or http://"),
        ("file:///etc/passwd", "The link must start with https:// or http://"),
        ("https://user:secret@example.nhs.uk/", "The link must not include a user name or password"),
        ("https://", "Enter a link in the correct format"),
        ("", "Enter the link to the document"),
    ],
)
def test_link_must_be_a_web_address(client_for, lead, trust, typed, message):
    """javascript:, data:, file: and malformed links are refused with a clear message, keeping what was typed."""
    response = client_for(lead).post(reverse("evidence-add-link", args=[trust.ods_code]), _link_data(typed))

    assert response.status_code == 200
    assert message in page_text(response)
    assert 'value="Supervision audit 2026"' in response.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_link_shows_as_a_plain_link_on_its_page(client_for, lead, trust):
    """The detail page links to the address with rel=noopener noreferrer."""
    item = evidence.create_link_evidence(
        trust=trust,
        created_by=lead,
        title="Board minutes",
        evidence_date=datetime.date(2026, 1, 1),
        owner="Trust secretary",
        url="https://www.example.nhs.uk/board",
        confirmed_no_patient_data=True,
    )

    html = client_for(lead).get(reverse("evidence-detail", args=[trust.ods_code, item.pk])).content.decode()

    assert 'href="https://www.example.nhs.uk/board" rel="noopener noreferrer"' in html


@pytest.mark.parametrize(("person", "status"), [("executive", 403), ("board_reader", 403), ("outsider", 404)])
def test_add_link_is_for_lead_and_contributors(client_for, request, trust, person, status):
    """Only the lead and contributors add links."""
    url = reverse("evidence-add-link", args=[trust.ods_code])

    assert client_for(request.getfixturevalue(person)).get(url).status_code == status


def test_add_link_from_a_response_links_it_and_returns(client_for, lead, trust, assessment):
    """A link added from a requirement's evidence page is linked to it, and the person goes back to the response."""
    url = reverse("evidence-add-link", args=[trust.ods_code]) + f"?next_response={assessment.pk}/R6"

    response = client_for(lead).post(url, _link_data("https://www.example.nhs.uk/s75"))

    assert response.url == reverse("response-edit", args=[assessment.pk, "R6"])
    assert ResponseEvidence.objects.get().response.requirement.code == "R6"


# ---- evidence for one response --------------------------------------------------------------------


@pytest.fixture
def assigned(assessment, lead, contributor):
    """R3 assigned to the contributor."""
    response = assessment.responses.get(requirement__code="R3")
    return services.assign_response(response=response, assignee=contributor, assigned_by=lead)


def _response_url(assessment, code="R3"):
    return reverse("response-evidence", args=[assessment.pk, code])


def test_response_evidence_lists_linked_items_and_the_library(client_for, lead, trust, assessment, document):
    """The page shows what is linked with Remove, the rest of the library with Add, and the add-new links."""
    other = add_document(trust, lead, title="AMHP rota", name="rota.pdf")
    link_to(assessment, "R3", document, lead)
    link_to(assessment, "R4", other, lead)

    response = client_for(lead).get(_response_url(assessment))

    html, text = response.content.decode(), page_text(response)
    assert response.status_code == 200
    assert f'name="unlink" value="{document.pk}"' in html
    assert f'name="link" value="{other.pk}"' in html
    assert f'name="link" value="{document.pk}"' not in html
    assert "AMHP rota Version 1: rota.pdf 31 Mar 2026 R4" in text
    upload_url = reverse("evidence-upload", args=[trust.ods_code]) + f"?next_response={assessment.pk}%2FR3"
    assert upload_url in html
    assert reverse("response-edit", args=[assessment.pk, "R3"]) in html


def test_assigned_contributor_links_and_unlinks_evidence(client_for, contributor, assessment, assigned, document):
    """The contributor assigned to R3 adds an item and removes it again; both are in the assessment's audit trail."""
    client = client_for(contributor)

    added = client.post(_response_url(assessment), {"link": document.pk})

    assert added.status_code == 302
    assert added.url == _response_url(assessment)
    assert list(assigned.evidence_links.values_list("item_id", flat=True)) == [document.pk]
    assert "“Supervision policy” has been added to R3" in page_text(client.get(added.url))

    removed = client.post(_response_url(assessment), {"unlink": document.pk})

    assert removed.status_code == 302
    assert not assigned.evidence_links.exists()
    actions = set(AssessmentEvent.objects.filter(subject="R3").values_list("action", flat=True))
    assert {AuditAction.EVIDENCE_LINKED, AuditAction.EVIDENCE_UNLINKED} <= actions


def test_unassigned_contributor_gets_403(client_for, contributor, assessment, document):
    """A contributor who is not assigned the requirement can neither see nor change its evidence page."""
    client = client_for(contributor)

    assert client.get(_response_url(assessment)).status_code == 403
    assert client.post(_response_url(assessment), {"link": document.pk}).status_code == 403
    assert ResponseEvidence.objects.count() == 0


@pytest.mark.parametrize(("person", "status"), [("executive", 403), ("board_reader", 404), ("outsider", 404)])
def test_response_evidence_for_others(client_for, request, assessment, person, status):
    """The executive gets 403; people who cannot see a draft assessment get 404."""
    assert client_for(request.getfixturevalue(person)).get(_response_url(assessment)).status_code == status


def test_evidence_cannot_change_while_awaiting_sign_off(client_for, lead, complete_assessment, document):
    """Once submitted, linking is refused with a message, nothing changes, and the page has no Add buttons."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    client = client_for(lead)

    response = client.post(_response_url(complete_assessment), {"link": document.pk}, follow=True)

    text = page_text(response)
    assert "This assessment is awaiting sign-off and cannot be changed." in text
    assert "so its evidence cannot be changed" in text
    assert f'name="link" value="{document.pk}"' not in response.content.decode()
    assert ResponseEvidence.objects.count() == 0


def test_item_from_another_trust_cannot_be_linked(client_for, lead, assessment, other_trust, outsider):
    """Posting another trust's item id gets 404 and links nothing."""
    theirs = add_document(other_trust, outsider)

    assert client_for(lead).post(_response_url(assessment), {"link": theirs.pk}).status_code == 404
    assert ResponseEvidence.objects.count() == 0


def test_post_without_a_choice_is_refused_with_a_message(client_for, lead, assessment):
    """A POST naming no item (or both buttons) links nothing and says why."""
    response = client_for(lead).post(_response_url(assessment), {"link": "x"}, follow=True)

    assert "Choose a document to add or remove" in page_text(response)
    assert ResponseEvidence.objects.count() == 0


def test_response_evidence_refuses_other_methods(client_for, lead, assessment):
    """PUT gets 405."""
    assert client_for(lead).put(_response_url(assessment)).status_code == 405


def test_unknown_requirement_is_not_found(client_for, lead, assessment):
    """A requirement code that is not in the assessment gives 404."""
    assert client_for(lead).get(_response_url(assessment, "R99")).status_code == 404
