"""Upload abuse beyond the everyday refusals (tests/test_evidence_upload.py): files and names built to
get past a content check or to mislead a person. Each is refused with a clear message and nothing
stored, or stored safely: under a random name, shown back as text, served only as an attachment
that browsers neither render nor sniff.

All of it through the real upload view, as a contributor's browser would send it.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from assessments import evidence
from assessments.models import EvidenceItem, EvidenceVersion
from tests.test_evidence_upload import (
    WORD_MAIN,
    make_ooxml,
    make_pdf,
    make_zip,
    page_text,
    stored_files,
    upload,
    use_temporary_evidence_storage,
)


@pytest.fixture(autouse=True)
def storage_root(monkeypatch, settings, tmp_path):
    return use_temporary_evidence_storage(monkeypatch, settings, tmp_path)


def assert_refused(response, storage_root, message):
    assert response.status_code == 200
    text = page_text(response)
    assert "There is a problem" in text
    assert message in text
    assert EvidenceVersion.objects.count() == 0
    assert stored_files(storage_root) == []
    # The details the person typed are still there to send again.
    assert 'value="Supervision audit 2026"' in response.content.decode()


def word_document(body: bytes) -> bytes:
    return make_ooxml(WORD_MAIN, "word/document.xml", {"word/document.xml": body})


def test_zip_bomb_shaped_docx_is_refused(client_for, lead, trust, storage_root):
    """A .docx whose document part inflates 1,000 times (30 MB of zeros in about 30 KB)."""
    bomb = word_document(b"<w:document>" + b"0" * 30_000_000 + b"</w:document>")
    assert len(bomb) < 100_000

    assert_refused(
        upload(client_for(lead), trust, "policy.docx", bomb), storage_root, evidence.MESSAGES["unpacked_too_big"]
    )


def test_docx_whose_zip_headers_understate_the_unpacked_size_is_refused(client_for, lead, trust, storage_root):
    """The sizes in the zip headers claim 100 bytes; the data inflates to 5 MB. zipfile reads only what is
    declared, the checksum then fails, and the file is refused as damaged, never unpacked in full."""
    honest = word_document(b"<w:document>" + b"0" * 5_000_000 + b"</w:document>")
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        member = archive.getinfo("word/document.xml")
    real = member.file_size.to_bytes(4, "little")
    forged = honest.replace(real, (100).to_bytes(4, "little"))
    assert forged != honest

    response = upload(client_for(lead), trust, "policy.docx", forged)
    assert_refused(response, storage_root, evidence.MESSAGES["damaged"])


def test_html_with_a_pdf_inside_is_refused(client_for, lead, trust, storage_root):
    """A polyglot: a web page first (which a browser would run), a valid PDF after it (PDF readers look
    for the header within the first kilobyte)."""
    polyglot = b"<html><body><script>alert(document.cookie)</script></body></html>\n" + make_pdf()

    response = upload(client_for(lead), trust, "minutes.pdf", polyglot)
    assert_refused(response, storage_root, evidence.MESSAGES["not_allowed"])


def test_pdf_with_an_archive_appended_is_stored_only_as_an_inert_attachment(client_for, lead, trust, storage_root):
    """The other polyglot: a valid PDF with a zip after its end. It is a PDF to the checks and to readers;
    it is kept under a random name and only ever served as a PDF attachment, sandboxed and not sniffed."""
    polyglot = make_pdf() + make_zip({"payload.html": "<script>alert(1)</script>"})
    client = client_for(lead)

    response = upload(client, trust, "minutes.pdf", polyglot)
    assert response.status_code == 302
    version = EvidenceVersion.objects.get()
    assert version.content_type == "application/pdf"
    assert "minutes" not in version.file.name
    [stored] = stored_files(storage_root)
    assert stored.suffix == ".pdf"

    download = client.get(reverse("evidence-download", args=[trust.ods_code, version.item_id, version.number]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_zero_byte_file_is_refused(client_for, lead, trust, storage_root):
    assert_refused(upload(client_for(lead), trust, "minutes.pdf", b""), storage_root, "The selected file is empty")


def test_thousand_character_name_is_shortened_and_shown_back_as_text(client_for, lead, trust, storage_root):
    name = "<b>Board minutes<b> " + "a" * 976 + ".pdf"  # no "/": browsers' path parts are dropped anyway
    assert len(name) == 1000
    client = client_for(lead)

    assert upload(client, trust, name, make_pdf()).status_code == 302
    version = EvidenceVersion.objects.get()
    assert len(version.original_name) <= evidence.NAME_MAX_LENGTH
    assert version.original_name.endswith(".pdf")
    assert "Board" not in version.file.name  # stored under a random name

    page = client.get(reverse("evidence-detail", args=[trust.ods_code, version.item_id])).content.decode()
    assert "<b>Board minutes<b>" not in page
    assert "&lt;b&gt;Board minutes&lt;b&gt;" in page


@pytest.mark.parametrize(
    "name",
    ["minutes\u202efdp.exe", "report\u202e.pdf", "\u202eminutes.pdf", "minutes\u2066.pdf\u2069.exe"],
    ids=["hides .exe", "after the name", "at the start", "isolate hiding .exe"],
)
def test_right_to_left_override_never_reaches_a_stored_or_shown_name(client_for, lead, trust, storage_root, name):
    """Bidirectional controls make "minutes[RLO]fdp.exe" look like "minutesexe.pdf". Whatever the browser
    sends, no stored name, and no page, carries one."""
    client = client_for(lead)
    response = upload(client, trust, name, make_pdf())

    if response.status_code == 302:
        version = EvidenceVersion.objects.get()
        assert not any(ch in version.original_name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
        assert version.original_name.endswith(".pdf")
        page = client.get(reverse("evidence-detail", args=[trust.ods_code, version.item_id])).content.decode()
        assert "\u202e" not in page
    else:
        assert response.status_code == 200
        assert "There is a problem" in page_text(response)
        assert EvidenceItem.objects.count() == 0
        assert stored_files(storage_root) == []
