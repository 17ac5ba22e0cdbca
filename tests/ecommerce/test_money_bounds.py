"""An amount with a huge exponent is out of range at once (int() of it would not finish)."""

import pytest

from ecommerce import validation


@pytest.mark.parametrize("value", ["1E+999999999", "1e400", "-1"])
def test_an_amount_out_of_range_is_a_field_error(value):
    errors = validation.Errors()

    cents = validation.money({"amount": value}, "amount", errors)

    assert cents == 0
    assert errors.items == [("amount", "Out of range.")]
