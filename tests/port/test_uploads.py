"""The shared upload checks (port/uploads.py): content by magic bytes and decoding, size
first, and every stored file served as a download that no browser runs."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from port import uploads

SCRIPT_HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SCRIPT_SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(document.domain)</script></svg>"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


def image_bytes(fmt: str = "PNG", size=(8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("scan.html", SCRIPT_HTML),
        ("scan.jpg", SCRIPT_HTML),
        ("scan.svg", SCRIPT_SVG),
        ("scan.png", SCRIPT_SVG),
        ("scan.jpg", EXE),
        ("scan.bmp", image_bytes("BMP")),
        ("scan.gif", image_bytes("GIF")),
        ("scan.png", image_bytes("PNG")[:40]),  # truncated
    ],
)
def test_check_image_refuses_what_is_not_an_accepted_image(name, content):
    with pytest.raises(ValidationError) as refused:
        uploads.check_image(SimpleUploadedFile(name, content, content_type="image/jpeg"), "scan")
    assert refused.value.code == "not_image"


@pytest.mark.parametrize(
    ("fmt", "name", "expected"),
    [
        ("PNG", "x.jpg", ("image/png", ".png")),
        ("JPEG", "x.png", ("image/jpeg", ".jpg")),
        ("TIFF", "x", ("image/tiff", ".tif")),
        ("WEBP", "x.webp", ("image/webp", ".webp")),
    ],
)
def test_check_image_names_the_real_format_whatever_the_file_is_called(fmt, name, expected):
    checked = uploads.check_image(SimpleUploadedFile(name, image_bytes(fmt)), "photo")
    assert (checked.content_type, checked.extension) == expected


def test_the_size_is_refused_before_anything_is_read(settings):
    settings.UPLOAD_MAX_BYTES = {"scan": 1000}

    class Unreadable(SimpleUploadedFile):
        def read(self, *args):
            raise AssertionError("read before the size check")

    with pytest.raises(ValidationError) as refused:
        uploads.check_image(Unreadable("big.png", b"x" * 1001), "scan")
    assert refused.value.code == "too_large"


def test_too_many_pixels_is_refused_without_decoding():
    huge = image_bytes("PNG", size=(9000, 8000))
    with pytest.raises(ValidationError) as refused:
        uploads.check_image(SimpleUploadedFile("big.png", huge), "scan")
    assert refused.value.code == "too_many_pixels"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("orders.xlsx", EXE, "not_xlsx"),
        ("orders.xlsx", b"reference,hs_code\nA,1\n", "not_xlsx"),
        ("orders.csv", EXE, "not_csv"),
        ("orders.exe", b"reference\n", "extension"),
        ("orders.csv", b"", "empty"),
    ],
)
def test_check_erp_file_refuses_by_content(name, content, code):
    with pytest.raises(ValidationError) as refused:
        uploads.check_erp_file(SimpleUploadedFile(name, content))
    assert refused.value.code == code


def test_check_erp_file_accepts_csv_in_chinese_and_xlsx():
    csv = "reference,description\nPO-1,冷冻牛肉\n"
    assert uploads.check_erp_file(SimpleUploadedFile("a.csv", csv.encode())).extension == ".csv"
    assert uploads.check_erp_file(SimpleUploadedFile("a.csv", csv.encode("gb18030")))
    assert uploads.check_erp_file(SimpleUploadedFile("a.xlsx", b"PK\x03\x04rest")).extension == (
        ".xlsx"
    )


@pytest.mark.parametrize(
    ("content", "code"),
    [(SCRIPT_HTML, "not_edifact"), (EXE, "binary"), (SCRIPT_SVG, "not_edifact")],
)
def test_check_edifact_file_wants_a_una_unb_or_unh_segment(content, code):
    with pytest.raises(ValidationError) as refused:
        uploads.check_edifact_file(SimpleUploadedFile("bay.edi", content))
    assert refused.value.code == code


def test_check_edifact_file_accepts_latin1_text_with_a_bom():
    text = "\ufeffUNA:+.? 'UNB+UNOC:3+ÉMETTEUR+X+160414:0307+1'".encode("utf-8")
    assert uploads.check_edifact_file(SimpleUploadedFile("bay.edi", text)).extension == ".edi"
    latin1 = "UNB+UNOC:3+ÉMETTEUR+X+160414:0307+1'".encode("latin-1")
    assert uploads.check_edifact_file(SimpleUploadedFile("bay.edi", latin1)).extension == ".edi"


class Stored:
    """What a model's FileField gives: a name and open()."""

    def __init__(self, storage, name):
        self.storage, self.name = storage, name

    def open(self, mode="rb"):
        return self.storage.open(self.name, mode)


def test_attachment_response_never_lets_a_browser_render_the_file(settings, tmp_path):
    from django.core.files.storage import FileSystemStorage

    storage = FileSystemStorage(location=tmp_path)
    for stored, expected_type in [
        ("scan.png", "image/png"),
        ("legacy.html", "application/octet-stream"),
        ("legacy.svg", "application/octet-stream"),
    ]:
        name = storage.save(stored, ContentFile(SCRIPT_HTML))
        response = uploads.attachment_response(Stored(storage, name))

        assert response["Content-Type"] == expected_type
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        response.file_to_stream.close()  # not close(): that signals request_finished
