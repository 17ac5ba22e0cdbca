"""An exit to the domestic market carries what a declaration carries: the preferential rate
of a valid certificate of origin, consumption tax and import VAT at the rates in force, by
the same arithmetic as a tax bill (reference.duties, billing.services.bill_lines)."""

import ast
import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import billing
import reference
import zones
from billing import services as billing_services
from reference import formats
from reference import services as reference_services
from tests.zones.factories import document, read
from zones import duty, services
from zones.models import Movement

TARIFF = Path(reference.__file__).parent / "data" / "tariff_demo.csv"
LIPSTICK = {
    "item_no": "LIP-1",
    "hs_code": "3304100000",  # lip make-up: 15 % consumption tax
    "description": "Lipsticks",
    "unit": "pcs",
    "quantity": "1000",
    "value": "250000.00",
}
TILES = {
    "item_no": "TILE-1",
    "hs_code": "6907210000",  # demo tariff 6907: MFN 30 %, ACFTA 0 %
    "description": "Glazed ceramic floor tiles",
    "unit": "m2",
    "quantity": "500",
    "value": "40000.00",
}


@pytest.fixture
def cosmetics_tariff(tmp_path):
    """The demo tariff with a line for cosmetics (3304, MFN 10 %), in force since 2023."""
    path = tmp_path / "tariff.csv"
    path.write_text(
        TARIFF.read_text() + '3304,"Beauty or make-up preparations (DEMO RATES)",kg,10,150,5,8\n'
    )
    reference_services.edition_load(
        dataset="tariff",
        name="Demo tariff 2023 with cosmetics",
        effective_from=datetime.date(2023, 1, 1),
        rows=formats.read_tariff(path).rows,
    )


def entered(zone, line: dict) -> None:
    movement = services.movement_file_many(
        user=zone.co, documents=[document(lines=[line])], source="api"
    )[0]
    passage = services.gate_read(
        user=zone.camera,
        gate_id=zone.gate.pk,
        read=read(truck_plate=movement.gate_pass.truck_plate),
    )
    assert passage.decision == "release"


def exit_of(zone, *lines: dict, **overrides) -> Movement:
    doc = document("domestic_out", duty_amount="", lines=list(lines), **overrides)
    return services.movement_file_many(user=zone.co, documents=[doc], source="api")[0]


def test_an_exit_of_cosmetics_carries_duty_consumption_tax_and_vat_as_a_bill_would(
    zone, cosmetics_tariff
):
    entered(zone, LIPSTICK)

    movement = exit_of(zone, dict(LIPSTICK, quantity="400", value="100000.00"))

    line = movement.lines.get()
    # Duty 10 %: 10,000; consumption 15 % on (100,000 + 10,000) / 0.85 = 19,411.76;
    # VAT 13 % on 100,000 + 10,000 + 19,411.76 = 16,823.53.
    assert (line.duty_rate, line.preferential, line.duty) == (
        Decimal("0.1000"),
        False,
        Decimal("10000.00"),
    )
    assert (line.consumption_rate, line.consumption_tax) == (
        Decimal("0.1500"),
        Decimal("19411.76"),
    )
    assert (line.vat_rate, line.vat) == (Decimal("0.1300"), Decimal("16823.53"))
    assert (movement.duty_amount, movement.consumption_tax_amount, movement.vat_amount) == (
        Decimal("10000.00"),
        Decimal("19411.76"),
        Decimal("16823.53"),
    )
    assert movement.tax_total == Decimal("46235.29")
    # The same line billed as a declaration's: the same figures, cent for cent.
    [billed] = billing_services.bill_lines(
        [
            {
                "line_number": 1,
                "hs_code": LIPSTICK["hs_code"],
                "description": "Lipsticks",
                "value": "100000.00",
                "mfn_rate": "0.10",
                "preferential_rate": None,
            }
        ]
    )
    assert billed.tariff_cents + billed.consumption_cents + billed.vat_cents == 4_623_529
    assert (billed.consumption_cents, billed.vat_cents) == (1_941_176, 1_682_353)


def test_a_valid_certificate_of_origin_gives_the_preferential_rate_on_exit(zone):
    from tests.certificates.factories import apply

    certificate = apply(zone.demo.exporter)
    certificate.refresh_from_db()
    assert certificate.status == "issued"  # Form E, ACFTA
    entered(zone, TILES)

    movement = exit_of(
        zone,
        dict(TILES, quantity="100", value="8000.00", certificate_number=certificate.number),
        dict(TILES, quantity="100", value="8000.00"),
    )

    preferential, mfn = movement.lines.order_by("pk")
    assert (preferential.duty_rate, preferential.preferential, preferential.duty) == (
        Decimal("0.0000"),
        True,
        Decimal("0.00"),
    )
    assert preferential.certificate_number == certificate.number
    assert (mfn.duty_rate, mfn.preferential, mfn.duty) == (
        Decimal("0.3000"),
        False,
        Decimal("2400.00"),
    )
    assert (preferential.vat, mfn.vat) == (Decimal("1040.00"), Decimal("1352.00"))
    assert (preferential.consumption_tax, mfn.consumption_tax) == (Decimal("0.00"), Decimal("0.00"))
    assert movement.tax_total == Decimal("4792.00")  # 2,400 + 1,040 + 1,352


def test_a_certificate_that_is_not_valid_is_a_field_error_and_files_nothing(zone, api_for):
    entered(zone, TILES)
    body = document(
        "domestic_out",
        lines=[dict(TILES, quantity="10", value="800.00", certificate_number="E26999999999")],
    )

    response = api_for(zone.co).post("/api/v1/zones/movements/", body, format="json")

    assert response.status_code == 400
    assert "E26999999999" in str(
        response.json()["documents"]["0"]["lines"]["0"]["certificate_number"]
    )
    assert Movement.objects.filter(kind="domestic_out").exists() is False


def test_vat_is_the_rate_in_force_on_the_day_of_filing(db):
    docs = [
        {
            "kind": "domestic_out",
            "duty_amount": Decimal(0),
            "duty_given": False,
            "lines": [
                dict(TILES, value=Decimal("1000.00"), certificate_number=""),
                {
                    "item_no": "BEEF-1",
                    "hs_code": "0202300090",  # frozen beef: reduced VAT
                    "description": "Frozen beef",
                    "unit": "kg",
                    "quantity": Decimal(10),
                    "value": Decimal("1000.00"),
                    "certificate_number": "",
                },
            ],
        }
    ]

    assert duty.apply(docs, on=datetime.date(2019, 3, 31)) == {}
    tiles, beef = docs[0]["lines"]
    assert (tiles["vat_rate"], beef["vat_rate"]) == (Decimal("0.16"), Decimal("0.10"))
    assert tiles["vat"] == Decimal("208.00")  # (1,000 + 300) * 16 %

    duty.apply(docs, on=datetime.date(2019, 4, 1))
    assert (docs[0]["lines"][0]["vat_rate"], docs[0]["lines"][1]["vat_rate"]) == (
        Decimal("0.13"),
        Decimal("0.09"),
    )


def test_the_api_and_the_movement_page_show_each_tax(zone, cosmetics_tariff, api_for, client):
    entered(zone, LIPSTICK)
    movement = exit_of(zone, dict(LIPSTICK, quantity="400", value="100000.00"))

    body = api_for(zone.co).get(f"/api/v1/zones/movements/{movement.pk}/").json()
    client.force_login(zone.co)
    page = client.get(f"/zones/movements/{movement.pk}/").content.decode()
    account = client.get("/zones/").content.decode()

    assert (body["consumption_tax_amount"], body["vat_amount"], body["tax_total"]) == (
        "19411.76",
        "16823.53",
        "46235.29",
    )
    assert (body["lines"][0]["consumption_tax"], body["lines"][0]["vat_rate"]) == (
        "19411.76",
        "0.1300",
    )
    assert 'data-tax-total="46235.29"' in page
    assert 'data-consumption="19411.76"' in page
    assert 'data-tax-total="46235.29"' in account


def _imports(package) -> set[str]:
    root = Path(package.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_billing_and_zones_share_the_arithmetic_without_importing_each_other():
    assert "billing" not in _imports(zones)
    assert "zones" not in _imports(billing)
    apps = {"alarms", "analytics", "billing", "certificates", "declarations", "ecommerce"}
    apps |= {"inspection", "notifications", "shipping", "zones"}
    assert _imports(reference) & apps == set()
