import pytest

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
