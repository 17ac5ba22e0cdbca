"""Header fields, cross-field rules, drafts, amendment and withdrawal."""

from decimal import Decimal

import pytest

from declarations import services
from declarations.models import Declaration, DeclarationItem
from inspection import assessment
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import TimelineEvent
from tests.conftest import queued
from tests.declarations.factories import MEAT_ITEM, TILES, file, filing_input

HEADER = {
    "port_of_loading": "AUMEL",
    "trading_country": "AU",
    "currency": "USD",
    "incoterm": "CIF",
    "invoice_total": "412000.00",
    "packages": "40",
    "gross_weight": "25000",
    "net_weight": "24000",
}


def test_full_header_is_kept_and_the_discharge_port_defaults_to_this_port(demo):
    declaration = file(demo, header=HEADER)

    declaration.refresh_from_db()
    assert (declaration.port_of_loading, declaration.port_of_discharge) == ("AUMEL", "CNXMN")
    assert (declaration.currency, declaration.incoterm) == ("USD", "CIF")
    assert declaration.invoice_total == Decimal("412000.00")
    assert (declaration.packages, declaration.net_weight) == (40, Decimal("24000"))


@pytest.mark.parametrize(
    ("header", "field", "message"),
    [
        ({"net_weight": "25001"}, "net_weight", "The net weight is above the gross weight."),
        (
            {"invoice_total": "400000"},
            "invoice_total",
            "The items add up to 412000.00, not the invoice total 400000.",
        ),
        ({"currency": "XYZ"}, "currency", "XYZ is not an ISO 4217 currency code."),
        (
            {"incoterm": "FOT"},
            "incoterm",
            "FOT is not an Incoterms 2020 rule (EXW, FCA, CPT, CIP, DAP, DPU, DDP, FAS, FOB, CFR, CIF).",
        ),
        (
            {"port_of_loading": "XXABC"},
            "port_of_loading",
            "XXABC is not a UN/LOCODE (country code and three characters).",
        ),
        (
            {"port_of_loading": "CNXMN"},
            "port_of_discharge",
            "The port of discharge is the port of loading.",
        ),
        ({"trading_country": "QQ"}, "trading_country", "QQ is not an ISO 3166 country code."),
        ({"packages": "0"}, "packages", "The number of packages is a whole number above zero."),
        ({"trade_mode": "9999"}, "trade_mode", "Choose a trade mode from the list."),
    ],
)
def test_bad_header_names_its_field_and_writes_nothing(demo, header, field, message):
    with pytest.raises(InvalidInput) as refused:
        file(demo, header={**HEADER, **header})

    assert refused.value.errors[field] == [message]
    assert Declaration.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        (
            {"cas_number": "67-64-2"},
            "cas_number",
            "67-64-2 is not a CAS number (check digit or format is wrong).",
        ),
        (
            {"unit_price": "20", "quantity": "18000"},
            "value",
            "Quantity × unit price is 360000.00, not 412000.00.",
        ),
        (
            {"certificate_number": "E26999999999"},
            "certificate_number",
            "E26999999999 is not a valid, issued certificate of origin.",
        ),
    ],
)
def test_bad_item_detail_names_the_line_and_field(demo, item, field, message):
    with pytest.raises(InvalidInput) as refused:
        file(demo, items=[TILES, {**TILES, **item}])

    assert refused.value.errors == {"items": {"1": {field: [message]}}}
    assert Declaration.objects.exists() is False


def test_a_container_on_another_open_declaration_is_refused(demo):
    first = file(demo)
    number = first.containers.get().number

    with pytest.raises(InvalidInput) as refused:
        file(demo, containers=[number])

    assert refused.value.errors == {
        "containers": [f"{number} is on open declaration {first.number}."]
    }
    assert Declaration.objects.count() == 1


def test_a_withdrawn_declaration_frees_its_containers(demo):
    first = file(demo)
    services.declaration_withdraw(
        declaration_id=first.pk, user=demo.importer, reason="Wrong vessel"
    )

    second = file(demo, containers=[first.containers.get().number])

    assert second.status == Declaration.Status.SUBMITTED


def test_valid_cas_number_and_unit_price_are_kept(demo):  # water: a CAS the table does not classify
    item = {**TILES, "cas_number": "7732-18-5", "unit_price": "22.8888888", "value": "412000.00"}

    declaration = file(demo, items=[item])

    saved = DeclarationItem.objects.get(declaration=declaration)
    assert saved.cas_number == "7732-18-5"
    assert saved.unit_price == Decimal("22.8889")


def test_duty_estimate_uses_the_mfn_rate_from_the_tariff_table(demo):
    declaration = file(demo, items=[TILES, MEAT_ITEM])

    tiles, beef = DeclarationItem.objects.filter(declaration=declaration).order_by("line_number")
    assert (tiles.mfn_rate, tiles.duty_estimate) == (Decimal("0.3000"), Decimal("123600.00"))
    assert (beef.mfn_rate, beef.duty_estimate) == (Decimal("0.2000"), Decimal("192000.00"))
    assert tiles.preferential_rate is None


def test_a_draft_has_no_number_and_queues_nothing(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        draft = file(demo, submit=False)

    draft.refresh_from_db()
    assert (draft.status, draft.number) == (Declaration.Status.DRAFT, None)
    assert callbacks == []
    assert list(TimelineEvent.objects.values_list("kind", flat=True)) == ["declaration.filed"]


def test_a_draft_is_edited_then_submitted(demo, django_capture_on_commit_callbacks):
    draft = file(demo, submit=False)

    services.declaration_update(
        declaration_id=draft.pk,
        user=demo.importer,
        filing=filing_input(demo, items=[MEAT_ITEM], bl_number="EDITED0001"),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.declaration_submit(declaration=draft, user=demo.importer)

    draft.refresh_from_db()
    assert draft.bl_number == "EDITED0001"
    assert draft.items.get().hs_code == MEAT_ITEM["hs_code"]
    assert draft.status == Declaration.Status.SUBMITTED
    assert len(callbacks) == 1  # the live push; the assessment is an outbox row
    assert queued() == [(services.ASSESS_TASK, {"declaration_ids": [draft.pk]})]
    assert TimelineEvent.objects.filter(kind="declaration.updated").count() == 1


def test_a_submitted_declaration_cannot_be_edited_as_a_draft(demo):
    declaration = file(demo)

    with pytest.raises(TransitionNotAllowed):
        services.declaration_update(
            declaration_id=declaration.pk, user=demo.importer, filing=filing_input(demo)
        )
    assert declaration.items.get().hs_code == TILES["hs_code"]


def test_amend_records_the_reason_and_queues_assessment(demo, django_capture_on_commit_callbacks):
    declaration = file(demo)
    containers = [declaration.containers.get().number]
    amended = filing_input(
        demo, containers=containers, items=[{**TILES, "quantity": "17000", "value": "389000"}]
    )

    with django_capture_on_commit_callbacks() as callbacks:
        services.declaration_amend(
            declaration_id=declaration.pk,
            user=demo.importer,
            filing=amended,
            reason="Short shipped: 1,000 m2 fewer",
        )

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.AMENDED
    assert declaration.items.get().quantity == Decimal("17000")
    event = TimelineEvent.objects.filter(kind="declaration.status_changed").last()
    assert event.data == {
        "from": "submitted",
        "to": "amended",
        "reason": "Short shipped: 1,000 m2 fewer",
    }
    assert event.actor == demo.importer
    assert len(callbacks) == 1  # the live push
    assert queued()[-1] == (services.ASSESS_TASK, {"declaration_ids": [declaration.pk]})
    assessment.assess_declarations(declaration_ids=[declaration.pk])
    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.RELEASED


def test_amend_without_reason_changes_nothing(demo):
    declaration = file(demo)
    before = TimelineEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        services.declaration_amend(
            declaration_id=declaration.pk,
            user=demo.importer,
            filing=filing_input(demo, containers=[declaration.containers.get().number]),
            reason=" ",
        )

    assert refused.value.errors == {"reason": ["Give the reason for the amendment."]}
    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.SUBMITTED
    assert TimelineEvent.objects.count() == before


def test_a_released_declaration_cannot_be_amended_or_withdrawn(demo):
    declaration = file(demo)
    assessment.assess_declarations(declaration_ids=[declaration.pk])
    before = TimelineEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        services.declaration_amend(
            declaration_id=declaration.pk,
            user=demo.importer,
            filing=filing_input(demo, containers=[declaration.containers.get().number]),
            reason="Too late",
        )
    with pytest.raises(TransitionNotAllowed):
        services.declaration_withdraw(declaration_id=declaration.pk, user=demo.importer, reason="x")

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.RELEASED
    assert TimelineEvent.objects.count() == before


def test_withdraw_needs_a_reason_and_records_it(demo):
    declaration = file(demo)

    with pytest.raises(InvalidInput):
        services.declaration_withdraw(declaration_id=declaration.pk, user=demo.importer, reason="")
    services.declaration_withdraw(
        declaration_id=declaration.pk, user=demo.importer, reason="Goods not shipped"
    )

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.WITHDRAWN
    event = TimelineEvent.objects.filter(kind="declaration.status_changed").last()
    assert (event.data["from"], event.data["to"], event.data["reason"]) == (
        "submitted",
        "withdrawn",
        "Goods not shipped",
    )


def test_another_enterprise_cannot_withdraw_or_amend(demo):
    declaration = file(demo)

    with pytest.raises(NotYours):
        services.declaration_withdraw(declaration_id=declaration.pk, user=demo.exporter, reason="x")

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.SUBMITTED


def test_export_declaration_numbers_carry_the_export_flag(demo):
    declaration = file(
        demo, user=demo.exporter, direction="export", header={"port_of_discharge": "AUMEL"}
    )

    assert declaration.number[8] == "0"
    assert (declaration.port_of_loading, declaration.port_of_discharge) == ("CNXMN", "AUMEL")


def test_advance_declaration_is_refused_once_the_vessel_has_berthed(demo):
    demo.port_call.status = "berthed"
    demo.port_call.save(update_fields=["status"])

    with pytest.raises(InvalidInput) as refused:
        file(demo, header={"is_advance": True, "direct_delivery": True})

    assert refused.value.errors == {
        "is_advance": [
            "An advance declaration is filed before the vessel arrives; CSCL XIAMEN has."
        ]
    }


def test_direct_pickup_needs_an_advance_declaration(demo):
    with pytest.raises(InvalidInput) as refused:
        file(demo, header={"direct_delivery": True})

    assert list(refused.value.errors) == ["direct_delivery"]


def test_advance_declaration_with_direct_pickup_is_decided_before_arrival(demo):
    declaration = file(demo, header={"is_advance": True, "direct_delivery": True})
    assessment.assess_declarations(declaration_ids=[declaration.pk])

    declaration.refresh_from_db()
    assert declaration.is_advance is True
    assert declaration.direct_delivery is True
    assert declaration.status == Declaration.Status.RELEASED
    demo.port_call.refresh_from_db()
    assert (demo.port_call.status, demo.port_call.ata) == ("expected", None)  # not yet arrived


def test_a_valid_certificate_of_origin_gives_the_preferential_rate(demo):
    from tests.certificates.factories import apply

    certificate = apply(demo.exporter)
    certificate.refresh_from_db()
    assert certificate.status == "issued"

    declaration = file(
        demo,
        user=demo.exporter,
        direction="export",
        header={"port_of_discharge": "VNSGN"},
        items=[{**TILES, "certificate_number": certificate.number}],
    )

    item = declaration.items.get()
    assert (item.mfn_rate, item.preferential_rate) == (Decimal("0.3000"), Decimal("0.0000"))
    assert item.duty_estimate == Decimal("0.00")


def test_the_cas_table_has_valid_numbers_and_existing_hs_subheadings(db):
    from declarations import reference

    table = reference.cas_table()

    assert len(table) >= 50
    assert all(reference.is_cas_number(e.cas_number) for e in table)
    assert all(reference.hs_exists(e.hs_code) for e in table)
