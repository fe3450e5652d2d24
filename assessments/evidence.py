"""The evidence library: what an upload may contain, and every change to a trust's library.

Uploads are judged by their content, never by their name or the browser's content type
(DOMAIN §6): the first bytes decide the type, then a check per type (office documents are
unpacked with limits, images are opened with Pillow, PDFs are parsed). Anything that can run
code is refused: macros, ActiveX, OLE objects and remote templates in office documents;
scripts, launch actions, attachments, rich media and XFA forms in PDFs. The name only has to
agree with what was found. Text-bearing files are searched for numbers that pass the NHS
number check, which the uploader must remove or confirm are not NHS numbers.

A file that passed its checks but came with a form that did not (a missing title, numbers to
confirm) is held under ``held/`` in the evidence storage and named by a signed token, so that
nobody has to choose the file again. Held files expire after ``HOLD_MAX_AGE`` seconds.

The ``create_*`` and ``add_*`` functions are the only writes to the library; each writes a
``portal.AuditEvent`` for the trust in its transaction.
"""

from __future__ import annotations

import hashlib
import html
import io
import logging
import posixpath
import re
import time
import unicodedata
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import unquote, urlsplit

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from assessments.models import EvidenceItem, EvidenceKind, EvidenceVersion
from assessments.services import AssessmentError, role_at
from portal.models import AuditEvent, Trust, TrustRole, User

logger = logging.getLogger(__name__)

UPLOADER_ROLES = {TrustRole.LEAD, TrustRole.CONTRIBUTOR}


STORAGE_FAILED = "The file could not be saved. Try again later. Nothing has been added to the library."
# What the evidence storage raises when it cannot read or write: OSError from a disk (full,
# unreadable), boto's errors from an S3 bucket (unreachable, refused, throttled, upload failed).
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError, Boto3Error)


class EvidenceError(AssessmentError):
    """A change to the evidence library that the rules do not allow; the message is for the user."""


# ---- allowed types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileType:
    code: str
    label: str
    content_type: str
    extensions: tuple[str, ...]

    @property
    def extension(self) -> str:
        return self.extensions[0]

    @property
    def with_article(self) -> str:
        return f"{'an' if self.label[0] in 'AEIOU' else 'a'} {self.label}"


FILE_TYPES = {
    t.code: t
    for t in [
        FileType("pdf", "PDF", "application/pdf", (".pdf",)),
        FileType(
            "docx",
            "Word document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
        ),
        FileType(
            "xlsx", "Excel spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)
        ),
        FileType(
            "pptx",
            "PowerPoint presentation",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            (".pptx",),
        ),
        FileType("odt", "OpenDocument text document", "application/vnd.oasis.opendocument.text", (".odt",)),
        FileType("ods", "OpenDocument spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", (".ods",)),
        FileType("csv", "CSV file", "text/csv", (".csv",)),
        FileType("png", "PNG image", "image/png", (".png",)),
        FileType("jpeg", "JPEG image", "image/jpeg", (".jpg", ".jpeg")),
    ]
}
ACCEPT = ",".join(ext for t in FILE_TYPES.values() for ext in t.extensions)

# The main part of each Office Open XML format, from [Content_Types].xml.
OOXML_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}

MESSAGES = {
    "not_allowed": "The selected file must be a PDF, Word, Excel, PowerPoint, OpenDocument, CSV, PNG or JPEG file",
    "empty": "The selected file is empty",
    "too_big": "The selected file must be smaller than {limit}",
    "macros": "The selected file contains macros or embedded code. Save a copy without them "
    "(as .docx, .xlsx or .pptx) and upload that",
    "protected": "The selected file is password protected. Remove the password and upload it again",
    "legacy_office": "The selected file is an older Office format or is password protected. Save it as .docx, "
    ".xlsx or .pptx without a password and upload it again",
    "damaged": "The selected file is damaged or incomplete. Check that it opens, then upload it again",
    "unpacked_too_big": "The selected file is too large when unpacked. Split it into smaller files",
    "image_too_big": "The selected image is too large. Save a smaller copy (under 50 megapixels) and upload that",
    "unsafe_name": "The selected file's name must not contain slashes, control characters or hidden formatting "
    "characters. Rename the file and upload it again",
    "mismatch": "The selected file is {kind} but its name ends in {found}. Rename it to end in {expected}, "
    "or choose a different file",
    "active_content": "The selected file contains scripts, attachments or other active content. Save it as a plain "
    "PDF (for example by printing it to PDF) and upload that",
    "too_complex": "The selected file is too complex to check. Save it as a plain PDF (for example by printing it "
    "to PDF) and upload that",
}

# Limits that keep an upload from exhausting memory or time when it is unpacked or read.
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200  # a zip bomb expands thousands of times; real office XML rarely a hundred
ZIP_RATIO_APPLIES_ABOVE = 1024 * 1024
IMAGE_MAX_PIXELS = 50_000_000
PDF_MAX_PAGES_SCANNED = 500
NAME_MAX_LENGTH = 200


def size_text(size: int) -> str:
    """20971520 -> '20 MB', for messages about the limit."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def refuse(code: str, **params) -> ValidationError:
    return ValidationError(MESSAGES[code].format(**params), code=code)


# ---- file names ---------------------------------------------------------------------------------

# Control, format (bidi overrides such as U+202E, zero-width characters), surrogate, private-use
# and unassigned characters, and line or paragraph separators: never part of an honest name.
UNSAFE_NAME_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_file_name(name: str | None) -> str:
    """The uploader's file name, safe to show and to offer as a download name.

    Refuses names that still carry path separators or hidden characters (Django strips most
    of them from browser uploads already); trims to ``NAME_MAX_LENGTH`` keeping the extension.
    """
    name = unicodedata.normalize("NFC", name or "")
    if "/" in name or "\\" in name or any(unicodedata.category(ch) in UNSAFE_NAME_CATEGORIES for ch in name):
        raise refuse("unsafe_name")
    name = " ".join(name.split())
    if name.strip(". ") == "":
        raise refuse("unsafe_name")
    suffix = file_extension(name)
    if len(name) > NAME_MAX_LENGTH:
        stem = name[: len(name) - len(suffix)] if suffix else name
        name = stem[: NAME_MAX_LENGTH - len(suffix)].rstrip() + suffix
    return name


def file_extension(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if 1 < len(suffix) <= 10 else ""


# ---- content checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed every check, with what we learned about it.

    Only ``check_upload`` makes these; the service functions store nothing else.
    """

    file: File
    original_name: str
    file_type: FileType
    size: int
    sha256: str
    nhs_numbers: tuple[str, ...]


def check_upload(upload: File, *, name: str | None = None) -> CheckedFile:
    """Check an uploaded file by its content; raise ``ValidationError`` with a message for the uploader.

    ``name`` replaces the upload's own name (for a held file, the name it was uploaded with).
    """
    size = upload.size
    if not size:
        raise refuse("empty")
    limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
    if size > limit:
        raise refuse("too_big", limit=size_text(limit))
    original_name = clean_file_name(name if name is not None else upload.name)

    stream = upload.file if hasattr(upload, "file") and upload.file is not None else upload
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    file_type, text = _detect(stream, head, file_extension(original_name))

    extension = file_extension(original_name)
    if not extension:
        original_name = clean_file_name(original_name[: NAME_MAX_LENGTH - 5] + file_type.extension)
    elif extension not in file_type.extensions:
        raise refuse("mismatch", kind=file_type.with_article, found=extension, expected=file_type.extension)

    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return CheckedFile(
        file=upload,
        original_name=original_name,
        file_type=file_type,
        size=size,
        sha256=digest.hexdigest(),
        nhs_numbers=tuple(find_nhs_numbers(text)),
    )


def _detect(stream: IO[bytes], head: bytes, extension: str) -> tuple[FileType, str]:
    """The file's type from its content, and the text to search for NHS numbers."""
    if head.startswith(b"%PDF-"):
        return FILE_TYPES["pdf"], _pdf_text(stream)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_image(stream, "PNG")
        return FILE_TYPES["png"], ""
    if head.startswith(b"\xff\xd8\xff"):
        _check_image(stream, "JPEG")
        return FILE_TYPES["jpeg"], ""
    if head.startswith(b"PK\x03\x04"):
        return _check_zip(stream)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # OLE compound file: .doc/.xls/.ppt, or an Office Open XML file encrypted with a password.
        raise refuse("legacy_office")
    if extension == ".csv":
        return FILE_TYPES["csv"], _csv_text(stream.read())
    raise refuse("not_allowed")


# -- images


def _check_image(stream: IO[bytes], expected_format: str) -> None:
    from PIL import Image  # Pillow comes with WeasyPrint

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=[expected_format]) as image:
                width, height = image.size
                if width * height > IMAGE_MAX_PIXELS:
                    raise refuse("image_too_big")
                image.verify()
            if expected_format == "JPEG":
                # verify() checks little for JPEG: decode at an eighth of the size to prove the data is whole.
                stream.seek(0)
                with Image.open(stream, formats=["JPEG"]) as image:
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise refuse("image_too_big") from error
    except ValidationError:
        raise
    except Exception as error:  # Pillow raises many kinds of error for broken images
        raise refuse("damaged") from error
    finally:
        stream.seek(0)


# -- zip-based formats


def _check_zip(stream: IO[bytes]) -> tuple[FileType, str]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise refuse("damaged") from error
    with archive:
        members = archive.infolist()
        _check_zip_members(members)
        names = {member.filename for member in members}
        if members and members[0].filename == "mimetype":
            return _check_opendocument(archive, names)
        if "[Content_Types].xml" in names:
            return _check_ooxml(archive, names)
    # Any other zip: an archive, which we never accept.
    raise refuse("not_allowed")


def _check_zip_members(members: list[zipfile.ZipInfo]) -> None:
    if not members or len(members) > ZIP_MAX_MEMBERS:
        raise refuse("not_allowed" if not members else "unpacked_too_big")
    total = 0
    seen: set[str] = set()
    for member in members:
        name = member.filename
        parts = PurePosixPath(name).parts
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or ".." in parts
            or re.match(r"^[A-Za-z]:", name)
            or any(unicodedata.category(ch) == "Cc" for ch in name)
            or name.lower() in seen
        ):
            # Absolute paths, parent directories or duplicate names: not something an office suite writes.
            raise refuse("not_allowed")
        seen.add(name.lower())
        if member.flag_bits & 0x1:
            raise refuse("protected")
        total += member.file_size
        if total > ZIP_MAX_UNCOMPRESSED:
            raise refuse("unpacked_too_big")
        if member.file_size > ZIP_RATIO_APPLIES_ABOVE and member.file_size > ZIP_MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise refuse("unpacked_too_big")


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as member:
            # Never more than the declared size (zipfile stops there), which _check_zip_members capped.
            return member.read(ZIP_MAX_UNCOMPRESSED + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as error:
        raise refuse("damaged") from error


CONTENT_TYPE_ATTRIBUTE = re.compile(r'(ContentType)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')', re.IGNORECASE)
MACRO_PARTS = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml|activeX/|macrosheets/|dialogsheets/)", re.IGNORECASE)
# Content types of parts that hold code: VBA projects, ActiveX controls, OLE objects (which can carry
# VBA, an equation-editor exploit or a packaged executable), macro-enabled main parts.
ACTIVE_CONTENT_TYPES = ("macroenabled", "vbaproject", "activex", "oleobject")

# Embedded objects live in */embeddings/. Pictures there are inert. An Office document there (the data
# behind a chart, an inserted workbook) is allowed once it passes the same checks, one level deep.
EMBEDDINGS = re.compile(r"(^|/)embeddings/", re.IGNORECASE)
EMBEDDED_IMAGE = re.compile(r"\.(png|jpe?g|gif|bmp|tiff?|emf|wmf|emz|wmz)$", re.IGNORECASE)
EMBEDDED_PACKAGE = re.compile(r"\.(docx|xlsx|pptx|vsdx)$", re.IGNORECASE)

RELATIONSHIP = re.compile(r"<(?:[\w.-]+:)?Relationship\b([^>]*)>", re.IGNORECASE)
XML_ATTRIBUTE = re.compile(r'([\w.:-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
# Relationships that make Office fetch and open another document when the file opens: an attached
# template (a remote .dotm runs its macros), a sub-document, a frame or a linked package. Refused unless the target is a
# path on the reader's own computer (Word records the template a document was made from that way).
REMOTE_DOCUMENT_RELATIONSHIPS = {"attachedtemplate", "subdocument", "frame", "package"}
LOCAL_PATH = re.compile(r"^(?:file:///)?[A-Za-z]:[\\/]", re.IGNORECASE)


def _xml_string(data: bytes) -> str:
    """An XML part as text, whether it is UTF-8 or UTF-16 (both allowed by the package format)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if data[:1] == b"\x00" or data[1:2] == b"\x00":
        return data.decode("utf-16-be" if data[:1] == b"\x00" else "utf-16-le", "replace")
    return data.decode("utf-8-sig", "replace")


def _attribute_value(match: re.Match) -> str:
    """The value of an attribute matched as (name)=("double"|'single'), with character references
    (&#116;) decoded as Office's XML parser would."""
    return html.unescape(match.group(2) if match.group(2) is not None else match.group(3))


def _check_ooxml(archive: zipfile.ZipFile, names: set[str]) -> tuple[FileType, str]:
    content_types, nested_texts = _check_ooxml_active_content(archive, names, unpacked=_unpacked_size(archive))
    found = {code for main_type, code in OOXML_MAIN_TYPES.items() if main_type in content_types}
    if len(found) != 1:
        # Templates (.dotx), add-ins, other packages, or an ambiguous mix.
        raise refuse("not_allowed")
    code = found.pop()
    folder = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}[code]
    text = _xml_text(
        archive,
        sorted(name for name in names if name.startswith(folder) and name.endswith(".xml") and "/theme/" not in name),
    )
    return FILE_TYPES[code], "\n".join([text, *nested_texts])


def _unpacked_size(archive: zipfile.ZipFile) -> list[int]:
    # A running total shared with any embedded packages, so that nesting cannot multiply the limit.
    return [sum(member.file_size for member in archive.infolist())]


def _check_ooxml_active_content(
    archive: zipfile.ZipFile, names: set[str], *, unpacked: list[int], nested: bool = False
) -> tuple[set[str], list[str]]:
    """Refuse macros, ActiveX, OLE objects, unsafe embeddings and remote templates in an Office Open XML package.

    Returns the package's content types and the text of any embedded Office documents.
    """
    content_types = {
        _attribute_value(match).strip().lower()
        for match in CONTENT_TYPE_ATTRIBUTE.finditer(_xml_string(_read_member(archive, "[Content_Types].xml")))
    }
    if any(marker in value for value in content_types for marker in ACTIVE_CONTENT_TYPES) or any(
        MACRO_PARTS.search(name) for name in names
    ):
        raise refuse("macros")
    by_part_name = {unquote(name).lower(): name for name in names}
    packages = set()  # parts that a relationship says are embedded packages, wherever they are
    for name in sorted(names):
        if name.lower().endswith(".rels"):
            for target in _check_relationships(_read_member(archive, name), name):
                if target.lower() in by_part_name:
                    packages.add(by_part_name[target.lower()])
    texts = []
    for name in sorted(names):
        if name not in packages and (not EMBEDDINGS.search(name) or name.endswith("/") or EMBEDDED_IMAGE.search(name)):
            continue
        if nested or not EMBEDDED_PACKAGE.search(name):
            # OLE objects (.bin), macro-enabled documents (.docm, .xlsm), anything else, or a second level.
            raise refuse("macros")
        texts.append(_check_embedded_package(_read_member(archive, name), unpacked=unpacked))
    return content_types, texts


def _check_relationships(data: bytes, rels_name: str) -> list[str]:
    """Refuse OLE objects and remote documents in one relationships part.

    Returns the part names (decoded) of the package's own parts that it says are embedded packages.
    """
    # word/_rels/document.xml.rels holds the relationships of word/document.xml: targets are relative to word/.
    source_folder = posixpath.dirname(posixpath.dirname(rels_name))
    packages = []
    for relationship in RELATIONSHIP.finditer(_xml_string(data)):
        attributes = [
            (match.group(1).rsplit(":", 1)[-1].lower(), _attribute_value(match).strip())
            for match in XML_ATTRIBUTE.finditer(relationship.group(1))
        ]
        kinds = {value.rstrip("/").rsplit("/", 1)[-1].lower() for key, value in attributes if key == "type"}
        external = any(key == "targetmode" and value.lower() == "external" for key, value in attributes)
        targets = [value for key, value in attributes if key == "target"]
        if "oleobject" in kinds:
            # Embedded or linked OLE object: linked ones are how "Follina" ran code from a web address.
            raise refuse("macros")
        if external and kinds & REMOTE_DOCUMENT_RELATIONSHIPS and not all(LOCAL_PATH.match(t) for t in targets):
            raise refuse("macros")
        if "package" in kinds and not external:
            for target in targets:
                target = unquote(urlsplit(target).path)
                path = target.lstrip("/") if target.startswith("/") else posixpath.join(source_folder, target)
                packages.append(posixpath.normpath(path).lstrip("/"))
    return packages


def _check_embedded_package(data: bytes, *, unpacked: list[int]) -> str:
    """An Office document inside another (a chart's data): the same checks, and its text."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise refuse("macros") from error  # named like a document but not one: an OLE object in disguise
    with archive:
        members = archive.infolist()
        _check_zip_members(members)
        unpacked[0] += sum(member.file_size for member in members)
        if unpacked[0] > ZIP_MAX_UNCOMPRESSED:
            raise refuse("unpacked_too_big")
        names = {member.filename for member in members}
        if "[Content_Types].xml" not in names:
            raise refuse("macros")
        _check_ooxml_active_content(archive, names, unpacked=unpacked, nested=True)
        return _xml_text(archive, sorted(name for name in names if name.endswith(".xml") and "/theme/" not in name))


def _check_opendocument(archive: zipfile.ZipFile, names: set[str]) -> tuple[FileType, str]:
    mimetype = _read_member(archive, "mimetype").strip()
    code = ODF_MIMETYPES.get(mimetype)
    if code is None:
        raise refuse("not_allowed")
    if any(name.startswith(("Basic/", "Scripts/")) for name in names):
        raise refuse("macros")
    manifest = _read_member(archive, "META-INF/manifest.xml").lower() if "META-INF/manifest.xml" in names else b""
    if b"encryption-data" in manifest:
        raise refuse("protected")
    if b"oleobject" in manifest:
        # An embedded OLE object (application/vnd.sun.star.oleobject), which can carry code like Office's.
        raise refuse("macros")
    return FILE_TYPES[code], _xml_text(archive, [name for name in ("content.xml", "styles.xml") if name in names])


# Elements that end a paragraph, cell, run of a table or a line: their tags become a space, so
# that neighbouring cells never run together into one number. Other tags (text runs) vanish,
# so a number split across runs is read whole.
BREAK_ELEMENTS = {
    "p", "h", "tc", "tr", "c", "v", "f", "si", "row", "tab", "br", "cr", "s",
    "table-cell", "table-row", "line-break", "list-item", "note", "txBody",
}  # fmt: skip
TAG = re.compile(r"<(?:/)?(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[^>]*>")


def xml_to_text(xml: str) -> str:
    text = TAG.sub(lambda match: " " if match.group(1) in BREAK_ELEMENTS else "", xml)
    text = re.sub(r"<[^>]*>", " ", text)  # declarations, comments, processing instructions
    return html.unescape(text)


XML_TEXT_BUDGET = 64 * 1024 * 1024


def _xml_text(archive: zipfile.ZipFile, names: list[str]) -> str:
    """The text of the named XML parts, up to ``XML_TEXT_BUDGET`` bytes of XML in all."""
    texts, budget = [], XML_TEXT_BUDGET
    for name in names:
        if budget <= 0:
            logger.info("Stopped searching an uploaded document for NHS numbers at %s", name)
            break
        data = _read_member(archive, name)[:budget]
        budget -= len(data)
        texts.append(xml_to_text(data.decode("utf-8", "replace")))
    return "\n".join(texts)


# -- PDF


def _pdf_text(stream: IO[bytes]) -> str:
    """The text of a PDF's pages, for the NHS number search; refuses PDFs that cannot be read."""
    try:
        # pypdf must be a runtime dependency for this check (see the README's decisions).
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - only when pypdf is missing from the environment
        logger.warning("pypdf is not installed: PDF uploads are not searched for NHS numbers")
        return ""
    reader = None
    try:
        reader = PdfReader(stream, strict=False)
        # Many PDFs are encrypted with an empty user password (an owner password limits printing): those open.
        if reader.is_encrypted and not reader.decrypt(""):
            raise refuse("protected")
        _check_pdf_active_content(reader, stream)
        pages = reader.pages
        count = len(pages)
    except ValidationError:
        raise
    except Exception as error:  # pypdf raises many kinds of error for broken files
        raise refuse("protected" if reader is not None and reader.is_encrypted else "damaged") from error
    texts = []
    for index in range(min(count, PDF_MAX_PAGES_SCANNED)):
        try:
            texts.append(pages[index].extract_text() or "")
        except Exception:  # one unreadable page should not refuse the document
            logger.info("Could not extract text from page %s of an uploaded PDF", index + 1, exc_info=True)
    stream.seek(0)
    return "\n".join(texts)


# Names that mark active content: scripts (/JS, /JavaScript, in an action or the document's names),
# actions that start a program (/Launch) or open an attachment (/GoToE), attached files (/EmbeddedFiles,
# /EF, /EmbeddedFile, /FileAttachment annotations), Flash or video (/RichMedia) and XFA forms (/XFA),
# which carry scripts of their own. A plain document has none of them: links (/URI) and forms are fine.
PDF_ACTIVE_NAMES = frozenset(
    {"/JS", "/JavaScript", "/Launch", "/GoToE", "/EmbeddedFiles", "/EmbeddedFile", "/EF", "/FileAttachment"}
    | {"/RichMedia", "/XFA"}
)
PDF_MAX_OBJECTS = 250_000
PDF_CHECK_SECONDS = 20
PDF_NAME = re.compile(rb"/([^\x00\t\n\f\r ()<>\[\]{}/%]*)")
PDF_STREAM_KEYWORD = re.compile(rb"(?<![A-Za-z])stream(?:\r\n|\r|\n)")


def _check_pdf_active_content(reader, stream: IO[bytes]) -> None:
    """Refuse a PDF that contains any of ``PDF_ACTIVE_NAMES``, as a key or a value, in any of its objects.

    Every object pypdf finds through the cross-reference tables is read, including those packed into
    compressed object streams, which a search of the raw bytes would miss. The raw bytes outside stream
    data are searched as well, for objects that a more forgiving reader might find but pypdf does not.
    """
    stream.seek(0)
    if _pdf_raw_names(stream.read()) & PDF_ACTIVE_NAMES:
        raise refuse("active_content")
    references = [
        (generation, number, None)
        for generation, entries in reader.xref.items()
        for number in entries
        if not reader.xref_free_entry.get(generation, {}).get(number, False)
    ]
    # Objects in object streams grouped by their stream: pypdf reads each stream once for all its objects.
    references += [(0, number, where[0]) for number, where in sorted(reader.xref_objStm.items(), key=lambda e: e[1])]
    if len(references) > PDF_MAX_OBJECTS:
        raise refuse("too_complex")
    deadline = time.monotonic() + PDF_CHECK_SECONDS
    if _pdf_object_is_active(reader.trailer):
        raise refuse("active_content")
    from pypdf.generic import IndirectObject

    previous_stream = None
    for count, (generation, number, object_stream) in enumerate(references, start=1):
        if time.monotonic() > deadline:
            raise refuse("too_complex")
        if object_stream != previous_stream or count % 1000 == 0:
            # pypdf keeps every object it reads; let go of those already checked to bound memory.
            reader.resolved_objects.clear()
            previous_stream = object_stream
        if _pdf_object_is_active(IndirectObject(number, generation, reader).get_object()):
            raise refuse("active_content")
    reader.resolved_objects.clear()


def _pdf_object_is_active(value) -> bool:
    """Whether a PDF object, or any direct object inside it, has a key or name in ``PDF_ACTIVE_NAMES``.

    References to other objects are not followed: those objects are checked in their turn.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, DictionaryObject):  # streams too: their dictionary, not their data
            if any(key in PDF_ACTIVE_NAMES for key in item):
                return True
            pending.extend(dict.values(item))
        elif isinstance(item, ArrayObject):
            pending.extend(list.__iter__(item))
        elif isinstance(item, NameObject) and item in PDF_ACTIVE_NAMES:
            return True
    return False


def _pdf_raw_names(data: bytes) -> set[str]:
    """Every name in the file's bytes outside stream data, with #xx escapes decoded.

    Stream data (compressed, binary) is left out: it would match names by chance.
    """
    outside, position = [], 0
    while start := PDF_STREAM_KEYWORD.search(data, position):
        end = data.find(b"endstream", start.end())
        if end < 0:
            break  # a stream that never ends: search the rest as it is
        outside.append(data[position : start.start()])
        position = end + len(b"endstream")
    outside.append(data[position:])
    names = set()
    for match in PDF_NAME.finditer(b" ".join(outside)):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda escape: bytes([int(escape.group(1), 16)]), match.group(1))
        names.add("/" + name.decode("latin-1"))
    return names


# -- CSV

MARKUP = re.compile(rb"<\s*(script|html|svg|!doctype|\?xml|iframe|object|embed|body|head|meta)\b", re.IGNORECASE)


def _csv_text(data: bytes) -> str:
    if b"\x00" in data or MARKUP.search(data):
        raise refuse("not_allowed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as error:
            raise refuse("not_allowed") from error
    if text.lstrip().startswith("<") or any(ord(ch) < 32 and ch not in "\t\r\n\f" for ch in text):
        raise refuse("not_allowed")
    return text


# ---- NHS numbers -------------------------------------------------------------------------------

# Ten digits, or 3-3-4 groups separated by the same space or hyphen, not inside a longer number.
NHS_NUMBER_PATTERN = re.compile(r"(?<![0-9])([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})(?![0-9])")


def is_valid_nhs_number(digits: str) -> bool:
    """The NHS number Modulus 11 check: weights 10 to 2, check digit 11 - (sum mod 11), 11 -> 0, 10 invalid.

    Numbers of one repeated digit pass the arithmetic but are never issued, so they are not flagged.
    """
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def find_nhs_numbers(text: str) -> list[str]:
    """Distinct ten-digit values in the text that pass the NHS number check, in order of appearance."""
    found: dict[str, None] = {}
    for match in NHS_NUMBER_PATTERN.finditer(text or ""):
        digits = match.group(1) + match.group(3) + match.group(4)
        if is_valid_nhs_number(digits):
            found.setdefault(digits)
    return list(found)


def mask_nhs_number(digits: str) -> str:
    """Enough to find the number in the document, not enough to identify anyone: 943 *** **19."""
    return f"{digits[:3]} *** **{digits[8:]}"


def nhs_number_warning(numbers: tuple[str, ...] | list[str]) -> str:
    count = len(numbers)
    found = "1 number that looks" if count == 1 else f"{count} numbers that look"
    return (
        f"The selected file has {found} like an NHS number, such as {mask_nhs_number(numbers[0])}. "
        "Remove patient information from the file and upload it again, or confirm that these are not NHS numbers"
    )


# ---- links --------------------------------------------------------------------------------------

LINK_SCHEMES = ("https", "http")


def check_link(value: str) -> str:
    """A web address for a link in the library: http(s) only, never javascript:, data: or file:."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter the link to the document", code="required")
    if any(unicodedata.category(ch) in UNSAFE_NAME_CATEGORIES or ch.isspace() for ch in value):
        raise ValidationError(
            "Enter a link in the correct format, like https://www.example.nhs.uk/board-papers", code="invalid"
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", value)
    if scheme and ("." not in scheme.group(1) or value[scheme.end() :].startswith("//")):
        if scheme.group(1).lower() not in LINK_SCHEMES:
            raise ValidationError("The link must start with https:// or http://", code="scheme")
    else:
        value = f"https://{value}"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises for a malformed port
    except ValueError:
        # Such as "https://[" (a broken IPv6 address) or a host that fails Unicode normalisation.
        raise ValidationError(
            "Enter a link in the correct format, like https://www.example.nhs.uk/board-papers", code="invalid"
        ) from None
    if parts.username is not None or parts.password is not None:
        raise ValidationError("The link must not include a user name or password", code="credentials")
    try:
        URLValidator(schemes=list(LINK_SCHEMES))(value)
    except ValidationError as error:
        raise ValidationError(
            "Enter a link in the correct format, like https://www.example.nhs.uk/board-papers", code="invalid"
        ) from error
    return value


# ---- held uploads -------------------------------------------------------------------------------

HOLD_MAX_AGE = 60 * 60
HOLD_SALT = "assessments.evidence.held-upload"
HOLD_FOLDER = "held"


class HeldUploadGone(Exception):
    """The token is forged, expired, for someone else, or its file has been removed."""


def storage():
    # The storage the model field resolved when it was defined, so tests that replace it cover held files too.
    return EvidenceVersion._meta.get_field("file").storage


def hold_upload(checked: CheckedFile, *, user: User, trust: Trust) -> str:
    """Keep a checked upload for a short while and return a signed token naming it."""
    purge_expired_holds()
    name = storage().save(f"{HOLD_FOLDER}/{trust.pk}/{uuid.uuid4().hex}", checked.file)
    return signing.dumps(
        {"name": name, "user": user.pk, "trust": trust.pk, "file_name": checked.original_name},
        salt=HOLD_SALT,
        compress=True,
    )


@dataclass
class HeldUpload:
    name: str
    file_name: str
    file: File


def open_held_upload(token: str, *, user: User, trust: Trust) -> HeldUpload:
    data = _held_data(token, user=user, trust=trust)
    try:
        handle = storage().open(data["name"], "rb")
    except STORAGE_ERRORS as error:
        raise HeldUploadGone from error
    return HeldUpload(name=data["name"], file_name=data["file_name"], file=handle)


def release_held_upload(token: str, *, user: User, trust: Trust) -> None:
    """Remove a held file, once it is stored for good or replaced by another."""
    try:
        data = _held_data(token, user=user, trust=trust)
    except HeldUploadGone:
        return
    storage().delete(data["name"])


def _held_data(token: str, *, user: User, trust: Trust) -> dict:
    try:
        data = signing.loads(token, salt=HOLD_SALT, max_age=HOLD_MAX_AGE)
    except signing.BadSignature as error:  # includes SignatureExpired
        raise HeldUploadGone from error
    name = data.get("name", "")
    if (
        data.get("user") != user.pk
        or data.get("trust") != trust.pk
        or not name.startswith(f"{HOLD_FOLDER}/{trust.pk}/")
        or ".." in name
    ):
        raise HeldUploadGone
    return data


def purge_expired_holds() -> int:
    """Delete held files older than ``HOLD_MAX_AGE`` and return how many were deleted.

    The upload, new-version and add-link views call this at the start of every request, and
    ``hold_upload`` whenever it holds a file, so held files go soon after they expire while people
    are adding evidence. It is cheap (one listing of ``held/`` per trust with held files) and safe to
    run at any time: run it from a scheduled job too (for example hourly, with
    ``manage.py purge_held_uploads``)
    so that nothing is kept longer than the hold time when nobody uploads for a while.
    """
    store = storage()
    cutoff = timezone.now() - timedelta(seconds=HOLD_MAX_AGE)
    removed = 0
    try:
        folders, _ = store.listdir(HOLD_FOLDER)
    except FileNotFoundError:
        return 0
    for folder in folders:
        try:
            _, files = store.listdir(f"{HOLD_FOLDER}/{folder}")
        except FileNotFoundError:
            continue
        for file_name in files:
            name = f"{HOLD_FOLDER}/{folder}/{file_name}"
            try:
                modified = store.get_modified_time(name)
            except STORAGE_ERRORS:
                # Another request removed it since the listing (a bucket answers that with a
                # ClientError, not FileNotFoundError); anything else waits for the next purge.
                continue
            if modified < cutoff:
                store.delete(name)  # no error if another request removed it first
                removed += 1
    return removed


# ---- changes to the library ---------------------------------------------------------------------


def _audit(*, trust: Trust, actor: User, action: str, summary: str, changes: dict) -> None:
    AuditEvent.objects.create(trust=trust, actor=actor, action=action, summary=summary[:500], changes=changes)


def _require_uploader(user: User, trust: Trust) -> None:
    if role_at(user, trust) not in UPLOADER_ROLES:
        raise EvidenceError("Only the trust's social work lead and contributors can add evidence.")


def _check_declarations(upload: CheckedFile, *, confirmed_no_patient_data: bool, confirmed_not_nhs_numbers: bool):
    if not confirmed_no_patient_data:
        raise EvidenceError("Confirm the document contains no patient-identifiable information")
    if upload.nhs_numbers and not confirmed_not_nhs_numbers:
        raise EvidenceError(nhs_number_warning(upload.nhs_numbers))


def _details(title: str, description: str, evidence_date: date, owner: str) -> dict:
    title, owner = title.strip(), owner.strip()
    if not title:
        raise EvidenceError("Enter a title")
    if not owner:
        raise EvidenceError("Enter who owns the document")
    return {"title": title, "description": description.strip(), "evidence_date": evidence_date, "owner": owner}


def _store_version(
    *, item: EvidenceItem, number: int, upload: CheckedFile, uploaded_by: User, confirmed_not_nhs_numbers: bool
) -> EvidenceVersion:
    version = EvidenceVersion(
        item=item,
        number=number,
        original_name=upload.original_name,
        content_type=upload.file_type.content_type,
        size=upload.size,
        sha256=upload.sha256,
        confirmed_no_patient_data=True,
        possible_nhs_numbers=len(upload.nhs_numbers) if confirmed_not_nhs_numbers else 0,
        uploaded_by=uploaded_by,
    )
    # The stored name is random (evidence_upload_to) with the extension of the type we detected.
    try:
        version.file.save(f"upload{upload.file_type.extension}", upload.file, save=False)
    except STORAGE_ERRORS as error:
        # A full disk or an unreachable store: the person gets their form back with a message.
        logger.exception("Could not store an evidence file for %s", item.trust)
        raise EvidenceError(STORAGE_FAILED) from error
    try:
        version.save()
    except BaseException:
        # Nothing stored unless the row is. (A rollback by a caller's outer transaction would
        # leave the file without a row: harmless, never served, but call these outside one.)
        version.file.storage.delete(version.file.name)
        raise
    return version


@transaction.atomic
def create_file_evidence(
    *,
    trust: Trust,
    created_by: User,
    title: str,
    description: str = "",
    evidence_date: date,
    owner: str,
    upload: CheckedFile,
    confirmed_no_patient_data: bool,
    confirmed_not_nhs_numbers: bool = False,
) -> EvidenceItem:
    """Add a document to the trust's library as version 1 of a new item."""
    _require_uploader(created_by, trust)
    _check_declarations(
        upload, confirmed_no_patient_data=confirmed_no_patient_data, confirmed_not_nhs_numbers=confirmed_not_nhs_numbers
    )
    details = _details(title, description, evidence_date, owner)
    item = EvidenceItem.objects.create(trust=trust, kind=EvidenceKind.FILE, created_by=created_by, **details)
    _audit(
        trust=trust,
        actor=created_by,
        action="evidence_uploaded",
        summary=f"Added the document “{item.title}” ({upload.original_name}) to the evidence library",
        changes=_audit_changes(item, upload, confirmed_not_nhs_numbers),
    )
    _store_version(
        item=item, number=1, upload=upload, uploaded_by=created_by, confirmed_not_nhs_numbers=confirmed_not_nhs_numbers
    )
    return item


@transaction.atomic
def add_evidence_version(
    *,
    item: EvidenceItem,
    uploaded_by: User,
    upload: CheckedFile,
    confirmed_no_patient_data: bool,
    confirmed_not_nhs_numbers: bool = False,
) -> EvidenceVersion:
    """Replace a document by a new version; earlier versions stay, downloadable."""
    item = EvidenceItem.objects.select_for_update().select_related("trust").get(pk=item.pk)
    _require_uploader(uploaded_by, item.trust)
    if item.kind != EvidenceKind.FILE:
        raise EvidenceError("Only documents have versions. Add the new document as a new item.")
    _check_declarations(
        upload, confirmed_no_patient_data=confirmed_no_patient_data, confirmed_not_nhs_numbers=confirmed_not_nhs_numbers
    )
    number = (item.versions.aggregate(latest=Max("number"))["latest"] or 0) + 1
    _audit(
        trust=item.trust,
        actor=uploaded_by,
        action="evidence_version_added",
        summary=f"Uploaded version {number} of “{item.title}” ({upload.original_name})",
        changes={"version": [number - 1, number], **_audit_changes(item, upload, confirmed_not_nhs_numbers)},
    )
    return _store_version(
        item=item,
        number=number,
        upload=upload,
        uploaded_by=uploaded_by,
        confirmed_not_nhs_numbers=confirmed_not_nhs_numbers,
    )


@transaction.atomic
def create_link_evidence(
    *,
    trust: Trust,
    created_by: User,
    title: str,
    description: str = "",
    evidence_date: date,
    owner: str,
    url: str,
    confirmed_no_patient_data: bool,
) -> EvidenceItem:
    """Record a link to where a document lives (an intranet page, a published board paper)."""
    _require_uploader(created_by, trust)
    if not confirmed_no_patient_data:
        raise EvidenceError("Confirm the document contains no patient-identifiable information")
    try:
        url = check_link(url)
    except ValidationError as error:
        raise EvidenceError(error.messages[0]) from error
    details = _details(title, description, evidence_date, owner)
    item = EvidenceItem.objects.create(trust=trust, kind=EvidenceKind.LINK, url=url, created_by=created_by, **details)
    _audit(
        trust=trust,
        actor=created_by,
        action="evidence_link_added",
        summary=f"Added the link “{item.title}” to the evidence library",
        changes={
            "evidence_item": [None, item.pk],
            "title": ["", item.title],
            "url": ["", url],
            "confirmed_no_patient_data": [None, True],
        },
    )
    return item


def _audit_changes(item: EvidenceItem, upload: CheckedFile, confirmed_not_nhs_numbers: bool) -> dict:
    return {
        "evidence_item": [None, item.pk],
        "title": ["", item.title],
        "file_name": ["", upload.original_name],
        "content_type": ["", upload.file_type.content_type],
        "sha256": ["", upload.sha256],
        "confirmed_no_patient_data": [None, True],
        "possible_nhs_numbers_confirmed": [None, len(upload.nhs_numbers) if confirmed_not_nhs_numbers else 0],
    }
