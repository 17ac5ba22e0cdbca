"""Issue 12, stored XSS and unrestricted upload: the scan image (API and page) and the
photos are checked by content and size, renamed for what they are, and served as
downloads that no browser renders."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inspection.models import Inspection
from port.models import TimelineEvent
from tests.inspection.test_api import TICKETS, selected  # noqa: F401 - a fixture
from tests.port.test_uploads import EXE, SCRIPT_HTML, SCRIPT_SVG, image_bytes


@pytest.fixture
def ticket(demo, api_for, selected, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    api_for(demo.terminal).post(TICKETS, {"container": "COSU6123451"}, format="json")
    officer = api_for(demo.officer)
    called = officer.post(
        f"{TICKETS}call-next/", {"area": Inspection.objects.get().area_id}, format="json"
    )
    officer.post(f"{TICKETS}{called.json()['id']}/start/")
    return Inspection.objects.get()


def record(client, ticket, name, content, **fields):
    return client.post(
        f"{TICKETS}{ticket.pk}/record/",
        {"result": "conforming", "scan_image": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [("scan.html", SCRIPT_HTML), ("scan.svg", SCRIPT_SVG), ("scan.jpg", EXE)],
)
def test_the_api_refuses_a_scan_image_that_is_not_an_image_and_changes_nothing(
    demo, api_for, ticket, name, content
):
    response = record(api_for(demo.officer), ticket, name, content)

    assert response.status_code == 400
    assert list(response.json()) == ["scan_image"]
    ticket.refresh_from_db()
    assert (ticket.scan_image.name, ticket.result) == ("", "")
    assert (
        TimelineEvent.objects.filter(kind=TimelineEvent.Kind.INSPECTION_RECORDED).exists() is False
    )


def test_the_api_refuses_a_scan_image_over_its_size_limit(demo, api_for, ticket, settings):
    settings.UPLOAD_MAX_BYTES = {"scan": 1024 * 1024}

    response = record(
        api_for(demo.officer), ticket, "scan.png", image_bytes("PNG") + b"\0" * 1024 * 1024
    )

    assert response.status_code == 400
    assert response.json() == {"scan_image": ["The file is larger than 1 MB."]}


def test_a_scan_image_is_stored_by_its_real_format_and_served_as_a_download(
    demo, api_for, client, ticket
):
    response = record(api_for(demo.officer), ticket, "x.jpg.html", image_bytes("PNG"))
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.scan_image.name.rsplit("/", 1)[-1].startswith("scan")
    assert ticket.scan_image.name.endswith(".png")

    client.force_login(demo.officer)
    served = client.get(f"/inspection/tickets/{ticket.pk}/scan/")

    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_the_page_refuses_an_image_format_it_does_not_accept_and_a_large_photo(
    demo, client, ticket, settings
):
    client.force_login(demo.officer)
    url = f"/inspection/tickets/{ticket.pk}/"

    bmp = client.post(
        url,
        {"action": "record", "scan_image": SimpleUploadedFile("scan.bmp", image_bytes("BMP"))},
    )
    settings.UPLOAD_MAX_BYTES = {"photo": 64}
    large = client.post(
        url, {"action": "record", "photos": [SimpleUploadedFile("a.png", image_bytes("PNG"))]}
    )

    assert "Upload a JPEG, PNG, TIFF or WebP image" in bmp.content.decode()
    assert "The file is larger than" in large.content.decode()
    ticket.refresh_from_db()
    assert (ticket.scan_image.name, ticket.photos.count()) == ("", 0)


def test_photos_are_renamed_and_served_as_downloads(demo, client, ticket):
    client.force_login(demo.officer)
    url = f"/inspection/tickets/{ticket.pk}/"

    client.post(
        url,
        {"action": "record", "photos": [SimpleUploadedFile("a.svg.jpg", image_bytes("JPEG"))]},
    )

    photo = ticket.photos.get()
    assert photo.image.name.endswith(".jpg")
    assert "/photo" in photo.image.name
    served = client.get(f"{url}photos/{photo.pk}/")
    assert (served["Content-Type"], served["Content-Security-Policy"]) == (
        "image/jpeg",
        "sandbox; default-src 'none'",
    )
    assert served["Content-Disposition"].startswith("attachment;")
