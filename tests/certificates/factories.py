"""Application bodies and helpers for the certificate tests."""

from certificates import services

TILES = {
    "hs_code": "6907210000",
    "description": "Glazed ceramic floor tiles",
    "marks": "SUNRISE/HCM",
    "packages": "1200",
    "quantity": "18000",
    "fob_value": "600000.00",
    "origin_criterion": "WO",
    "rvc_percent": "",
    "non_originating_inputs": [],
}


def application_body(**overrides) -> dict:
    """A valid API body: Form E ceramic tiles to Vietnam that passes every check."""
    items = overrides.pop("items", None)
    body = {
        "agreement": "ACFTA",
        "importer_name": "Saigon Home Materials JSC",
        "importer_address": "12 Nguyen Hue, District 1, Ho Chi Minh City",
        "importing_country": "VN",
        "producer": "Dehua Sunrise Ceramics Factory",
        "vessel_name": "COSCO SHIPPING ARIES",
        "departure_date": "2026-11-20",
        "port_of_loading": "CNXMN",
        "port_of_discharge": "VNSGN",
        "invoice_number": "SR-2026-0815",
        "invoice_date": "2026-11-15",
        "third_party_invoicing": False,
        "back_to_back": False,
        "retroactive": False,
        "items": items if items is not None else [dict(TILES)],
    }
    body.update(overrides)
    return body


def item(**overrides) -> dict:
    return {**TILES, **overrides}


def application_input(**overrides) -> services.ApplicationInput:
    body = application_body(**overrides)
    items = [services.ItemInput(**i) for i in body.pop("items")]
    return services.ApplicationInput(items=items, **body)


def apply(user, idempotency_key: str = "", **overrides):
    return services.certificate_apply(
        user=user, application=application_input(**overrides), idempotency_key=idempotency_key
    )
