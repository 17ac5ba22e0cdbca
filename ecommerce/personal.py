"""Buyers' personal data: kept only as keyed hashes (to match and to count the annual quota)
and masked forms (to show). The whole name or ID number is never stored, shown or logged.

The key is `ECOMMERCE_BUYER_KEY` from the environment, or one derived from SECRET_KEY.
Rotating it makes existing hashes unmatchable (quotas start afresh): treat it like a secret
that lives as long as the data.
"""

import hashlib
import hmac
from functools import cache

from django.conf import settings
from stdnum.cn import ric


@cache
def _key() -> bytes:
    configured = getattr(settings, "ECOMMERCE_BUYER_KEY", "")
    if configured:
        return configured.encode()
    return hashlib.sha256(f"ecommerce-buyer:{settings.SECRET_KEY}".encode()).digest()


def normalise_id(id_number: str) -> str:
    return id_number.strip().upper()


def id_is_valid(id_number: str) -> bool:
    """A resident identity card number (18 characters, with its check digit)."""
    if len(id_number) != 18:
        return False
    try:
        return ric.is_valid(id_number)
    except Exception:  # noqa: BLE001 - stdnum raises KeyError for some unknown place codes
        return False


def buyer_key(id_number: str) -> str:
    """128 bits of HMAC-SHA256 of the ID number: the buyer for matching and the quota."""
    return hmac.new(_key(), normalise_id(id_number).encode(), hashlib.sha256).hexdigest()[:32]


def name_key(name: str) -> str:
    return hmac.new(_key(), b"name:" + name.strip().encode(), hashlib.sha256).hexdigest()[:16]


def mask_id(id_number: str) -> str:
    number = normalise_id(id_number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * min(max(len(name) - 1, 1), 8)
