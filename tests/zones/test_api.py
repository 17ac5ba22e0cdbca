import io

from asgiref.sync import async_to_sync
from django.test import Client

from port.models import User
from tests.conftest import websocket_for
from tests.zones.factories import GPU, PLATE, document, read, stock_in
from zones.models import GatePassage, Movement


def post_read(api, zone, **overrides):
    return api.post(
        "/api/v1/zones/gate-reads/", {"gate": zone.gate.pk, **read(**overrides)}, format="json"
    )


def test_an_erp_batch_files_every_document(zone, api_for):
    response = api_for(zone.co).post(
        "/api/v1/zones/movements/",
        {"documents": [document(), document(truck_plate="闽D54321")]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert [m["gate_pass"]["truck_plate"] for m in body] == [PLATE, "闽D54321"]
    assert body[0]["lines"][0]["item_no"] == "GPU-4090"


def test_a_bad_document_is_a_field_level_400_and_files_nothing(zone, api_for):
    response = api_for(zone.co).post(
        "/api/v1/zones/movements/", document(declared_weight_kg="abc", lines=[]), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["documents"]["0"]
    assert set(errors) == {"declared_weight_kg", "lines"}
    assert Movement.objects.exists() is False


def test_an_idempotency_key_replays_the_first_filing(zone, api_for):
    api = api_for(zone.co)
    first = api.post(
        "/api/v1/zones/movements/", document(), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = api.post(
        "/api/v1/zones/movements/", document(), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert again.json() == first.json()
    assert Movement.objects.count() == 1


def test_an_erp_csv_upload_is_filed_by_a_worker_and_reports_bad_rows_by_number(zone, api_for):
    from zones import services

    header = "document,kind,truck_plate,declared_weight_kg,item_no,hs_code,description,unit,quantity,value\n"
    good = f"A1,domestic_in,{PLATE},18000,GPU-4090,8473302000,Graphics cards,pcs,10,1000\n"
    bad = f"A2,domestic_in,{PLATE},18000,GPU-4090,12,Graphics cards,pcs,10,1000\n"
    api = api_for(zone.co)

    accepted = api.post(
        "/api/v1/zones/movements/upload/",
        {"file": _file(header + good + good + bad)},
        format="multipart",
    )
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"
    assert Movement.objects.exists() is False  # nothing filed in the request
    upload_id = accepted.json()["id"]
    services.zone_upload_process(upload_id=upload_id)  # what the worker runs

    report = api.get(f"/api/v1/zones/uploads/{upload_id}/").json()
    assert report["status"] == "done"
    assert report["percent"] == 100
    assert [f["document"] for f in report["filed"]] == ["A1"]  # rows 2 and 3 are its lines
    assert report["errors"][0]["document"] == "A2"
    assert report["errors"][0]["message"].startswith("Row 4, hs_code")
    assert Movement.objects.get().source == "upload"
    # Another enterprise neither sees the upload nor can watch it.
    assert api_for(zone.co2).get(f"/api/v1/zones/uploads/{upload_id}/").status_code == 404


def test_the_camera_gets_release_or_stop_with_the_reason(zone, api_for):
    api_for(zone.co).post("/api/v1/zones/movements/", document(), format="json")
    camera = api_for(zone.camera)

    released = post_read(camera, zone, read_id="r1")
    stopped = post_read(camera, zone, read_id="r2")

    assert (released.status_code, released.json()["decision"]) == (201, "release")
    assert (stopped.json()["decision"], stopped.json()["reason"]) == ("stop", "pass_used")
    assert stopped.json()["answer_ms"] > 0


def test_a_bad_read_is_a_400(zone, api_for):
    response = post_read(api_for(zone.camera), zone, weight_kg="heavy", lane=0)
    assert response.status_code == 400
    assert set(response.json()) == {"weight_kg", "lane"}
    assert GatePassage.objects.exists() is False


def test_a_zone_enterprise_never_sees_another_ones_stock_or_passes(zone, api_for):
    stock_in(zone)
    other = api_for(zone.co2)

    assert other.get("/api/v1/zones/stock/").json()["results"] == []
    assert other.get("/api/v1/zones/movements/").json()["results"] == []
    movement = Movement.objects.get()
    assert other.get(f"/api/v1/zones/movements/{movement.pk}/").status_code == 404
    assert other.get("/api/v1/zones/gate-reads/").json()["results"] == []
    # nor may it post reads
    assert post_read(other, zone).status_code == 404
    mine = api_for(zone.co).get("/api/v1/zones/stock/").json()["results"]
    assert [(s["item_no"], s["quantity"]) for s in mine] == [("GPU-4090", "100.000")]


def test_pages_are_scoped(zone):
    stock_in(zone)
    mine, other, port_officer = Client(), Client(), Client()
    mine.force_login(zone.co)
    other.force_login(zone.co2)
    port_officer.force_login(zone.demo.officer)

    assert "GPU-4090" in mine.get("/zones/").content.decode()
    assert "GPU-4090" not in other.get("/zones/").content.decode()
    assert port_officer.get("/zones/").status_code == 403
    assert port_officer.get("/zones/gate/").status_code == 403
    assert other.get("/zones/gate/").status_code == 403


def test_the_browser_form_files_one_document(zone):
    client = Client()
    client.force_login(zone.co)
    form = {
        "kind": "domestic_in",
        "truck_plate": PLATE,
        "declared_weight_kg": "18000",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        **{f"lines-0-{k}": v for k, v in GPU.items()},
    }

    bad = client.post("/zones/", {**form, "lines-0-hs_code": "123"})
    good = client.post("/zones/", form)

    assert bad.status_code == 200
    assert "10 digits" in bad.content.decode()
    assert good.status_code == 302
    assert Movement.objects.get().source == "browser"


def test_the_gate_board_shows_lanes_and_stopped_trucks(zone, api_for):
    post_read(api_for(zone.camera), zone, lane=2)
    client = Client()
    client.force_login(zone.officer)
    page = client.get("/zones/gate/").content.decode()
    assert 'data-stopped="闽D12345"' in page
    assert 'data-live-subscribe="zone_gate:' in page


def test_the_gate_topic_is_the_supervising_offices_only(transactional_db, zone):
    key = str(zone.gate.pk)

    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "zone_gate", "key": key})
        reply = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return reply["type"]

    assert async_to_sync(scenario)(websocket_for(zone.officer)) == "subscribed"
    assert async_to_sync(scenario)(websocket_for(zone.co)) == "error"
    assert async_to_sync(scenario)(websocket_for(zone.demo.officer)) == "error"


def test_a_stock_change_reaches_its_own_enterprise_only(transactional_db, zone):
    from channels.db import database_sync_to_async

    from zones import services

    def file() -> None:
        services.movement_file_many(user=zone.co, documents=[document()], source="api")

    async def scenario(mine, other):
        await mine.connect()
        await other.connect()
        await database_sync_to_async(file)()
        got = await mine.receive_json_from(timeout=5)
        nothing = await other.receive_nothing(timeout=1)
        await mine.disconnect()
        await other.disconnect()
        return got["type"], nothing

    result = async_to_sync(scenario)(websocket_for(zone.co), websocket_for(zone.co2))
    assert result == ("zones.stock_changed", True)


def _file(text: str):
    file = io.BytesIO(text.encode())
    file.name = "zone.csv"
    return file


def test_the_pages_speak_chinese(zone):
    stock_in(zone)
    client = Client()
    client.force_login(zone.co)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/zones/").content.decode()
    assert "综保区账册" in page
    assert "境内入区" in page
    errors = client.post(
        "/api/v1/zones/movements/",
        {"kind": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).json()
    assert "业务类型须为以下之一" in errors["documents"]["0"]["kind"][0]


def test_the_dashboard_counts_the_zone_gate(zone, api_for):
    from analytics import services as analytics_services

    stock_in(zone)
    post_read(api_for(zone.camera), zone)  # stopped: the pass is used
    analytics_services.rollups_consume_all()

    body = api_for(User.objects.get(username="portauth")).get("/api/v1/analytics/dashboard/").json()
    tables = {t["key"]: t for t in body["tables"]}
    counts = {r["metric"]: r["count"] for r in tables["activity"]["rows"]}
    assert (counts["zone.gate_released"], counts["zone.gate_stopped"]) == (1, 1)
    assert sum(r["count"] for r in tables["zone_gate_per_hour"]["rows"]) == 1
    assert "ms on average" in tables["zone_gate_per_hour"]["title"]


def test_the_gate_board_names_the_gate_in_the_readers_language(zone):
    client = Client()
    client.force_login(zone.officer)
    assert "<h1>Xiangyu Gate 1</h1>" in client.get("/zones/gate/").content.decode()
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/zones/gate/").content.decode()
    assert "<h1>象屿1号卡口</h1>" in page
    assert "象屿综合保税区" in page


def test_the_map_shows_the_zone_gate_and_scopes_its_trucks(zone, api_for):
    stock_in(zone, "10")  # zoneco's truck in
    post_read(api_for(zone.camera), zone, truck_plate="闽D99999")  # stopped: no pass
    port_wide = api_for(zone.officer).get("/api/v1/analytics/map/").json()
    own = api_for(zone.co).get("/api/v1/analytics/map/").json()
    other = api_for(zone.co2).get("/api/v1/analytics/map/").json()
    client = Client()
    client.force_login(zone.officer)

    page = client.get("/analytics/map/").content.decode()

    [gate] = port_wide["zones"][0]["gates"]
    assert (gate["code"], gate["in_hour"], gate["out_hour"], gate["stopped_hour"]) == (
        "G1",
        1,
        0,
        1,
    )
    assert gate["average_ms"] > 0
    assert len(gate["lane_xs"]) == 4
    assert own["zones"][0]["gates"][0]["in_hour"] == 1
    assert own["zones"][0]["gates"][0]["stopped_hour"] is None  # not an enterprise's to see
    assert other["zones"][0]["gates"][0]["in_day"] == 0
    assert 'data-zone="XYBZ"' in page
    assert 'data-zone-gate="G1"' in page
