"""Live events of declarations: schemas, and who may subscribe to an upload's progress."""

from asgiref.sync import async_to_sync

from declarations import events, uploads
from inspection import assessment
from tests.conftest import websocket_for
from tests.declarations.factories import file
from tests.declarations.test_uploads import as_csv, rows_for_three


def test_step2_event_schema(demo):
    summary = file(demo, user=demo.exporter, kind="summary")
    assessment.assess_declarations(declaration_ids=[summary.pk])
    summary.refresh_from_db()

    event = events.declaration_step2(summary)

    assert set(event) == set(events.DeclarationStep2.__annotations__)
    assert (event["type"], event["is_overdue"]) == ("declaration.step2", False)
    assert event["due"] == summary.full_due_at.isoformat()


def test_upload_progress_event_schema(demo):
    upload = uploads.erp_upload_create(
        user=demo.importer, file_name="a.csv", content=as_csv(rows_for_three())
    )

    event = events.upload_progress(upload)

    assert set(event) == set(events.UploadProgress.__annotations__)
    assert event == {
        "type": "declaration.upload_progress",
        "id": upload.pk,
        "status": "queued",
        "percent": 0,
    }


def test_subscribing_to_an_upload_needs_it_to_be_yours(transactional_db, demo):
    upload = uploads.erp_upload_create(
        user=demo.importer, file_name="a.csv", content=as_csv(rows_for_three())
    )
    key = str(upload.pk)

    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "erp_upload", "key": key})
        reply = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return reply["type"]

    assert async_to_sync(scenario)(websocket_for(demo.importer)) == "subscribed"
    assert async_to_sync(scenario)(websocket_for(demo.exporter)) == "error"
