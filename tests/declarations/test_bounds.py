"""Numbers and list sizes out of range are refused on their field before any work, and
nothing is written: never DataError, InvalidOperation or an IntegrityError."""

from pathlib import Path

import pytest

from declarations import edifact
from declarations.models import Declaration
from tests.conftest import filing

SAMPLE = Path(__file__).resolve().parents[2] / "declarations/samples/cusdec_import.edi"
EDGE_NUMBERS = ["1E+30", "1e400", "NaN", "Infinity", "-Infinity", "-1", "1e-30", "1" * 5000]


@pytest.mark.parametrize("number", EDGE_NUMBERS)
@pytest.mark.parametrize("field", ["quantity", "value", "unit_price"])
def test_an_item_number_out_of_range_is_refused_on_its_field(demo, api_for, field, number):
    body = filing(demo.port_call.pk)
    body["items"][0][field] = number
    if field != "quantity" and number == "1e-30":
        return  # rounds to 0, which a value or a unit price may be

    response = api_for(demo.importer).post("/api/v1/declarations/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["items"]["0"]
    assert Declaration.objects.count() == 0


@pytest.mark.parametrize("number", ["1E+30", "1e400", "NaN", "99999999999999999"])
@pytest.mark.parametrize("field", ["invoice_total", "gross_weight", "net_weight", "packages"])
def test_a_header_number_out_of_range_is_refused_on_its_field(demo, api_for, field, number):
    body = filing(demo.port_call.pk, **{field: number})

    response = api_for(demo.importer).post("/api/v1/declarations/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Declaration.objects.count() == 0


def test_goods_lines_past_the_limit_are_refused_before_they_are_checked(
    demo, django_assert_max_num_queries
):
    from declarations import services

    item = services.ItemInput(
        hs_code="0", description="", quantity="x", value="x", origin_country=""
    )
    too_many = services.FilingInput(
        enterprise_id=None,
        port_call_id=demo.port_call.pk,
        bl_number="COSU6401234560",
        container_numbers=["COSU6123451"] * 1000,
        items=[item] * 1000,
    )

    # Only who files is looked up (the idempotency and declarant checks): no entry is read.
    with django_assert_max_num_queries(5), pytest.raises(services.InvalidInput) as refused:
        services.declaration_file_input(user=demo.importer, filing=too_many)

    assert refused.value.errors == {
        "containers": ["At most 999 entries; 1,000 were sent."],
        "items": ["At most 999 entries; 1,000 were sent."],
    }


def test_the_api_refuses_lists_past_the_limit(demo, api_for):
    body = filing(demo.port_call.pk)
    body["items"] = body["items"] * 1000
    body["containers"] = ["COSU6123451"] * 1000

    response = api_for(demo.importer).post("/api/v1/declarations/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"items", "containers"}


def test_a_cusdec_with_a_quantity_of_1e30_is_refused_naming_qty(demo):
    text = SAMPLE.read_text().replace("QTY+1:24000:KGM", "QTY+1:1E+30:KGM")

    result = edifact.declaration_file_cusdec(user=demo.importer, text=text)

    assert result.declaration is None
    assert [segment for segment, _ in result.errors] == ["QTY (item 1)"]
