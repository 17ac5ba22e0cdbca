import pytest
from django.core.exceptions import ValidationError

from port import identifiers


@pytest.mark.parametrize("number", ["CSQU3054383", "COSU6123451", "MSCU8011224"])
def test_valid_container_numbers_pass(number):
    identifiers.validate_container_number(number)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("CSQU3054384", "container_check_digit"),
        ("CSQ3054383", "container_format"),
        ("", "container_format"),
    ],
)
def test_bad_container_numbers_say_why(number, code):
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_container_number(number)
    assert refused.value.code == code


def test_uscc_check_character_follows_gb_32100():
    identifiers.validate_uscc("91350100M000100Y43")  # a published example code
    identifiers.validate_uscc("91350200MA2Y3K8F7N")
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_uscc("91350200MA2Y3K8F7P")
    assert refused.value.code == "uscc_check"
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_uscc("91350200MA2Y3K8F7")
    assert refused.value.code == "uscc_format"


def test_hs_codes_must_exist_in_hs_2022(db):  # the edition in force is read from the database
    identifiers.validate_hs_code("0202300090")
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_hs_code("0199000000")
    assert refused.value.code == "hs_unknown"
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_hs_code("02023000")
    assert refused.value.code == "hs_format"


@pytest.mark.parametrize(
    ("value", "valid"),
    [("3502960127", True), ("350296012", False), ("35029601AB", True), ("ABCD960127", False)],
)
def test_customs_codes_have_ten_characters_of_the_right_kinds(value, valid):
    if valid:
        identifiers.validate_customs_code(value)
    else:
        with pytest.raises(ValidationError):
            identifiers.validate_customs_code(value)


def test_unlocode_and_imo_numbers(db):  # places are looked up in the edition in force
    identifiers.validate_unlocode("CNXMN")
    identifiers.validate_imo_number("9417402")
    with pytest.raises(ValidationError):
        identifiers.validate_unlocode("XXXMN")
    with pytest.raises(ValidationError):
        identifiers.validate_imo_number("9417403")
