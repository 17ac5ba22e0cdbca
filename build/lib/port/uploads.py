"""Every uploaded file is checked here, and every stored one is served from here.

One validator per kind of upload, shared by the forms, the API serializers and the
services of every app. Each checks the size first (from the upload's declared size,
before a byte is read or decoded), then the content by its magic bytes or by decoding
it: never by the file name or the client's Content-Type. A refused file raises Django's
ValidationError, which a form or a serializer reports on its field (a 400).

Stored files are served by `attachment_response`: always as a download, with the type
the content was checked to be, `nosniff` and a sandboxing Content-Security-Policy, so a
file that slipped through can never run as a page of the site. docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils.translation import gettext as _

MB = 1024 * 1024
# Pillow's names of the image formats we accept, with their type and file extension.
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "TIFF": ("image/tiff", ".tif"),
    "WEBP": ("image/webp", ".webp"),
}
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".edi": "application/edifact",
}
# The bytes an XLSX (a ZIP archive) starts with.
ZIP_MAGIC = b"PK\x03\x04"
# Plenty for an H986 scan (about 8,000 × 6,000), small enough that decoding stays cheap.
MAX_IMAGE_PIXELS = 64_000_000
DEFAULT_MAX_BYTES = {"scan": 20 * MB, "photo": 10 * MB, "erp": 5 * MB, "edifact": 5 * MB}
SANDBOX_CSP = "sandbox; default-src 'none'"


@dataclass(frozen=True)
class Checked:
    """What a file was found to be: its content type and the extension it is stored under."""

    content_type: str
    extension: str


def max_bytes(kind: str) -> int:
    """The size limit of one kind of upload (settings.UPLOAD_MAX_BYTES overrides)."""
    return getattr(settings, "UPLOAD_MAX_BYTES", {}).get(kind, DEFAULT_MAX_BYTES[kind])


def check_size(file, kind: str) -> None:
    limit = max_bytes(kind)
    size = file.size if file.size is not None else len(_peek(file, limit + 1))
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > limit:
        raise ValidationError(
            _("The file is larger than %(limit)s MB.") % {"limit": _megabytes(limit)},
            code="too_large",
        )


def check_image(file, kind: str = "photo") -> Checked:
    """A JPEG, PNG, TIFF or WebP image that Pillow decodes, within the size and pixel limits.

    HTML, SVG, executables and every other format are refused whatever their name.
    """
    from PIL import Image, UnidentifiedImageError

    check_size(file, kind)
    refused = ValidationError(
        _("Upload a JPEG, PNG, TIFF or WebP image; this file is not one."), code="not_image"
    )
    file.seek(0)
    try:
        with Image.open(file, formats=list(IMAGE_TYPES)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValidationError(
                    _("The image has more than %(pixels)s million pixels.")
                    % {"pixels": MAX_IMAGE_PIXELS // 1_000_000},
                    code="too_many_pixels",
                )
            image.verify()  # reads the whole stream: truncated or corrupt files fail here
            image_format = image.format
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise refused from None
    finally:
        file.seek(0)
    content_type, extension = IMAGE_TYPES[image_format]
    return Checked(content_type, extension)


def check_erp_file(file) -> Checked:
    """A CSV (UTF-8 or GB18030 text) or an XLSX (a ZIP archive), named for what it is."""
    check_size(file, "erp")
    name = (file.name or "").lower()
    head = _peek(file, 4096)
    if name.endswith(".xlsx"):
        if not head.startswith(ZIP_MAGIC):
            raise ValidationError(_("This file is not an XLSX workbook."), code="not_xlsx")
        return Checked(CONTENT_TYPES[".xlsx"], ".xlsx")
    if name.endswith(".csv"):
        if not _is_text(head):
            raise ValidationError(_("This file is not CSV text."), code="not_csv")
        return Checked(CONTENT_TYPES[".csv"], ".csv")
    raise ValidationError(_("Upload a .csv or .xlsx file."), code="extension")


def check_edifact_file(file) -> Checked:
    """UN/EDIFACT text: starts with a UNA, UNB or (a bare message) UNH segment; not binary."""
    check_size(file, "edifact")
    head = _peek(file, 4096)
    if not _is_text(head):
        raise ValidationError(_("This is a binary file, not UN/EDIFACT text."), code="binary")
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"UNA", b"UNB", b"UNH")):
        raise ValidationError(
            _("A UN/EDIFACT file starts with a UNA, UNB or UNH segment."), code="not_edifact"
        )
    return Checked(CONTENT_TYPES[".edi"], ".edi")


def image_validator(kind: str):
    """A field validator (forms and DRF serializers) for one kind of image; it remembers
    what it found on the file, so `name_for` does not decode it again."""

    def validate(file) -> None:
        if file:
            file.portwise_checked = check_image(file, kind)

    validate.__name__ = f"validate_{kind}_image"
    return validate


def validate_erp_file(file) -> None:
    check_erp_file(file)


def validate_edifact_file(file) -> None:
    check_edifact_file(file)


def name_for(file, kind: str) -> str:
    """The name to store an image under: its kind and the extension of its real format.

    The uploader's name is never kept, so `x.jpg.html` cannot be stored as a page.
    Raises ValidationError for a file that is not an accepted image.
    """
    checked = getattr(file, "portwise_checked", None) or check_image(file, kind)
    return f"{kind}{checked.extension}"


def attachment_response(field_file) -> FileResponse:
    """Serve a stored upload as a download that no browser renders or runs."""
    extension = PurePath(field_file.name).suffix.lower()
    content_type = CONTENT_TYPES.get(extension, "application/octet-stream")
    response = FileResponse(
        field_file.open("rb"),
        as_attachment=True,
        filename=PurePath(field_file.name).name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _peek(file, size: int) -> bytes:
    file.seek(0)
    head = file.read(size)
    file.seek(0)
    return head


def _is_text(head: bytes) -> bool:
    """No NUL bytes, and UTF-8, GB18030 or ISO 8859-1 text (a character cut at the end of
    the sample does not count against it)."""
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:
                continue
        return True
    return _latin1_text(head)


def _latin1_text(head: bytes) -> bool:
    """UNOB/UNOC EDIFACT and older CSV exports are ISO 8859-1: printable, no C0 controls."""
    return all(b >= 0x20 or b in b"\t\r\n" for b in head)


def _megabytes(limit: int) -> str:
    return f"{limit / MB:g}"
