"""Field checks over a whole batch of documents, in plain Python (no serializer per item).

Each `clean_<kind>(item)` returns the cleaned row or records errors as
(field, message) pairs; `ecommerce.intake` names each bad item by its index.
"""

import functools
import hashlib
import re
from decimal import Decimal, InvalidOperation

import pycountry
from django.utils.translation import gettext as _

from ecommerce import personal
from ecommerce.models import IMPORT_MODES, TradeMode

MAX_LINES = 50
MAX_CENTS = 10**11  # 1 billion CNY: above any parcel, below overflow
MAX_QUANTITY = 100_000
_HS = re.compile(r"^[0-9]{10}$")
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/]*$")
_TRADE_MODES = set(TradeMode.values)


class Errors:
    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))


def text(item: dict, field: str, errors: Errors, *, max_length: int, number: bool = False) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value.strip():
        errors.add(field, _("This field is required."))
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors.add(field, _("At most %(n)d characters.") % {"n": max_length})
    elif number and not _NUMBER.match(value):
        errors.add(field, _("Only letters, digits, '-', '_' and '/'."))
    return value


def money(item: dict, field: str, errors: Errors, *, required: bool = True) -> int:
    """An amount in CNY (a number or a string, at most 2 decimals) as integer cents."""
    value = item.get(field)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors.add(field, _("Enter an amount in CNY."))
        return 0
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors.add(field, _("Enter an amount in CNY."))
        return 0
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors.add(field, _("At most two decimal places."))
        return 0
    # Compared as a Decimal first: int() of 1E+999999999 would build a billion-digit number.
    if amount < 0 or amount >= Decimal(MAX_CENTS) / 100:
        errors.add(field, _("Out of range."))
        return 0
    return int(amount * 100)


def positive_int(item: dict, field: str, errors: Errors, *, maximum: int) -> int:
    value = item.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        errors.add(field, _("Enter a whole number from 1 to %(max)d.") % {"max": maximum})
        return 0
    return value


def buyer(item: dict, errors: Errors) -> dict:
    """The buyer as keyed hashes and masked forms; the whole values go no further."""
    name = text(item, "buyer_name", errors, max_length=60)
    id_number = item.get("buyer_id")
    if not isinstance(id_number, str) or not personal.id_is_valid(personal.normalise_id(id_number)):
        # The message never repeats the value: it may be someone's real ID number.
        errors.add("buyer_id", _("Enter a valid resident identity card number."))
        return {}
    if not name:
        return {}
    return {
        "buyer_key": personal.buyer_key(id_number),
        "buyer_name_key": personal.name_key(name),
        "buyer_id_masked": personal.mask_id(id_number),
        "buyer_name_masked": personal.mask_name(name),
    }


def goods(item: dict, errors: Errors) -> tuple[list[tuple], int, str]:
    """Goods lines as (hs_code, name, quantity, unit_price_cents), their value, their digest."""
    lines = item.get("goods")
    if not isinstance(lines, list) or not lines:
        errors.add("goods", _("At least one goods line."))
        return [], 0, ""
    if len(lines) > MAX_LINES:
        errors.add("goods", _("At most %(n)d goods lines.") % {"n": MAX_LINES})
        return [], 0, ""
    cleaned, total = [], 0
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            errors.add(f"goods[{index}]", _("Expected an object."))
            continue
        line_errors = Errors()
        hs_code = line.get("hs_code")
        if not isinstance(hs_code, str) or not _HS.match(hs_code):
            line_errors.add("hs_code", _("A 10-digit commodity code."))
        name = line.get("name", "")
        if not isinstance(name, str) or len(name) > 100:
            line_errors.add("name", _("At most %(n)d characters.") % {"n": 100})
        quantity = positive_int(line, "quantity", line_errors, maximum=MAX_QUANTITY)
        price = money(line, "unit_price", line_errors)
        for field, message in line_errors.items:
            errors.add(f"goods[{index}].{field}", message)
        if not line_errors.items:
            cleaned.append((hs_code, name.strip(), quantity, price))
            total += quantity * price
    if total >= MAX_CENTS:
        errors.add("goods", _("Out of range."))
    return cleaned, total, digest(cleaned)


def digest(lines: list[tuple]) -> str:
    """The same for the same goods, whatever their order or names."""
    key = "|".join(sorted(f"{h}:{q}:{p}" for h, _n, q, p in lines))
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


NO_BUYER = {"buyer_key": "", "buyer_name_key": "", "buyer_id_masked": "", "buyer_name_masked": ""}


def clean_order(item: dict, errors: Errors) -> dict:
    row = {
        "order_no": text(item, "order_no", errors, max_length=60, number=True),
        "platform": text(item, "platform", errors, max_length=18),
        "enterprise": text(item, "enterprise", errors, max_length=18),
        "freight_cents": money(item, "freight", errors, required=False),
        **buyer(item, errors),
    }
    lines, row["goods_cents"], row["goods_digest"] = goods(item, errors)
    return row


def clean_payment(item: dict, errors: Errors) -> dict:
    return {
        "payment_no": text(item, "payment_no", errors, max_length=60, number=True),
        "order_no": text(item, "order_no", errors, max_length=60, number=True),
        "platform": text(item, "platform", errors, max_length=18),
        "amount_cents": money(item, "amount", errors),
        **buyer(item, errors),
    }


def clean_waybill(item: dict, errors: Errors) -> dict:
    return {
        "waybill_no": text(item, "waybill_no", errors, max_length=40, number=True),
        "order_no": text(item, "order_no", errors, max_length=60, number=True),
        "platform": text(item, "platform", errors, max_length=18),
    }


def _direction(item: dict, trade_mode, errors: Errors) -> str:
    """9610 goes both ways ("direction": "I" or "E", import by default); 1210 is an import,
    9710 and 9810 are exports."""
    default = "I" if trade_mode in IMPORT_MODES else "E"
    direction = item.get("direction", default)
    allowed = {"I", "E"} if trade_mode == TradeMode.DIRECT else {default}
    if direction not in allowed:
        errors.add("direction", _("One of %(allowed)s.") % {"allowed": ", ".join(sorted(allowed))})
        return default
    return direction


def clean_list(item: dict, errors: Errors) -> dict:
    trade_mode = item.get("trade_mode")
    if trade_mode not in _TRADE_MODES:
        errors.add(
            "trade_mode", _("One of %(modes)s.") % {"modes": ", ".join(sorted(_TRADE_MODES))}
        )
    direction = _direction(item, trade_mode, errors)
    row = {
        "list_no": text(item, "list_no", errors, max_length=40, number=True),
        "order_no": text(item, "order_no", errors, max_length=60, number=True),
        "waybill_no": text(item, "waybill_no", errors, max_length=40, number=True),
        "platform": text(item, "platform", errors, max_length=18),
        "enterprise": text(item, "enterprise", errors, max_length=18),
        "logistics": text(item, "logistics", errors, max_length=18),
        "trade_mode": trade_mode,
        "direction": direction,
        "freight_cents": money(item, "freight", errors, required=False),
        # An export's buyer is abroad: no resident ID to keep.
        **(buyer(item, errors) if direction == "I" else NO_BUYER),
    }
    row["lines"], row["goods_cents"], row["goods_digest"] = goods(item, errors)
    row["zone_enterprise_id"], row["item_nos"] = None, None
    if trade_mode == TradeMode.BONDED:
        row.update(bonded(item, errors))
    row["destination"], row["export_reference"] = "", ""
    if direction == "E":
        row.update(export(item, trade_mode, errors))
    return row


# What a 9710 list names as its B2B order, and a 9810 list as its overseas warehouse.
EXPORT_REFERENCE = {
    TradeMode.B2B_EXPORT: "b2b_order_no",
    TradeMode.WAREHOUSE_EXPORT: "overseas_warehouse",
}


@functools.cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def export(item: dict, trade_mode, errors: Errors) -> dict:
    """An export list names its destination country (the monthly summary declares per
    destination); a 9710 list its B2B order number, a 9810 list its overseas warehouse."""
    destination = item.get("destination")
    if not isinstance(destination, str) or destination.upper() not in _countries():
        errors.add("destination", _("An ISO 3166 country code (two letters)."))
        destination = ""
    reference = ""
    if trade_mode in EXPORT_REFERENCE:
        reference = text(item, EXPORT_REFERENCE[trade_mode], errors, max_length=60, number=True)
    return {"destination": destination.upper(), "export_reference": reference}


def bonded(item: dict, errors: Errors) -> dict:
    """A 1210 list names where its goods are held: the bonded zone (its code), the
    warehousing zone enterprise (its USCC) and each goods line's item number on that
    enterprise's account. `ecommerce.intake` checks them against the zones' accounts."""
    found = {
        "zone": text(item, "zone", errors, max_length=10),
        "warehouse": text(item, "warehouse", errors, max_length=18),
        "item_nos": [],
    }
    lines = item.get("goods")
    for index, line in enumerate(lines if isinstance(lines, list) else []):
        if isinstance(line, dict):
            line_errors = Errors()
            found["item_nos"].append(text(line, "item_no", line_errors, max_length=30))
            for field, message in line_errors.items:
                errors.add(f"goods[{index}].{field}", message)
    return found


CLEANERS = {
    "order": clean_order,
    "payment": clean_payment,
    "waybill": clean_waybill,
    "list": clean_list,
}
