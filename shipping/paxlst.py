"""Reading a UN/EDIFACT PAXLST (crew and passenger lists, FAL 5 / FAL 6) into the vessel
filing's people (filing_input.PersonInput).

Per person (NAD group): NAD+FM crew member / FL passenger (DDT / DDU in transit), the name
(C080: family name, given names), ATT gender, DTM+329 date of birth, NAT+2 nationality
(ISO 3166 alpha-3 or alpha-2), DOC travel document and its number, FTX rank for crew. A BGM
of 250 (crew list) or 745 (passenger list) decides the list where the NAD qualifier does not.

Personal data: the summary this module returns masks every document number
(mask_document) and names no date of birth; nothing here logs. A person whose name,
nationality, date of birth or document number is missing or wrong is refused, naming the
segment and the field, never the value. Pure parsing.
"""

import datetime
from dataclasses import dataclass, field

import pycountry
from django.utils import timezone

from shipping import edifact
from shipping.edifact import _part, _parts
from shipping.filing_input import PersonInput
from shipping.models import mask_document

CREW_QUALIFIERS = {"FM", "DDT"}
PASSENGER_QUALIFIERS = {"FL", "DDU"}
LIST_DOCUMENTS = {"250": "crew", "745": "passenger"}
MAX_PEOPLE = 10_000


@dataclass
class Person:
    segment: int
    role: str
    family_name: str = ""
    given_names: str = ""
    nationality: str = ""
    date_of_birth: datetime.date | None = None
    document_number: str = ""
    rank: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class PeopleList:
    messages: list[dict] = field(default_factory=list)
    vessel: dict = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of(self, role: str) -> list[Person]:
        return [p for p in self.people if p.role == role]

    def summary(self) -> dict:
        """What was read, without personal data: document numbers masked, no birth dates."""
        return {
            "message_type": "PAXLST",
            "messages": self.messages,
            "vessel": self.vessel,
            "counted": {
                "crew": len(self.of("crew")),
                "passengers": len(self.of("passenger")),
                "refused": len(self.refused),
                "warnings": len(self.warnings),
            },
            "people": [
                {
                    "role": p.role,
                    "name": f"{p.family_name}, {p.given_names}",
                    "nationality": p.nationality,
                    "document": mask_document(p.document_number),
                }
                for p in self.people
            ],  # fmt: skip
            "refused": self.refused,
            "warnings": self.warnings,
        }


def parse(text: str) -> PeopleList:
    """Read every PAXLST message. Raises edifact.Unreadable when nothing can be tokenised."""
    result = PeopleList()
    for message in edifact.read_messages(text, result.warnings):
        kind = _part(message[0][1], 1, 0).upper()
        if kind != "PAXLST":
            result.warnings.append(
                f"UNH at segment {message[0][0]}: {kind} is not a PAXLST; skipped."
            )
            continue
        _read_message(message, result)
    if not result.messages:
        raise edifact.Unreadable("The file holds no PAXLST message.")
    return result


def _read_message(message, result: PeopleList) -> None:
    reference = _part(message[0][1], 0)
    header, groups = [], []
    for position, segment in message[1:]:
        qualifier = _part(segment, 0)
        if segment.tag == "NAD" and qualifier in CREW_QUALIFIERS | PASSENGER_QUALIFIERS:
            groups.append([(position, segment)])
        elif groups and segment.tag not in {"UNT", "CNT"}:
            groups[-1].append((position, segment))
        else:
            header.append((position, segment))
    if not result.vessel:
        result.vessel = edifact._vessel(header, result)
    bgm = next((s for _p, s in header if s.tag == "BGM"), None)
    default_role = LIST_DOCUMENTS.get(_part(bgm, 0, 0), "")
    read = 0
    for group in groups:
        if len(result.people) >= MAX_PEOPLE:
            result.warnings.append(f"More than {MAX_PEOPLE} people; the rest were not read.")
            break
        person = _person(group, default_role)
        if person.problems:
            result.refused.append(
                {
                    "segment": f"NAD at segment {person.segment}",
                    "reason": "; ".join(person.problems),
                }
            )
            continue
        result.people.append(person)
        read += 1
    result.messages.append(
        {"type": "PAXLST", "reference": reference, "document": _part(bgm, 0, 0), "people": read}
    )


def _person(group, default_role: str) -> Person:
    position, nad = group[0]
    qualifier = _part(nad, 0)
    role = "crew" if qualifier in CREW_QUALIFIERS else "passenger"
    if qualifier in {"FM", "FL"} and default_role and default_role != role:
        role = default_role  # some senders write FL on a crew list
    person = Person(segment=position, role=role)
    names = [str(p).strip() for p in _parts(nad, 3)]
    person.family_name = (names[0] if names else "")[:80]
    person.given_names = " ".join(n for n in names[1:] if n)[:80]
    for where, segment in group[1:]:
        tag, first = segment.tag, _part(segment, 0, 0)
        if tag == "DTM" and first == "329":
            person.date_of_birth = _date(_part(segment, 0, 1))
            if person.date_of_birth is None:
                person.problems.append(f"DTM at segment {where}: the date of birth is not a date")
        elif tag == "NAT":
            person.nationality = _country(_part(segment, 1, 0))
            if not person.nationality:
                person.problems.append(f"NAT at segment {where}: not an ISO 3166 country")
        elif tag == "DOC" and not person.document_number:
            person.document_number = _part(segment, 1, 0)[:20]
        elif tag == "FTX" and role == "crew" and not person.rank:
            person.rank = " ".join(str(p) for p in _parts(segment, 3) if p)[:40]
    missing = [
        label
        for label, value in (
            ("family name", person.family_name), ("nationality", person.nationality),
            ("date of birth", person.date_of_birth), ("document number", person.document_number),
        )
        if not value
    ]  # fmt: skip
    if missing and not person.problems:
        person.problems.append(f"missing {', '.join(missing)}")
    return person


def _date(value: str) -> datetime.date | None:
    value = (value or "").strip()
    formats = {8: "%Y%m%d", 6: "%y%m%d"}
    try:
        day = datetime.datetime.strptime(value, formats[len(value)]).date()  # noqa: DTZ007
    except (KeyError, ValueError):
        return None
    if day > timezone.localdate():  # a two-digit year in the future is last century's
        day = day.replace(year=day.year - 100)
    return day


def _country(code: str) -> str:
    code = (code or "").strip().upper()
    found = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    found = found or (pycountry.countries.get(alpha_2=code) if len(code) == 2 else None)
    return found.alpha_2 if found else ""


def person_inputs(people: list[Person]) -> list[PersonInput]:
    """The people as the vessel filing service takes them."""
    return [
        PersonInput(
            family_name=p.family_name,
            given_names=p.given_names or "-",
            nationality=p.nationality,
            date_of_birth=p.date_of_birth,
            document_number=p.document_number,
            rank=p.rank,
        )
        for p in people
    ]
