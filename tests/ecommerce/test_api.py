import pytest

from ecommerce import decision
from ecommerce.models import Batch, InventoryList, ListLine, Order
from tests.conftest import queued
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel

S = InventoryList.Status


def post(api_for, user, kind, items, **headers):
    return api_for(user).post(
        f"/api/v1/ecommerce/{kind}s/batch/", {f"{kind}s": items}, format="json", headers=headers
    )


def test_a_batch_with_bad_items_files_the_good_ones_and_names_each_bad_one(ec, api_for):
    good, bad_id, bad_line = parcel(1)["list"], parcel(2)["list"], parcel(3)["list"]
    bad_id["buyer_id"] = "110105197001010012"  # wrong check digit
    bad_line["goods"][0]["hs_code"] = "33049"
    bad_line["goods"][0]["unit_price"] = "1.234"
    response = post(api_for, ec.alice, "list", [good, bad_id, bad_line, "nonsense"])
    assert response.status_code == 201
    body = response.json()
    assert (body["submitted"], body["filed"]) == (4, 1)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "buyer_id"),
        (2, "goods[0].hs_code"),
        (2, "goods[0].unit_price"),
        (3, ""),
    ]
    assert "110105197001010012" not in response.content.decode()
    assert list(InventoryList.objects.values_list("list_no", flat=True)) == ["L000000001"]
    assert ListLine.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [{"lists": []}, {"lists": "x"}, {"other": [1]}, {"lists": [{}] * 5001}, [1, 2]],
)
def test_a_malformed_batch_is_refused_and_writes_nothing(ec, api_for, payload):
    response = api_for(ec.alice).post("/api/v1/ecommerce/lists/batch/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["filed"] == 0
    assert (Batch.objects.count(), InventoryList.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b'{"lists": [',  # cut short
        b'{"lists": [{"freight": NaN}]}',  # not JSON
        b'{"lists": [' + b"[" * 40 + b"]" * 40 + b"]}",  # nests past docs/api-limits.md
        b'{"lists": ["\xff"]}',  # not UTF-8
    ],
)
def test_a_body_that_is_not_acceptable_json_is_a_json_400_and_writes_nothing(ec, api_for, body):
    response = api_for(ec.alice).post(
        "/api/v1/ecommerce/lists/batch/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()
    assert Batch.objects.count() == 0


def test_a_batch_of_only_bad_items_is_refused_and_writes_nothing(ec, api_for):
    bad = parcel(1)["order"]
    bad["platform"] = "NOPE"
    response = post(api_for, ec.platform_user, "order", [bad])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "platform", "message": "No E-commerce platform with this code."}
    ]
    assert Order.objects.exists() is False


def test_numbers_filed_before_or_twice_in_a_batch_are_refused(ec, api_for):
    post(api_for, ec.platform_user, "order", [parcel(1)["order"]])
    response = post(
        api_for,
        ec.platform_user,
        "order",
        [parcel(1)["order"], parcel(2)["order"], parcel(2)["order"]],
    )
    assert [(e["index"], e["field"], e["message"]) for e in response.json()["errors"]] == [
        (0, "order_no", "Already filed."),
        (2, "order_no", "Twice in this batch."),
    ]
    assert Order.objects.count() == 2


def test_a_repeated_batch_with_its_idempotency_key_returns_the_first_answer(ec, api_for):
    first = post(
        api_for, ec.platform_user, "order", [parcel(1)["order"]], **{"Idempotency-Key": "b-1"}
    )
    again = post(
        api_for, ec.platform_user, "order", [parcel(1)["order"]], **{"Idempotency-Key": "b-1"}
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (Batch.objects.count(), Order.objects.count()) == (1, 1)


def test_only_a_declaring_enterprise_files_lists(ec, api_for):
    assert post(api_for, ec.platform_user, "list", [parcel(1)["list"]]).status_code == 403
    assert post(api_for, ec.charlie, "order", [parcel(1)["order"]]).status_code == 403
    assert InventoryList.objects.exists() is False


def test_a_platform_files_only_its_own_orders(ec, api_for):
    other_platform_order = parcel(1)["order"]
    response = post(api_for, ec.enterprise_user, "order", [other_platform_order])
    assert response.status_code == 403


def test_a_list_is_seen_by_its_declarant_and_platform_only(ec, api_for, client):
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    for user, seen in [
        (ec.alice, True),
        (ec.platform_user, True),
        (ec.officer, True),
        (ec.bob, False),
        (ec.charlie, False),
        (ec.logistics_user, False),
    ]:
        api = api_for(user)
        assert api.get(f"/api/v1/ecommerce/lists/{listed.pk}/").status_code == (
            200 if seen else 404
        )
        assert len(api.get("/api/v1/ecommerce/lists/").json()["results"]) == (1 if seen else 0)
        client.force_login(user)
        page = client.get("/ecommerce/lists/")
        assert (page.status_code == 200 and "L000000001" in page.content.decode()) is seen
    body = api_for(ec.alice).get(f"/api/v1/ecommerce/lists/{listed.pk}/").json()
    assert body["buyer_id_masked"] == "1101**********0011"
    assert parcel(1)["list"]["buyer_id"] not in str(body)


def test_the_sorting_line_answers_for_each_kind_of_parcel(ec, api_for):
    from ecommerce import services
    from ecommerce.models import ListRiskRule

    ListRiskRule.objects.create(
        name="Milk", public_reason="Milk powder checks", action="scan", categories=["milk powder"]
    )
    services.list_rule_set_activate(officer=ec.officer)
    released, selected, waiting = parcel(1), parcel(2, hs_code="1901100000"), parcel(3)
    file_parcels(ec, [released, selected])
    file_parcels(ec, [waiting], kinds=("list",))
    line = api_for(ec.operator)
    answers = {
        number: line.post(f"/api/v1/ecommerce/sorting/{number}/").json()["instruction"]
        for number in ["W000000001", "W000000002", "W000000003", "W999"]
    }
    assert answers == {
        "W000000001": "release",
        "W000000002": "inspection",
        "W000000003": "not_decided",
        "W999": "not_declared",
    }
    assert api_for(ec.charlie).get("/api/v1/ecommerce/sorting/W000000001/").status_code == 404


def test_officers_release_an_inspected_parcel_and_others_cannot(ec, api_for):
    from ecommerce import services
    from ecommerce.models import ListRiskRule

    ListRiskRule.objects.create(
        name="All", public_reason="Checks", action="manual", platforms=[ec.platform.pk]
    )
    services.list_rule_set_activate(officer=ec.officer)
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    assert listed.status == S.SELECTED
    url = f"/api/v1/ecommerce/lists/{listed.pk}/inspect/"
    assert api_for(ec.alice).post(url, {"outcome": "released"}, format="json").status_code == 404
    assert InventoryList.objects.get().status == S.SELECTED
    response = api_for(ec.officer).post(url, {"outcome": "released"}, format="json")
    assert response.json()["status"] == "released"
    again = api_for(ec.officer).post(url, {"outcome": "held"}, format="json")
    assert again.status_code == 409


def test_the_batch_task_decides_through_the_outbox(ec, api_for):
    post(api_for, ec.alice, "list", [parcel(1)["list"]])
    batch_id = Batch.objects.get().pk
    assert queued("ecommerce.tasks.batch_decide_task") == [
        ("ecommerce.tasks.batch_decide_task", {"batch_id": batch_id})
    ]
    assert decision.batch_decide(batch_id=Batch.objects.get().pk) == 0  # nothing complete yet
