"""The bulk statements' array text and the buyers' keys, as PostgreSQL and the stored
hashes read them."""

import hashlib
import hmac

import pytest
from django.db import connection

from ecommerce import personal
from ecommerce.db import int_array, text_array

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "values",
    [[], [""], ["A1", "B-2/3"], ['b"c', "d\\e", "NULL", "x y", "{}", ","], ["L1", 'q"']],
)
def test_text_array_reads_back_as_sent(values):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [text_array(values)])
        assert cursor.fetchone()[0] == values


def test_int_array_reads_back_as_sent():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::bigint[]", [int_array(iter([3, 1, 2]))])
        assert cursor.fetchone()[0] == [3, 1, 2]


def test_buyer_keys_are_the_stored_hmacs():
    """The one-shot HMAC gives the keys already stored (the quota and matching use them)."""
    key = personal._key()
    id_number = "11010519491231002X"
    expected_id = hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()[:32]
    expected_name = hmac.new(key, "name:张三".encode(), hashlib.sha256).hexdigest()[:16]
    assert personal.buyer_key(" 11010519491231002x ") == expected_id
    assert personal.name_key(" 张三 ") == expected_name


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("110105194912310021", False),  # check digit
        ("99010519491231002X", False),  # province
        ("11010519490231002X", False),  # 31 February
        ("1101051949123100", False),  # length
    ],
)
def test_resident_id_check(number, valid):
    assert personal.id_is_valid(number) is valid
