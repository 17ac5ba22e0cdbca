"""Live events about filings over the real Redis channel layer and the one consumer."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from port.models import Organisation, User
from shipping import events, services
from shipping.models import VesselFiling
from tests.conftest import websocket_for
from tests.shipping.conftest import submit


def run(scenario, *args):
    return async_to_sync(scenario)(*args)


@pytest.mark.django_db(transaction=True)
def test_the_agent_sees_each_agency_decide_live_and_a_stranger_cannot_subscribe(ship):
    filing = submit(ship)
    other = Organisation.objects.create(
        name="Other Maritime Office", kind=Organisation.Kind.MARITIME_SAFETY, port=ship.call.port
    )
    stranger = User.objects.create(username="stranger")
    other.memberships.create(user=stranger, role="reviewer")
    review = filing.reviews.get(agency_kind="customs_office")

    @database_sync_to_async
    def approve():
        services.review_decide(
            review_id=review.pk, user=ship.reviewers["customs_office"], decision="approved"
        )

    async def scenario(agent, outsider):
        await agent.connect()
        await outsider.connect()
        await outsider.send_json_to({"type": "subscribe", "topic": "filing", "key": str(filing.pk)})
        refused = await outsider.receive_json_from(timeout=5)
        await approve()
        received = await agent.receive_json_from(timeout=5)
        nothing = await outsider.receive_nothing(timeout=1)
        await agent.disconnect()
        await outsider.disconnect()
        return refused, received, nothing

    refused, received, nothing = run(scenario, websocket_for(ship.agent), websocket_for(stranger))

    assert refused["reason"] == "not_found"
    assert received == {
        "type": "shipping.review_decided",
        "id": review.pk,
        "filing": filing.pk,
        "agency_kind": "customs_office",
        "status": "approved",
        "status_label": "Approved",
    }
    assert nothing is True


def test_event_schemas(ship, filed):
    review = filed.reviews.first()
    assert set(events.review_decided(review)) == {
        "type",
        "id",
        "filing",
        "agency_kind",
        "status",
        "status_label",
    }
    changed = events.filing_status_changed(filed, event_type="shipping.filing_status_changed")
    assert changed == {
        "type": "shipping.filing_status_changed",
        "id": filed.pk,
        "port_call": ship.call.pk,
        "status": "under_review",
        "status_label": "Under review",
        "version": 1,
    }
    berthed = events.port_call_status_changed(ship.call, event_type="shipping.port_call_berthed")
    assert set(berthed) == {"type", "id", "status", "status_label"}
    assert events.dangerous_goods_checked(ship.call.pk, 3) == {
        "type": "shipping.dg_checked",
        "port_call": ship.call.pk,
        "open_flags": 3,
    }
    assert VesselFiling.objects.count() == 1


@pytest.mark.slow
def test_a_real_worker_imports_an_upload_and_runs_the_cross_check(
    ship, celery_worker_process, api_for
):
    import time
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from shipping.models import DangerousGoodsFlag, EdifactImport

    sample = Path(__file__).resolve().parent / "edifact" / "coarri_d95b_genoa.edi"
    response = api_for(ship.agent).post(
        "/api/v1/edifact-imports/",
        {"file": SimpleUploadedFile("genoa.edi", sample.read_bytes()), "port_call": ship.call.pk},
        format="multipart",
    )
    deadline = time.monotonic() + 30
    upload = EdifactImport.objects.get(pk=response.json()["id"])
    while upload.status != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
        upload.refresh_from_db()
    assert upload.summary["containers_read"] == 21
    while not DangerousGoodsFlag.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    # The Genoa file's UN 2735 container has no maritime approval yet.
    assert list(DangerousGoodsFlag.objects.values_list("container_number", "kind")) == [
        ("CBHU6411248", "no_approval")
    ]
