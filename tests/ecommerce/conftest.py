import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from ecommerce import decision, intake
from tests.ecommerce import factories


@pytest.fixture
def ec(db):
    return factories.world()


def file(kind: str, organisation, items, key: str = "") -> intake.BatchResult:
    return intake.batch_file(
        kind=kind, organisation_id=organisation.pk, items=items, idempotency_key=key
    )


def file_and_decide(kind: str, organisation, items) -> intake.BatchResult:
    result = file(kind, organisation, items)
    decision.batch_decide(batch_id=result.batch_id)
    return result


def file_parcels(ec, parcels, kinds=("order", "payment", "waybill", "list")):
    """File each kind of document of `parcels` as one batch, deciding after each."""
    filer = {
        "order": ec.platform,
        "payment": ec.payment,
        "waybill": ec.logistics,
        "list": ec.declarant,
    }
    for kind in kinds:
        file_and_decide(kind, filer[kind], [p[kind] for p in parcels])


def decide_each_in_its_own_request(ec, parcels) -> list[int]:
    """Each parcel's list arrives at the same instant in a request of its own and is decided in
    its own transaction (real threads, real connections); returns each decision's count."""
    barrier, outcomes = threading.Barrier(len(parcels)), []

    def one_request(item):
        try:
            api = APIClient()
            api.force_authenticate(ec.alice)
            barrier.wait()
            batch = api.post(
                "/api/v1/ecommerce/lists/batch/", {"lists": [item]}, format="json"
            ).json()["batch"]
            outcomes.append(decision.batch_decide(batch_id=batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request, args=(p["list"],)) for p in parcels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
