"""ERP files of zone documents, filed by a worker with progress."""

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from port.errors import InvalidInput
from tests.conftest import websocket_for
from tests.zones.factories import PLATE
from zones import services
from zones.models import Movement, ZoneUpload
from zones.services import uploads

HEADER = "document,kind,truck_plate,declared_weight_kg,item_no,hs_code,description,unit,quantity,value,un_number\n"


def row(ref, plate=PLATE, hs="8473302000", quantity="10", un=""):
    return (
        f"{ref},domestic_in,{plate},18000,GPU-4090,{hs},Graphics cards,pcs,{quantity},1000,{un}\n"
    )


def create(zone, text, name="erp.csv"):
    return services.zone_upload_create(user=zone.co, file_name=name, content=text.encode())


def test_a_good_file_is_filed_in_chunks_with_progress(zone, monkeypatch):
    monkeypatch.setattr(uploads, "CHUNK", 4)
    upload = create(zone, HEADER + "".join(row(f"D{n}") for n in range(10)))

    done = services.zone_upload_process(upload_id=upload.pk)

    assert (done.status, done.total_documents, done.processed_documents) == ("done", 10, 10)
    assert done.percent == 100
    assert [f["document"] for f in done.filed] == [f"D{n}" for n in range(10)]
    assert Movement.objects.filter(source="upload").count() == 10


def test_a_bad_document_is_reported_by_row_and_never_stops_the_others(zone, monkeypatch):
    monkeypatch.setattr(uploads, "CHUNK", 3)
    text = HEADER + row("D1") + row("D2", hs="12") + row("D3") + row("D4", un="99999")

    done = services.zone_upload_process(upload_id=create(zone, text).pk)

    assert [f["document"] for f in done.filed] == ["D1", "D3"]
    assert [(e["document"], e["message"][:15]) for e in done.errors] == [
        ("D2", "Row 3, hs_code:"),
        ("D4", "Row 5, un_numbe"),
    ]
    assert Movement.objects.count() == 2


def test_a_task_run_again_resumes_and_files_nothing_twice(zone, monkeypatch):
    monkeypatch.setattr(uploads, "CHUNK", 2)
    upload = create(zone, HEADER + "".join(row(f"D{n}") for n in range(5)))
    # A first worker filed one chunk, then was lost.
    ZoneUpload.objects.filter(pk=upload.pk).update(status="processing")
    uploads._file_chunk(upload.pk, 0, *_parsed(upload, 0, 2))

    done = services.zone_upload_process(upload_id=upload.pk)
    again = services.zone_upload_process(upload_id=upload.pk)

    assert Movement.objects.count() == 5
    assert [f["document"] for f in done.filed] == [f"D{n}" for n in range(5)]
    assert again.status == "done"


def _parsed(upload, start, end):
    from zones import erp

    documents, rows = erp.documents_from_file(bytes(upload.content), upload.file_name)
    return documents[start:end], rows[start:end]


def test_an_unreadable_file_fails_with_the_reason(zone):
    upload = create(zone, "just,some\ncolumns\n")

    done = services.zone_upload_process(upload_id=upload.pk)

    assert done.status == "failed"
    assert "Columns missing" in done.errors[0]["message"]


def test_a_file_too_long_is_refused_before_anything_is_kept(zone):
    with pytest.raises(InvalidInput) as error:
        create(zone, HEADER + row("D") * 5002)
    assert "5000" in error.value.errors["file"][0]
    assert ZoneUpload.objects.exists() is False


def test_the_upload_page_shows_progress_and_the_report_to_its_enterprise_only(zone):
    upload = create(zone, HEADER + row("D1") + row("D2", hs="12"))
    mine, other = Client(), Client()
    mine.force_login(zone.co)
    other.force_login(zone.co2)

    waiting = mine.get(f"/zones/uploads/{upload.pk}/").content.decode()
    services.zone_upload_process(upload_id=upload.pk)
    report = mine.get(f"/zones/uploads/{upload.pk}/").content.decode()

    assert 'data-live-subscribe="zone_upload:' in waiting
    assert "<progress" in waiting
    assert "Row 3, hs_code" in report
    assert "1 document filed" in report
    assert other.get(f"/zones/uploads/{upload.pk}/").status_code == 404


def test_the_browser_upload_goes_to_its_progress_page(zone):
    import io

    client = Client()
    client.force_login(zone.co)
    file = io.BytesIO((HEADER + row("D1")).encode())
    file.name = "erp.csv"

    response = client.post("/zones/upload/", {"file": file})

    upload = ZoneUpload.objects.get()
    assert response.status_code == 302
    assert response.url == f"/zones/uploads/{upload.pk}/"


def test_the_upload_topic_is_its_enterprises_only(transactional_db, zone):
    key = str(create(zone, HEADER + row("D1")).pk)

    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "zone_upload", "key": key})
        reply = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return reply["type"]

    assert async_to_sync(scenario)(websocket_for(zone.co)) == "subscribed"
    assert async_to_sync(scenario)(websocket_for(zone.co2)) == "error"
    assert async_to_sync(scenario)(websocket_for(zone.officer)) == "error"


@pytest.mark.slow
def test_a_worker_files_an_upload(celery_worker_process, zone):
    import time

    upload = create(zone, HEADER + "".join(row(f"D{n}") for n in range(120)))

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.is_finished:
            break
        time.sleep(0.3)
    assert (upload.status, len(upload.filed)) == ("done", 120)


def test_the_report_speaks_the_uploaders_language(zone):
    from django.utils import translation

    with translation.override("zh-hans"):
        upload = create(zone, HEADER + row("D1", hs="12"))

    done = services.zone_upload_process(upload_id=upload.pk)  # the worker: no request

    assert done.language == "zh-hans"
    assert "Row" not in done.errors[0]["message"]
