"""What a shipping agent files for a vessel's arrival or departure (the general declaration,
crew and passenger lists, dangerous goods and the health questions; FAL 1, 5, 6 and 7) and how
it is checked before services.filing_submit or filing_resubmit writes anything."""

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from port import identifiers, limits
from port.errors import InvalidInput
from shipping import reference
from shipping.models import HEALTH_QUESTIONS, FilingPerson

# The crew and passenger counts are small integers in the database.
MAX_HEADCOUNT = 32767


@dataclass(frozen=True)
class PersonInput:
    family_name: str
    given_names: str
    nationality: str
    date_of_birth: datetime.date | str | None
    document_number: str
    rank: str = ""


@dataclass(frozen=True)
class DangerousGoodInput:
    container_number: str
    un_number: str
    imdg_class: str
    proper_shipping_name: str
    gross_mass_kg: str
    packing_group: str = ""
    stowage_position: str = ""


@dataclass(frozen=True)
class FilingInput:
    master_name: str
    crew_count: int | str
    crew: list[PersonInput]
    passenger_count: int | str = 0
    passengers: list[PersonInput] = field(default_factory=list)
    dangerous_goods: list[DangerousGoodInput] = field(default_factory=list)
    last_port: str = ""
    next_port: str = ""
    cargo_description: str = ""
    remarks: str = ""
    health: dict = field(default_factory=dict)


def filing_validate(filing: FilingInput) -> tuple[dict, list[dict], list[dict], dict]:
    """The filing's header fields, people and dangerous goods as rows ready to write, and
    every field-level error found (empty when the filing is valid). Raises InvalidInput at
    once for lists no real vessel reaches, before reading any entry of them."""
    _check_sizes(filing)
    errors: dict = {}
    header = {
        "master_name": (filing.master_name or "").strip(),
        "last_port": (filing.last_port or "").strip().upper(),
        "next_port": (filing.next_port or "").strip().upper(),
        "cargo_description": (filing.cargo_description or "").strip(),
        "remarks": (filing.remarks or "").strip(),
    }
    if not header["master_name"]:
        errors["master_name"] = [_("This field is required.")]
    for name in ("last_port", "next_port"):
        if header[name]:
            _check(errors, name, identifiers.validate_unlocode, header[name])
    for name in ("crew_count", "passenger_count"):
        header[name] = _count(filing, name, errors)
    header["health"] = _health(filing.health, errors)
    people = _people(filing.crew, FilingPerson.Role.CREW, "crew", errors)
    people += _people(filing.passengers, FilingPerson.Role.PASSENGER, "passengers", errors)
    if not filing.crew:
        errors["crew"] = [_("List the crew (FAL 5).")]
    elif header["crew_count"] is not None and header["crew_count"] != len(filing.crew):
        errors["crew_count"] = [
            _("The crew list has %(n)s people, not %(count)s.")
            % {"n": len(filing.crew), "count": header["crew_count"]}
        ]
    passengers = len(filing.passengers)
    if header["passenger_count"] is not None and header["passenger_count"] != passengers:
        errors["passenger_count"] = [
            _("The passenger list has %(n)s people, not %(count)s.")
            % {"n": passengers, "count": header["passenger_count"]}
        ]
    goods = _goods(filing.dangerous_goods, errors)
    return header, people, goods, errors


def _check_sizes(filing: FilingInput) -> None:
    """Refuse lists no real vessel reaches before validating any entry of them."""
    errors = {}
    for name, maximum in (
        ("crew", limits.MAX_CREW),
        ("passengers", limits.MAX_PASSENGERS),
        ("dangerous_goods", limits.MAX_DANGEROUS_GOODS),
    ):
        if message := limits.list_error(getattr(filing, name), maximum=maximum):
            errors[name] = [message]
    if errors:
        raise InvalidInput(errors)


def _count(filing: FilingInput, name: str, errors: dict) -> int | None:
    try:
        value = int(str(getattr(filing, name)).strip() or "0")
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_HEADCOUNT:
        errors[name] = [
            _("Enter a whole number from 0 to %(maximum)s.") % {"maximum": MAX_HEADCOUNT}
        ]
        return None
    return value


def _health(health: dict, errors: dict) -> dict:
    health = health or {}
    answers = {}
    missing = []
    for question in HEALTH_QUESTIONS:
        value = health.get(question)
        if isinstance(value, str):
            value = {"yes": True, "true": True, "no": False, "false": False}.get(value.lower())
        if not isinstance(value, bool):
            missing.append(question)
        answers[question] = value
    if missing:
        errors["health"] = [
            _("Answer yes or no to every health question: %(q)s.") % {"q": ", ".join(missing)}
        ]
    answers["notes"] = str(health.get("notes", "")).strip()[:500]
    return answers


def _people(people: list[PersonInput], role: str, key: str, errors: dict) -> list[dict]:
    rows, problems = [], {}
    for index, person in enumerate(people):
        row = {
            "role": role,
            "family_name": (person.family_name or "").strip(),
            "given_names": (person.given_names or "").strip(),
            "rank": (person.rank or "").strip(),
            "nationality": (person.nationality or "").strip().upper(),
            "document_number": (person.document_number or "").strip().upper(),
            "date_of_birth": limits.parse_day(person.date_of_birth),
        }
        found: dict = {}
        for name in ("family_name", "given_names", "document_number"):
            if not row[name]:
                found[name] = [_("This field is required.")]
        _check(found, "nationality", identifiers.validate_country, row["nationality"])
        if row["date_of_birth"] is None:
            found["date_of_birth"] = [_("Enter the date of birth as YYYY-MM-DD.")]
        elif message := limits.birth_date_error(row["date_of_birth"]):
            found["date_of_birth"] = [message]
        if found:
            problems[str(index)] = found
        rows.append(row)
    if problems:
        errors[key] = problems
    return rows


def _goods(goods: list[DangerousGoodInput], errors: dict) -> list[dict]:
    rows, problems = [], {}
    for index, item in enumerate(goods):
        row = {
            "container_number": identifiers.normalise_container_number(item.container_number),
            "un_number": (item.un_number or "").strip().upper().removeprefix("UN"),
            "imdg_class": (item.imdg_class or "").strip(),
            "packing_group": (item.packing_group or "").strip().upper(),
            "proper_shipping_name": (item.proper_shipping_name or "").strip(),
            "stowage_position": (item.stowage_position or "").strip(),
        }
        found: dict = {}
        _check(
            found,
            "container_number",
            identifiers.validate_container_number,
            row["container_number"],
        )
        _check(found, "un_number", reference.validate_un_number, row["un_number"])
        _check(found, "imdg_class", reference.validate_imdg_class, row["imdg_class"])
        _check(found, "packing_group", reference.validate_packing_group, row["packing_group"])
        if row["stowage_position"]:
            _check(found, "stowage_position", reference.validate_stowage, row["stowage_position"])
        if not row["proper_shipping_name"]:
            found["proper_shipping_name"] = [_("This field is required.")]
        row["gross_mass_kg"], message = limits.decimal_error(
            item.gross_mass_kg,
            max_digits=10,
            decimal_places=1,
            above_minimum=True,
            message=_("Enter the gross mass in kg, more than 0."),
        )
        if message:
            found["gross_mass_kg"] = [message]
        if found:
            problems[str(index)] = found
        rows.append(row)
    if problems:
        errors["dangerous_goods"] = problems
    return rows


def _check(errors: dict, name: str, validator, value) -> None:
    try:
        validator(value)
    except ValidationError as error:
        errors[name] = [str(m) for m in error.messages]
