"""Reading container lists from UN/EDIFACT BAPLIE, COPRAR and COARRI (and others with EQD).

Tolerant of what real files carry (standards.md 1.2-1.3): no UNB envelope, UNG/UNE groups,
one-line files, wrong UNT counts, legacy ISO 2716 size-type codes. Each fault becomes a
warning naming its segment; a container that cannot be taken (failed check digit, not a
container number, listed twice) is rejected with a reason. Only a file that cannot be
tokenised at all raises Unreadable. Pure parsing: no database here.
"""

import logging
import re
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from pydifact.exceptions import EDISyntaxError
from pydifact.segmentcollection import RawSegmentCollection
from stdnum import imo, iso6346

from port import identifiers, limits
from port.edifact import service_segment_fault

MANIFEST_TYPES = {"BAPLIE", "COPRAR", "COARRI"}
# COARRI BGM document name codes (1001) saying which way the containers moved. The codes
# depend on the message guideline (standards.md 1.2): ITIGG (the Genoa sample) uses 44
# discharge and 46 loading; UNCL 1001 and the SMDG COARRI guideline use 119 "Transport
# discharge report" and 122 "Transport loading report" (and 24 for a restow). standards.md
# also lists 98 for discharge, which neither the samples nor UNCL 1001 confirm: not read.
COARRI_MOVEMENTS = {"44": "discharge", "119": "discharge", "46": "loading", "122": "loading"}
COARRI_MOVEMENTS["24"] = "restow"
# DTM format qualifiers (2379) for the container's actual move time (DTM+203).
MOVE_TIME_FORMATS = {"203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}
# ISO 6346 (1995+) size-type: length, height/width, type group letter, detail.
SIZE_TYPE_PATTERN = re.compile(r"^[0-9A-Z][0-9A-Z][A-Z][0-9A-Z]$")
LEGACY_SIZE_TYPE_PATTERN = re.compile(r"^[0-9]{4}$")  # ISO 2716 / pre-1995 ISO 6346
# Gross weight qualifiers, best first: verified gross mass, then the plain gross weights.
WEIGHT_QUALIFIERS = ("VGM", "G", "EGW", "AAB", "WT")
CONTAINER_SHAPE = re.compile(r"^[A-Z]{4}[0-9]{7}$")
# pydifact logs the syntax identifier of every UNB at INFO; the command's output is JSON.
logging.getLogger("pydifact").setLevel(logging.WARNING)
UNIT_TO_KG = {"KGM": Decimal(1), "TNE": Decimal(1000), "LBR": Decimal("0.45359237")}


class Unreadable(Exception):
    """The file is not EDIFACT we can tokenise; the message is one line for the user."""


@dataclass
class ContainerRead:
    number: str
    segment: int
    message: str
    size_type: str = ""
    full: bool | None = None
    stowage_position: str = ""
    port_of_loading: str = ""
    port_of_discharge: str = ""
    bl_number: str = ""
    booking: str = ""
    gross_weight_kg: str = ""
    seal_number: str = ""
    description: str = ""
    un_number: str = ""
    imdg_class: str = ""
    moved_at: str = ""  # DTM+203, the actual move time, ISO 8601 local time without zone


@dataclass
class Result:
    message_type: str = ""
    messages: list[dict] = field(default_factory=list)
    vessel: dict = field(default_factory=dict)
    containers: list[ContainerRead] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "message_type": self.message_type,
            "messages": self.messages,
            "vessel": self.vessel,
            "containers_read": len(self.containers),
            "containers": [asdict(c) for c in self.containers],
            "containers_rejected": len(self.rejected),
            "rejected": self.rejected,
            "warnings": self.warnings,
        }

    def containers_moved(self, movement: str) -> list[ContainerRead]:
        """The containers of the COARRI messages reporting `movement` ("discharge", ...)."""
        references = {m["reference"] for m in self.messages if m.get("movement") == movement}
        return [c for c in self.containers if c.message in references]


def tokenise(text: str) -> tuple[str, list]:
    """The cleaned text and its segments. Raises Unreadable when nothing can be tokenised or
    the file holds no message."""
    text = (text or "").lstrip("\ufeff").strip()
    if not text:
        raise Unreadable("The file is empty.")
    fault = service_segment_fault(text, tags=("UNB",))
    if fault:
        raise Unreadable(f"{fault[0]} {fault[1]}.")
    try:
        with warnings.catch_warnings():  # pydifact warns per service segment it cannot check
            warnings.simplefilter("ignore")
            segments = list(RawSegmentCollection.from_str(text).segments)
    except EDISyntaxError as error:
        raise Unreadable(f"Not readable as UN/EDIFACT: {str(error).strip()}") from None
    except (AssertionError, IndexError, KeyError, TypeError, ValueError, AttributeError) as error:
        # pydifact indexes into segments unchecked; the check above catches what we know of.
        reason = str(error).strip() or "the interchange is not well-formed"
        raise Unreadable(f"Not readable as UN/EDIFACT: {reason}") from None
    if not any(s.tag == "UNH" for s in segments):
        raise Unreadable("No UNH message header: this is not a UN/EDIFACT message.")
    return text, segments


def read_messages(text: str, warnings_to: list[str]):
    """Tokenise `text`, check its envelope and yield each message (UNH..UNT as a list of
    (position, segment)); faults become warnings in `warnings_to`. For the readers of other
    message types (shipping/cuscar.py, shipping/paxlst.py)."""
    text, segments = tokenise(text)
    holder = Result(warnings=warnings_to)
    _check_envelope(segments, text, holder)
    yield from _messages(segments, holder)


def message_type(text: str) -> str:
    """The type of the file's first message (UNH 0065), "" when there is none; cheap."""
    found = re.search(r"UNH\+[^+']*\+([A-Z]{6})", text or "")
    return found.group(1) if found else ""


def parse(text: str) -> Result:
    """Read every message in `text`. Raises Unreadable when nothing can be tokenised."""
    text, segments = tokenise(text)
    result = Result()
    _check_envelope(segments, text, result)
    for message in _messages(segments, result):
        _read_message(message, result)
    types = sorted({m["type"] for m in result.messages})
    result.message_type = types[0] if len(types) == 1 else ",".join(types)
    for kind in types:
        if kind not in MANIFEST_TYPES | {"CODECO"}:
            result.warnings.append(
                f"{kind} is not a bay plan or discharge list; its EQD containers are read as a list."
            )
    return result


def _check_envelope(segments, text: str, result: Result) -> None:
    tags = [s.tag for s in segments]
    if tags[0] not in {"UNB", "UNA"}:
        result.warnings.append("No UNB interchange header: read as a bare message (UNH … UNT).")
    elif "UNZ" not in tags:
        result.warnings.append("The interchange has a UNB header but no UNZ trailer.")
    if "UNG" in tags:
        result.warnings.append(
            f"UNG functional group at segment {tags.index('UNG') + 1}: read through the group."
        )
    if "\n" not in text and len(segments) > 1:
        result.warnings.append("All segments are on one line.")
    if "UNZ" in tags:
        unz = segments[tags.index("UNZ")]
        declared = _int(_part(unz, 0))
        groups = tags.count("UNG")
        counted = groups or tags.count("UNH")
        if declared is not None and declared != counted:
            result.warnings.append(
                f"UNZ at segment {tags.index('UNZ') + 1} counts {declared} messages; the file has {counted}."
            )


def _messages(segments, result: Result):
    """Yield each message as a list of (position, segment), UNH to UNT inclusive."""
    current: list | None = None
    for position, segment in enumerate(segments, start=1):
        if segment.tag == "UNH":
            if current:
                result.warnings.append(
                    f"Message at segment {current[0][0]} has no UNT before the next UNH."
                )
                yield current
            current = [(position, segment)]
        elif current is not None:
            current.append((position, segment))
            if segment.tag == "UNT":
                _check_unt(current, result)
                yield current
                current = None
    if current:
        result.warnings.append(f"Message at segment {current[0][0]} has no UNT trailer.")
        yield current


def _check_unt(message, result: Result) -> None:
    position, unt = message[-1]
    declared = _int(_part(unt, 0))
    if declared != len(message):
        result.warnings.append(
            f"UNT at segment {position} counts {_part(unt, 0)} segments; "
            f"the message has {len(message)}."
        )


def _read_message(message, result: Result) -> None:
    unh = message[0][1]
    kind = _part(unh, 1, 0).upper()
    reference = _part(unh, 0)
    anchor = ("LOC", "147") if kind == "BAPLIE" else ("EQD", None)
    header, groups = [], []
    for position, segment in message[1:]:
        if segment.tag == anchor[0] and (anchor[1] is None or _part(segment, 0) == anchor[1]):
            groups.append([(position, segment)])
        elif groups and segment.tag not in {"UNT", "CNT", "UNS"}:
            groups[-1].append((position, segment))
        else:
            header.append((position, segment))
    if not result.vessel:
        result.vessel = _vessel(header, result)
    seen: set[str] = set()
    read_here = 0
    for group in groups:
        container = _container(group, reference, result)
        if container is None:
            continue
        if container.number in seen:
            result.rejected.append(
                {
                    **_rejection(
                        container.number, container.segment, "listed twice in this message"
                    ),
                    "message": reference,
                }
            )
            continue
        seen.add(container.number)
        result.containers.append(container)
        read_here += 1
    rejected_here = sum(1 for r in result.rejected if r["message"] == reference)
    _check_cnt(message, read_here + rejected_here, result)
    bgm = next(((p, s) for p, s in header if s.tag == "BGM"), (None, None))
    document = _part(bgm[1], 0)
    result.messages.append(
        {
            "type": kind,
            "version": ":".join(str(p) for p in _parts(unh, 1)[1:5] if p),
            "reference": reference,
            "document": document,
            "movement": _movement(kind, document, bgm[0], result),
            "containers": read_here,
        }
    )


def _movement(kind: str, document: str, position: int | None, result: Result) -> str:
    """Which way a COARRI's containers moved, from its BGM document code; "" otherwise."""
    if kind != "COARRI":
        return ""
    movement = COARRI_MOVEMENTS.get(document, "")
    if not movement:
        where = f"BGM at segment {position}" if position else "The COARRI message has no BGM"
        result.warnings.append(
            f"{where}: document code {document or '(none)'} is neither a discharge report "
            "(44, 119) nor a loading report (46, 122)."
        )
    return movement


def _check_cnt(message, found: int, result: Result) -> None:
    for position, segment in message:
        if segment.tag == "CNT" and _part(segment, 0, 0) == "16":
            declared = _int(_part(segment, 0, 1))
            if declared is not None and declared != found:
                result.warnings.append(
                    f"CNT at segment {position} counts {declared} containers; "
                    f"the message lists {found}."
                )


def _vessel(header, result: Result) -> dict:
    tdt = next(
        ((p, s) for p, s in header if s.tag == "TDT" and _part(s, 0) == "20"),
        next(((p, s) for p, s in header if s.tag == "TDT"), None),
    )
    if tdt is None:
        result.warnings.append("No TDT segment: the file does not name the vessel.")
        return {}
    position, segment = tdt
    vessel = {"voyage": _part(segment, 1), "name": "", "call_sign": "", "imo_number": ""}
    for element in segment.elements[2:]:
        if not isinstance(element, list) or len(element) < 2:
            continue
        identifier, qualifier = str(element[0]).strip(), str(element[1]).strip()
        if qualifier == "146":
            vessel["imo_number"] = re.sub(r"^IMO\s*(?=[0-9])", "", identifier.upper())
        elif qualifier == "103":
            vessel["call_sign"] = identifier
        else:
            continue
        if len(element) > 3 and element[3]:
            vessel["name"] = str(element[3]).strip()
    if vessel["imo_number"] and not imo.is_valid(vessel["imo_number"]):
        result.warnings.append(
            f"TDT at segment {position}: {vessel['imo_number']} is not a valid IMO number; ignored."
        )
        vessel["imo_number"] = ""
    return vessel


def _container(group, reference: str, result: Result) -> ContainerRead | None:
    eqd = next(((p, s) for p, s in group if s.tag == "EQD"), None)
    if eqd is None:
        result.warnings.append(f"Stowage cell at segment {group[0][0]} has no EQD: skipped.")
        return None
    position, segment = eqd
    if _part(segment, 0) not in {"CN", ""}:
        return None  # trailers, chassis and other equipment are not containers
    number = identifiers.normalise_container_number(_part(segment, 1, 0))
    try:
        identifiers.validate_container_number(number)
    except ValidationError as error:
        reason = _container_reason(number, error)
        result.rejected.append({**_rejection(number, position, reason), "message": reference})
        return None
    container = ContainerRead(number=number, segment=position, message=reference)
    container.size_type = _size_type(segment, position, result)
    full = _part(segment, 5)
    container.full = {"5": True, "4": False}.get(full)
    for part_position, part in group:
        _apply(container, part)
        if part.tag == "DTM" and _part(part, 0, 0) == "203" and not container.moved_at:
            result.warnings.append(
                f"DTM at segment {part_position}: {_part(part, 0, 1) or '(empty)'} is not a "
                "date and time in format 203 or 204; ignored."
            )
    return container


def _container_reason(number: str, error: ValidationError) -> str:
    """Why a container id was refused, naming every ISO 6346 rule it breaks."""
    if not CONTAINER_SHAPE.match(number):
        return " ".join(str(m) for m in error.messages)
    reasons = []
    if number[3] not in "UJZ":
        reasons.append(f"equipment category {number[3]} is not U, J or Z")
    expected = iso6346.calc_check_digit(number[:10])
    if expected != number[10]:
        reasons.append(f"the check digit should be {expected}, not {number[10]}")
    return f"{number}: " + "; ".join(reasons) + " (ISO 6346)."


def _size_type(segment, position: int, result: Result) -> str:
    parts = [str(p).strip() for p in _parts(segment, 2)]
    code = next((p for p in (parts[:1] + parts[3:4]) if p), "")
    if not code:
        return ""
    if LEGACY_SIZE_TYPE_PATTERN.match(code):
        result.warnings.append(
            f"EQD at segment {position}: size-type {code} is a legacy ISO 2716 code; kept as given."
        )
    elif not SIZE_TYPE_PATTERN.match(code):
        result.warnings.append(
            f"EQD at segment {position}: size-type {code} is not an ISO 6346 code; ignored."
        )
        return ""
    return code[:4]


def _apply(container: ContainerRead, segment) -> None:
    tag, qualifier = segment.tag, _part(segment, 0)
    if tag == "LOC" and qualifier == "147":
        container.stowage_position = _part(segment, 1, 0)[:7]
    elif tag == "LOC" and qualifier == "9":
        container.port_of_loading = _part(segment, 1, 0)[:5]
    elif tag == "LOC" and qualifier == "11":
        container.port_of_discharge = _part(segment, 1, 0)[:5]
    elif tag == "RFF" and _part(segment, 0, 0) == "BM":
        container.bl_number = _part(segment, 0, 1)[:35]
    elif tag == "RFF" and _part(segment, 0, 0) == "BN":
        container.booking = _part(segment, 0, 1)[:35]
    elif tag == "MEA":
        _weight(container, segment)
    elif tag == "SEL" and not container.seal_number:
        container.seal_number = _part(segment, 0)[:20]
    elif tag == "FTX" and qualifier == "AAA":
        container.description = " ".join(str(p) for p in _parts(segment, 3) if p)[:250]
    elif tag == "DGS" and not container.un_number:
        container.imdg_class = _part(segment, 1, 0)[:4]
        container.un_number = _part(segment, 2, 0)[:4]
    elif tag == "DTM" and _part(segment, 0, 0) == "203":
        container.moved_at = _move_time(_part(segment, 0, 1), _part(segment, 0, 2))


def _move_time(value: str, format_code: str) -> str:
    """ISO 8601 text of a DTM+203 value, or "" when its format is not one we read."""
    try:
        # Naive on purpose: EDIFACT times carry no zone; the importer reads them in the port's.
        moment = datetime.strptime(value, MOVE_TIME_FORMATS[format_code or "203"])  # noqa: DTZ007
    except (KeyError, ValueError):
        return ""
    earliest, latest = limits.moment_window()
    if not earliest.date() <= moment.date() <= latest.date():
        return ""  # warned as not a date and time: year 0001 is a typo, not a move
    return moment.isoformat()


def _weight(container: ContainerRead, segment) -> None:
    kind = _part(segment, 1, 0) or _part(segment, 0)
    if kind not in WEIGHT_QUALIFIERS:
        return  # tare and other measures
    unit, value = _part(segment, 2, 0), _part(segment, 2, 1)
    number = limits.parse_decimal(value)
    if number is None or unit not in UNIT_TO_KG:
        return
    # The manifest keeps kilograms to 0.1 below 10^9; anything else is not a container's weight.
    kilograms, problem = limits.decimal_error(
        number * UNIT_TO_KG[unit], max_digits=10, decimal_places=1, above_minimum=True
    )
    if problem:
        return
    current = container.__dict__.get("_weight_rank", len(WEIGHT_QUALIFIERS))
    rank = WEIGHT_QUALIFIERS.index(kind)
    if rank <= current:
        container.gross_weight_kg = str(kilograms.quantize(Decimal("0.1")))
        container.__dict__["_weight_rank"] = rank


def _rejection(number: str, position: int, reason: str) -> dict:
    return {"container": number, "segment": position, "reason": reason, "message": ""}


def _parts(segment, index: int) -> list:
    if segment is None or index >= len(segment.elements):
        return []
    element = segment.elements[index]
    return element if isinstance(element, list) else [element]


def _part(segment, index: int, component: int = 0) -> str:
    parts = _parts(segment, index)
    return str(parts[component]).strip() if component < len(parts) and parts[component] else ""


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
