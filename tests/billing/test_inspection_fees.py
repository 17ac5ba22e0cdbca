"""Inspection fees: borne by the government for compliant goods, billed to the enterprise
when the inspection found a problem; on the bill and in the government-borne total."""

import pytest

from billing import services
from billing.models import InspectionFee, TaxBill
from declarations.models import Declaration
from inspection import assessment
from inspection import services as inspection_services
from tests.conftest import MEAT_ITEM, filing


@pytest.fixture
def inspected(demo, api_for):
    """A meat import (two containers selected for quarantine inspection), inspected: the
    first conforms, the second does not; both released, so the declaration is released."""
    created = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json"
    )
    declaration_id = created.json()["id"]
    assessment.assess_declarations(declaration_ids=[declaration_id])
    for number, result in (("COSU6123451", "conforming"), ("CSNU8011228", "nonconforming")):
        ticket = inspection_services.inspection_report_arrival(
            user=demo.terminal, container_number=number
        )
        called = inspection_services.inspection_call_next(
            area_id=ticket.area_id, officer=demo.officer
        )
        inspection_services.inspection_start(inspection_id=called.pk, officer=demo.officer)
        inspection_services.inspection_record(
            inspection_id=called.pk, officer=demo.officer, result=result
        )
        inspection_services.inspection_finish(
            inspection_id=called.pk, officer=demo.officer, status="released"
        )
    declaration = Declaration.objects.get(pk=declaration_id)
    assert declaration.status == Declaration.Status.RELEASED
    return declaration


def test_the_government_bears_the_fee_of_compliant_goods_and_the_enterprise_the_other(
    demo, inspected
):
    (bill,) = services.bills_make()
    fees = {fee.container: fee for fee in bill.fees.all()}
    assert (fees["COSU6123451"].borne_by, fees["COSU6123451"].amount_cents) == (
        "government",
        80_000,
    )
    assert (fees["CSNU8011228"].borne_by, fees["CSNU8011228"].amount_cents) == (
        "enterprise",
        80_000,
    )
    assert (bill.fees_cents, bill.fees_waived_cents) == (80_000, 80_000)
    taxes = bill.tariff_cents + bill.consumption_cents + bill.vat_cents
    assert bill.total_cents == taxes + 80_000  # the waived fee is not in the total
    assert services.bills_make() == []
    assert InspectionFee.objects.count() == 2


def test_fees_by_kind_of_inspection():
    rows = [
        {"pk": 1, "container": "A", "outcome": "scan", "result": "conforming"},
        {"pk": 2, "container": "B", "outcome": "manual", "result": "nonconforming"},
    ]
    scan, manual = services.inspection_fees(rows)
    assert (scan.amount_cents, scan.borne_by) == (30_000, "government")
    assert (manual.amount_cents, manual.borne_by) == (80_000, "enterprise")


def test_the_government_borne_total_is_the_enterprise_own(demo, inspected, api_for, client):
    services.bills_make()
    mine = api_for(demo.importer).get("/api/v1/bills/fees/").json()
    assert mine == {
        "currency": "CNY",
        "waived_cents": 80_000,
        "waived_count": 1,
        "charged_cents": 80_000,
        "charged_count": 1,
    }
    theirs = api_for(demo.exporter).get("/api/v1/bills/fees/").json()
    assert (theirs["waived_cents"], theirs["charged_cents"]) == (0, 0)
    bill = TaxBill.objects.get()
    detail = api_for(demo.importer).get(f"/api/v1/bills/{bill.pk}/").json()
    assert sorted(fee["borne_by"] for fee in detail["fees"]) == ["enterprise", "government"]
    assert api_for(demo.exporter).get(f"/api/v1/bills/{bill.pk}/").status_code == 404
    client.force_login(demo.importer)
    page = client.get("/billing/").content.decode()
    assert "Borne by the government for your compliant goods" in page
    assert "800.00" in page
    shown = client.get(f"/billing/{bill.pk}/").content.decode()
    assert "Inspection fees (the inspection found a problem)" in shown
    client.force_login(demo.exporter)
    assert client.get(f"/billing/{bill.pk}/").status_code == 404
