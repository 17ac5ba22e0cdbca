"""Filings for the declarations tests, built through the one filing service."""

from declarations import services
from tests.conftest import MEAT_ITEM, container_number

TILES = {
    "hs_code": "6907210000",
    "description": "Glazed ceramic floor tiles",
    "quantity": "18000",
    "unit": "m2",
    "value": "412000.00",
    "origin_country": "CN",
}
_serial = iter(range(500_000, 999_999))


def filing_input(demo, *, items=(TILES,), header=None, containers=None, **overrides):
    fields = {
        "enterprise_id": None,
        "port_call_id": demo.port_call.pk,
        "bl_number": f"COSU{next(_serial):010d}",
        "container_numbers": containers or [container_number(next(_serial))],
        "items": [services.ItemInput(**item) for item in items],
        "header": services.HeaderInput(**(header or {})),
        **overrides,
    }
    return services.FilingInput(**fields)


def file(demo, user=None, *, submit=True, idempotency_key="", **kwargs):
    return services.declaration_file_input(
        user=user or demo.importer,
        filing=filing_input(demo, **kwargs),
        submit=submit,
        idempotency_key=idempotency_key,
    )


__all__ = ["MEAT_ITEM", "TILES", "file", "filing_input"]
