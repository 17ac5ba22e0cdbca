from ecommerce import services
from ecommerce.models import InventoryList, ListRiskRule
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel


def test_the_officers_queue_shows_selected_lists_and_releases_one(ec, client):
    ListRiskRule.objects.create(
        name="All", public_reason="Checks", action="manual", platforms=[ec.platform.pk]
    )
    services.list_rule_set_activate(officer=ec.officer)
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    client.force_login(ec.officer)
    page = client.get("/ecommerce/queue/")
    assert "L000000001" in page.content.decode()
    client.post(f"/ecommerce/queue/{listed.pk}/inspect/", {"outcome": "released"})
    assert InventoryList.objects.get().status == "released"
    client.force_login(ec.alice)
    assert client.get("/ecommerce/queue/").status_code == 404
    assert (
        client.post(f"/ecommerce/queue/{listed.pk}/inspect/", {"outcome": "sent_back"}).status_code
        == 404
    )
    assert InventoryList.objects.get().status == "released"


def test_the_board_shows_the_last_minutes_in_english_and_chinese(ec, client):
    file_parcels(ec, [parcel(1), parcel(2)])
    client.force_login(ec.officer)
    english = client.get("/ecommerce/board/").content.decode()
    assert "Double 11 board" in english
    assert 'data-stat="lists">2<' in english
    chinese = client.get(
        "/ecommerce/board/", headers={"accept-language": "zh-hans"}
    ).content.decode()
    assert "双11" in chinese
    client.force_login(ec.alice)
    assert client.get("/ecommerce/board/").status_code == 404
