"""A gate read's time that is well-formed but not a date is a field error, not a 500."""

from zones import validation


def test_a_read_time_that_is_not_a_date_is_a_field_error():
    errors: dict = {}

    validation._read_time("2030-02-31T00:00+08:00", errors)

    assert list(errors) == ["read_at"]
