from asgiref.sync import async_to_sync
from django.test import Client

from alarms import services
from alarms.services import AlarmSpec
from port.models import User
from tests.conftest import websocket_for


def raise_one(demo, **overrides):
    fields = dict(
        kind="gate.refused",
        severity="high",
        customs_office_id=demo.customs.pk,
        dedupe_key="gate-event:1",
        subject="TGHU0000013",
        message="Gate-out refused",
    )
    fields.update(overrides)
    return services.alarm_raise(spec=AlarmSpec(**fields))


def test_officers_work_an_alarm_through_the_api(demo, api_for):
    alarm = raise_one(demo)
    expert = User.objects.get(username="expert")
    api = api_for(demo.officer)
    base = f"/api/v1/alarms/{alarm.pk}"

    assert api.post(f"{base}/acknowledge/").json()["status"] == "acknowledged"
    assert (
        api.post(f"{base}/assign/", {"assignee": expert.pk}, format="json").json()["assigned_to"]
        == "expert"
    )
    assert api.post(f"{base}/annotate/", {"note": "seen"}, format="json").status_code == 200
    bad = api.post(f"{base}/close/", {"outcome": "maybe"}, format="json")
    closed = api.post(f"{base}/close/", {"outcome": "violation"}, format="json")
    again = api.post(f"{base}/close/", {"outcome": "violation"}, format="json")

    assert bad.status_code == 400
    assert "outcome" in bad.json()
    assert closed.json()["status"] == "closed"
    assert again.status_code == 409


def test_the_list_filters_and_is_scoped(demo, api_for):
    raise_one(demo)
    raise_one(demo, dedupe_key="x", severity="warning", kind="zone.gate_stop", subject="闽D1")
    api = api_for(demo.officer)

    assert len(api.get("/api/v1/alarms/").json()["results"]) == 2
    assert [
        a["subject"] for a in api.get("/api/v1/alarms/?severity=warning").json()["results"]
    ] == ["闽D1"]
    assert (
        api_for(User.objects.get(username="xiangyu")).get("/api/v1/alarms/").json()["results"] == []
    )
    assert api_for(demo.importer).get("/api/v1/alarms/").json()["results"] == []
    alarm_id = api.get("/api/v1/alarms/").json()["results"][0]["id"]
    assert api_for(demo.importer).post(f"/api/v1/alarms/{alarm_id}/acknowledge/").status_code == 404


def test_the_board_and_the_detail_page(demo):
    alarm = raise_one(demo)
    client = Client()
    client.force_login(demo.officer)

    board = client.get("/alarms/").content.decode()
    client.post(f"/alarms/{alarm.pk}/annotate/", {"note": "Truck held at the gate"})
    client.post(f"/alarms/{alarm.pk}/close/", {"outcome": "violation", "note": "Fined"})
    page = client.get(f"/alarms/{alarm.pk}/").content.decode()

    assert f'data-alarm="{alarm.pk}"' in board
    assert "Truck held at the gate" in page
    assert "Fined" in page
    assert "data-alarm" not in client.get("/alarms/?status=open").content.decode()
    outsider = Client()
    outsider.force_login(User.objects.get(username="xiangyu"))
    assert outsider.get(f"/alarms/{alarm.pk}/").status_code == 404


def test_the_alarm_topic_is_the_offices_only(transactional_db, demo):
    key = str(demo.customs.pk)

    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "alarms", "key": key})
        reply = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return reply["type"]

    assert async_to_sync(scenario)(websocket_for(demo.officer)) == "subscribed"
    assert async_to_sync(scenario)(websocket_for(User.objects.get(username="xiangyu"))) == "error"
    assert async_to_sync(scenario)(websocket_for(demo.importer)) == "error"
