"""One import consignment end to end on the real parts: the API, PostgreSQL, a Celery
worker process taking the task from Redis, and the Redis channel layer to /ws/live/."""

import pytest
from asgiref.sync import async_to_sync

from declarations.models import Declaration
from inspection.models import Decision
from tests.conftest import MEAT_ITEM, filing, websocket_for

pytestmark = pytest.mark.slow


async def _watch(importer, exporter, officer, customs_id, file_declaration):
    await importer.connect()
    await exporter.connect()
    await officer.connect()
    await officer.send_json_to(
        {"type": "subscribe", "topic": "inspection_queue", "key": str(customs_id)}
    )
    assert (await officer.receive_json_from(timeout=5))["type"] == "subscribed"

    declaration_id = await file_declaration()
    status = await importer.receive_json_from(timeout=10)  # the draft-to-submitted push
    while status["status"] == "submitted":
        status = await importer.receive_json_from(timeout=30)  # the worker's decision
    selected = await officer.receive_json_from(timeout=10)
    nothing_for_exporter = await exporter.receive_nothing(timeout=1)
    for socket in (importer, exporter, officer):
        await socket.disconnect()
    return declaration_id, status, selected, nothing_for_exporter


def test_a_filed_declaration_is_assessed_by_the_worker_and_pushed_live(
    transactional_db, demo, api_for, celery_worker_process
):
    from channels.db import database_sync_to_async

    @database_sync_to_async
    def file_declaration():
        response = api_for(demo.importer).post(
            "/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json"
        )
        assert response.status_code == 201
        return response.json()["id"]

    declaration_id, status, selected, nothing_for_exporter = async_to_sync(_watch)(
        websocket_for(demo.importer),
        websocket_for(demo.exporter),
        websocket_for(demo.officer),
        demo.customs.pk,
        file_declaration,
    )

    assert status == {
        "type": "declaration.status_changed",
        "id": declaration_id,
        "number": Declaration.objects.get().number,
        "status": "inspection_required",
        "status_label": "Inspection required",
    }
    assert selected == {
        "type": "inspection.containers_selected",
        "declaration_id": declaration_id,
        "inspection_area": "Haitian Inspection Area",
        "containers": [
            {"number": "COSU6123451", "outcome": "quarantine"},
            {"number": "CSNU8011228", "outcome": "quarantine"},
        ],
    }
    assert nothing_for_exporter is True
    assert Declaration.objects.get().status == Declaration.Status.INSPECTION_REQUIRED
    assert Decision.objects.filter(declaration_id=declaration_id).count() == 2


def test_healthz_is_200_only_with_a_worker_answering(transactional_db, client, request):
    without_worker = client.get("/healthz")
    assert without_worker.status_code == 503
    assert without_worker.json()["celery"].startswith("error: no worker")
    assert without_worker.json()["database"] == "ok"
    assert without_worker.json()["redis"] == "ok"

    request.getfixturevalue("celery_worker_process")
    with_worker = client.get("/healthz")

    assert with_worker.status_code == 200
    body = with_worker.json()
    assert {k: body[k] for k in ("status", "database", "redis", "celery")} == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "celery": "ok",
    }
