"""Checks of zone documents and gate reads, field by field, before any work.

Every function returns clean values or raises InvalidInput with the API's shape of errors,
so the browser form, the API, the ERP file and the camera system get the same messages.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from stdnum import casrn
from stdnum.exceptions import ValidationError as NumberInvalid

from port import identifiers
from port.errors import InvalidInput
from zones.models import Movement

MAX_DOCUMENTS = 500
MAX_LINES = 100
# A Chinese plate: province character, letter, five or six letters and digits (new energy),
# sometimes 挂 for a trailer.
PLATE = re.compile(r"^[\u4e00-\u9fff][A-Z][A-HJ-NP-Z0-9]{4,6}挂?$")
SEAL = re.compile(r"^[A-Z0-9\-]{4,20}$")
ITEM_NO = re.compile(r"^[A-Za-z0-9._\-]{1,30}$")
DECLARATION_NUMBER = re.compile(r"^\d{18}$")
UN_NUMBER = re.compile(r"^(?!000[0-3])(?:[0-2]\d{3}|3[0-4]\d{2}|35[0-3]\d|354[0-8])$")
GATE_KINDS = {k for k in Movement.Kind.values if k != Movement.Kind.TRANSFER}


def plate(value: Any, errors: dict, field: str = "truck_plate", *, required=True) -> str:
    text = re.sub(r"[\s·\-]", "", str(value or "")).upper()
    if not text:
        if required:
            errors[field] = [_("Give the truck's plate.")]
        return ""
    if not PLATE.match(text):
        errors[field] = [_("%(plate)s is not a Chinese vehicle plate.") % {"plate": text[:16]}]
    return text


def container(value: Any, errors: dict, field: str, *, required: bool) -> str:
    number = identifiers.normalise_container_number(str(value or ""))
    if not number:
        if required:
            errors[field] = [_("Give the container number.")]
        return ""
    try:
        identifiers.validate_container_number(number)
    except ValidationError as exc:
        errors[field] = list(exc.messages)
    return number


def seal(value: Any, errors: dict, field: str = "seal", *, required=False) -> str:
    text = str(value or "").strip().upper()
    if not text:
        if required:
            errors[field] = [_("Give the seal number.")]
        return ""
    if not SEAL.match(text):
        errors[field] = [_("A seal number has 4 to 20 letters, digits or dashes.")]
    return text


def number(
    value: Any,
    errors: dict,
    field: str,
    *,
    low: Decimal,
    high: Decimal,
    places: int,
    strict_low: bool = False,
) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        errors[field] = [_("Give a number.")]
        return Decimal(0)
    if not amount.is_finite():
        errors[field] = [_("Give a number.")]
        return Decimal(0)
    too_low = amount <= low if strict_low else amount < low
    if too_low or amount > high:
        errors[field] = [_("Give a number from %(low)s to %(high)s.") % {"low": low, "high": high}]
    elif -amount.as_tuple().exponent > places:
        errors[field] = [_("At most %(n)d decimal places.") % {"n": places}]
    return amount


def document(raw: Any) -> tuple[dict, dict]:
    """One movement document: (clean values, errors)."""
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": [_("Each document is an object.")]}
    errors: dict = {}
    kind = str(raw.get("kind") or "")
    if kind not in Movement.Kind.values:
        errors["kind"] = [
            _("Kind is one of %(kinds)s.") % {"kinds": ", ".join(Movement.Kind.values)}
        ]
    clean: dict = {"kind": kind, "lines": []}
    # A transfer may be carried by truck through the gate: it then has a pass like the rest.
    by_truck = kind == Movement.Kind.TRANSFER and str(raw.get("truck_plate") or "").strip()
    if kind in GATE_KINDS or by_truck:
        clean["truck_plate"] = plate(raw.get("truck_plate"), errors)
        clean["container"] = container(
            raw.get("container"),
            errors,
            "container",
            required=kind in (Movement.Kind.PORT_IN, Movement.Kind.PORT_OUT),
        )
        clean["seal"] = seal(raw.get("seal"), errors)
        clean["declared_weight_kg"] = number(
            raw.get("declared_weight_kg"),
            errors,
            "declared_weight_kg",
            low=Decimal(500),
            high=Decimal(100000),
            places=1,
        )
    if kind == Movement.Kind.TRANSFER:
        clean["counterparty_uscc"] = str(raw.get("counterparty_uscc") or "").strip().upper()
        if not clean["counterparty_uscc"]:
            errors["counterparty_uscc"] = [_("Name the receiving zone enterprise (USCC).")]
    declaration = str(raw.get("declaration_number") or "").strip()
    if declaration and not DECLARATION_NUMBER.match(declaration):
        errors["declaration_number"] = [_("A declaration number has 18 digits.")]
    if kind == Movement.Kind.DOMESTIC_OUT and not declaration:
        errors["declaration_number"] = [
            _("An exit to the domestic market goes with its customs declaration.")
        ]
    clean["declaration_number"] = declaration
    clean["duty_given"] = raw.get("duty_amount") not in (None, "")
    clean["duty_amount"] = number(
        raw.get("duty_amount") or 0,
        errors,
        "duty_amount",
        low=Decimal(0),
        high=Decimal("999999999999"),
        places=2,
    )
    clean["lines"], line_errors = _lines(raw.get("lines"))
    if line_errors:
        errors["lines"] = line_errors
    return clean, errors


def _lines(raw: Any) -> tuple[list[dict], Any]:
    if not isinstance(raw, list) or not raw:
        return [], [_("A document has at least one goods line.")]
    if len(raw) > MAX_LINES:
        return [], [_("At most %(n)d goods lines.") % {"n": MAX_LINES}]
    lines, errors = [], {}
    for i, line in enumerate(raw):
        clean, line_errors = _line(line)
        lines.append(clean)
        if line_errors:
            errors[str(i)] = line_errors
    return lines, errors


def _line(raw: Any) -> tuple[dict, dict]:
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": [_("Each goods line is an object.")]}
    errors: dict = {}
    item_no = str(raw.get("item_no") or "").strip()
    if not ITEM_NO.match(item_no):
        errors["item_no"] = [_("An item number has 1 to 30 letters, digits, dots or dashes.")]
    hs_code = str(raw.get("hs_code") or "").strip()
    try:
        identifiers.validate_hs_code(hs_code)
    except ValidationError as exc:
        errors["hs_code"] = list(exc.messages)
    description = str(raw.get("description") or "").strip()
    if not description or len(description) > 200:
        errors["description"] = [_("Describe the goods (at most 200 characters).")]
    unit = str(raw.get("unit") or "").strip()
    if not unit or len(unit) > 10:
        errors["unit"] = [_("Give the unit (at most 10 characters).")]
    un = str(raw.get("un_number") or "").strip().upper().removeprefix("UN").strip()
    if un and not UN_NUMBER.match(un):
        errors["un_number"] = [_("A UN number has four digits, 0004 to 3548.")]
    cas = _cas_number(raw.get("cas_number"), hs_code, errors)
    certificate = str(raw.get("certificate_number") or "").strip().upper()
    if len(certificate) > 12:
        errors["certificate_number"] = [_("A certificate number has at most 12 characters.")]
    clean = {
        "item_no": item_no,
        "hs_code": hs_code,
        "description": description,
        "unit": unit,
        "quantity": number(
            raw.get("quantity"),
            errors,
            "quantity",
            low=Decimal(0),
            high=Decimal("999999999999"),
            places=3,
            strict_low=True,
        ),
        "value": number(
            raw.get("value"),
            errors,
            "value",
            low=Decimal(0),
            high=Decimal("99999999999999"),
            places=2,
        ),
        "un_number": un,
        "cas_number": cas,
        "certificate_number": certificate[:12],
    }
    return clean, errors


def _cas_number(raw, hs_code: str, errors: dict) -> str:
    """An optional CAS registry number: its check digit, and not contradicting the commodity
    code where the CAS table lists the substance."""
    from reference import queries as reference_queries

    cas = str(raw or "").strip()
    if not cas:
        return ""
    try:
        cas = casrn.validate(cas)
    except NumberInvalid:
        errors["cas_number"] = [_("Enter a CAS number such as 67-64-1 (its check digit too).")]
        return cas[:12]
    contradiction = reference_queries.cas_contradiction(cas, hs_code)
    if contradiction and "hs_code" not in errors:
        errors["cas_number"] = [contradiction]
    return cas


def hazard_summary(lines: list[dict]) -> str:
    """The gate's warning for a pass: each UN number with its class when the list knows it,
    and each hazardous chemical recognised by its CAS number or, without one, by a commodity
    code that is a listed chemical's subheading: "UN1993 (3), CAS 67-64-1 Acetone"."""
    from reference import queries as reference_queries

    found = []
    for un in dict.fromkeys(line.get("un_number") for line in lines if line.get("un_number")):
        known = reference_queries.un_number(un)
        found.append(f"UN{un} ({known[0]})" if known else f"UN{un}")
    chemicals = reference_queries.hazardous_subheadings()
    for line in lines:
        entry = reference_queries.cas_entry(line.get("cas_number") or "")
        if entry is not None:
            found.append(f"CAS {entry.cas_number} {entry.name}")
        elif (line.get("hs_code") or "")[:6] in chemicals and not line.get("un_number"):
            found.append(f"HS {line['hs_code'][:6]} {chemicals[line['hs_code'][:6]]}")
    return ", ".join(dict.fromkeys(found))[:200]


def documents(raw: Any) -> list[dict]:
    """A batch: every document checked, all errors at once by index, or the clean batch."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput({"documents": [_("Send at least one document.")]})
    if len(raw) > MAX_DOCUMENTS:
        raise InvalidInput(
            {"documents": [_("At most %(n)d documents a batch.") % {"n": MAX_DOCUMENTS}]}
        )
    cleaned, errors = [], {}
    for i, doc in enumerate(raw):
        clean, doc_errors = document(doc)
        cleaned.append(clean)
        if doc_errors:
            errors[str(i)] = doc_errors
    if errors:
        raise InvalidInput({"documents": errors})
    return cleaned


def gate_read(raw: dict, *, lanes: int) -> dict:
    """A camera read: plate, containers (at most two), seal, weight, lane, time, read id."""
    errors: dict = {}
    clean = {"truck_plate": plate(raw.get("truck_plate"), errors)}
    containers = raw.get("containers") or []
    if not isinstance(containers, list) or len(containers) > 2:
        errors["containers"] = [_("At most two container numbers.")]
        containers = []
    clean["containers"] = [
        container(c, errors, "containers", required=False) for c in containers if c
    ]
    clean["seal"] = seal(raw.get("seal"), errors)
    clean["weight_kg"] = number(
        raw.get("weight_kg"),
        errors,
        "weight_kg",
        low=Decimal(0),
        high=Decimal(100000),
        places=1,
        strict_low=True,
    )
    try:
        lane = int(raw.get("lane"))
    except (TypeError, ValueError):
        lane = 0
    if not 1 <= lane <= lanes:
        errors["lane"] = [_("Lane is from 1 to %(n)d.") % {"n": lanes}]
    clean["lane"] = lane
    clean["read_at"] = _read_time(raw.get("read_at"), errors)
    read_id = str(raw.get("read_id") or "").strip()
    if len(read_id) > 64:
        errors["read_id"] = [_("At most 64 characters.")]
    clean["read_id"] = read_id
    if errors:
        raise InvalidInput(errors)
    return clean


def _read_time(value: Any, errors: dict) -> datetime:
    now = timezone.now()
    if not value:
        return now
    try:
        parsed = parse_datetime(str(value)) if isinstance(value, str) else None
    except ValueError:  # well-formed but not a date: 2030-02-31T00:00+08:00
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        errors["read_at"] = [_("Give an ISO 8601 time with its offset.")]
        return now
    if abs(parsed - now) > timedelta(hours=24):
        errors["read_at"] = [_("The read time is more than a day from now.")]
    return parsed
