"""The REST API: drafts, transitions, filters, the batch endpoint."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from declarations.models import Declaration
from port.models import TimelineEvent
from tests.conftest import MEAT_ITEM, container_number, filing

URL = "/api/v1/declarations/"


def body(demo, n: int, **overrides) -> dict:
    fields = {"bl_number": f"APIBL{n:05d}", "containers": [container_number(900 + n)]}
    return filing(demo.port_call.pk, **{**fields, **overrides})


def test_a_draft_is_created_updated_and_submitted(demo, api_for):
    client = api_for(demo.importer)

    draft = client.post(URL, body(demo, 1, draft=True), format="json").json()
    updated = client.put(
        f"{URL}{draft['id']}/", body(demo, 1, items=[MEAT_ITEM], currency="AUD"), format="json"
    )
    submitted = client.post(f"{URL}{draft['id']}/submit/")

    assert (draft["status"], draft["number"]) == ("draft", None)
    assert updated.status_code == 200
    assert updated.json()["currency"] == "AUD"
    assert updated.json()["items"][0]["hs_code"] == MEAT_ITEM["hs_code"]
    assert submitted.json()["status"] == "submitted"
    assert len(submitted.json()["number"]) == 18


def test_update_of_a_submitted_declaration_is_409_and_changes_nothing(demo, api_for):
    client = api_for(demo.importer)
    created = client.post(URL, body(demo, 2), format="json").json()

    response = client.put(
        f"{URL}{created['id']}/", body(demo, 2, bl_number="NEWBL0001"), format="json"
    )

    assert response.status_code == 409
    assert Declaration.objects.get().bl_number == "APIBL00002"


def test_amend_and_withdraw_actions_record_reasons(demo, api_for):
    client = api_for(demo.importer)
    created = client.post(URL, body(demo, 3), format="json").json()

    amended = client.post(
        f"{URL}{created['id']}/amend/",
        {**body(demo, 3, incoterm="FOB"), "reason": "Incoterm was missing"},
        format="json",
    )
    refused = client.post(f"{URL}{created['id']}/withdraw/", {"reason": ""}, format="json")
    withdrawn = client.post(
        f"{URL}{created['id']}/withdraw/", {"reason": "Sold in transit"}, format="json"
    )

    assert amended.json()["status"] == "amended"
    assert amended.json()["incoterm"] == "FOB"
    assert refused.status_code == 400
    assert refused.json() == {"reason": ["Give the reason for the withdrawal."]}
    assert withdrawn.json()["status"] == "withdrawn"
    reasons = [
        e.data.get("reason")
        for e in TimelineEvent.objects.filter(kind="declaration.status_changed").order_by("id")
    ]
    assert reasons == [None, "Incoterm was missing", "Sold in transit"]


def test_transitions_on_another_enterprises_declaration_are_404(demo, api_for):
    created = api_for(demo.importer).post(URL, body(demo, 4), format="json").json()

    response = api_for(demo.exporter).post(
        f"{URL}{created['id']}/withdraw/", {"reason": "mine now"}, format="json"
    )

    assert response.status_code == 404
    assert Declaration.objects.get().status == "submitted"


def test_a_broker_cannot_file_for_an_enterprise_that_did_not_authorise_it(demo, api_for):
    from port.models import BrokerAuthorisation

    BrokerAuthorisation.objects.filter(enterprise=demo.exporter_org).delete()

    response = api_for(demo.broker).post(
        URL, body(demo, 5, enterprise=demo.exporter_org.pk), format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"enterprise": ["You may not file for this enterprise."]}
    assert Declaration.objects.exists() is False


def test_list_filters_by_commodity_code_enterprise_bl_and_date(demo, api_for):
    client = api_for(demo.broker)
    client.post(
        URL, body(demo, 6, enterprise=demo.importer_org.pk, items=[MEAT_ITEM]), format="json"
    )
    client.post(URL, body(demo, 7, enterprise=demo.exporter_org.pk), format="json")

    def numbers(**params):
        return sorted(d["bl_number"] for d in client.get(URL, params).json()["results"])

    assert numbers(hs_code="0202") == ["APIBL00006"]
    assert numbers(enterprise=demo.exporter_org.pk) == ["APIBL00007"]
    assert numbers(bl_number="apibl00007") == ["APIBL00007"]
    assert numbers(filed_after="2000-01-01T00:00:00Z") == ["APIBL00006", "APIBL00007"]
    assert numbers(filed_before="2000-01-01T00:00:00Z") == []
    assert numbers(kind="summary") == []


def test_batch_files_the_good_and_reports_the_bad_by_index(demo, api_for):
    client = api_for(demo.importer)
    batch = {
        "declarations": [
            body(demo, 10),
            body(demo, 11, containers=["COSU6123452"]),
            body(demo, 12, draft=True),
        ]
    }

    response = client.post(f"{URL}batch/", batch, format="json")

    result = response.json()
    assert response.status_code == 200
    assert (result["filed"], result["refused"]) == (2, 1)
    assert result["results"][1] == {
        "index": 1,
        "reference": "",
        "id": None,
        "number": None,
        "status": None,
        "errors": {"containers": ["COSU6123452: the check digit is wrong (ISO 6346)."]},
    }
    assert result["results"][0]["status"] == "submitted"
    assert result["results"][2]["status"] == "draft"
    assert Declaration.objects.count() == 2


def test_batch_reports_a_malformed_declaration_by_index_and_files_the_rest(demo, api_for):
    response = api_for(demo.importer).post(
        f"{URL}batch/", {"declarations": [{"bl_number": "X"}, body(demo, 13)]}, format="json"
    )

    result = response.json()
    assert response.status_code == 200
    assert (result["filed"], result["refused"]) == (1, 1)
    assert "port_call" in result["results"][0]["errors"]
    assert Declaration.objects.get().bl_number == "APIBL00013"


def test_batch_that_is_not_a_list_is_400_and_files_nothing(demo, api_for):
    client = api_for(demo.importer)

    answers = [
        client.post(f"{URL}batch/", {"declarations": {"0": body(demo, 14)}}, format="json"),
        client.post(f"{URL}batch/", {"declarations": []}, format="json"),
        client.post(f"{URL}batch/", {"declarations": [{}] * 5001}, format="json"),
    ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert Declaration.objects.exists() is False


def test_filtered_list_query_count_does_not_grow_with_rows(demo, api_for):
    client = api_for(demo.importer)

    def count_for(n: int) -> int:
        assert client.post(URL, body(demo, 20 + n), format="json").status_code == 201
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"hs_code": "6907"}).json()["count"] == n + 1
        return len(queries)

    counts = [count_for(n) for n in range(4)]

    assert counts == [counts[0]] * 4
