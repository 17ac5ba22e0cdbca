"""Reading a UN/EDIFACT CUSCAR (customs cargo report, FAL 2): consignments and their goods.

Per consignment (CNI): the B/L (CNI document or RFF+BM), shipper (NAD+CZ), consignee
(NAD+CN), notify party (NAD+N1), the ports (LOC+9/11), its goods items (GID with FTX+AAA
description, MEA weight, PCI marks, SGP container, PIA/CST commodity code, DGS) and its
equipment (EQD with SEL seals and MEA). Tolerant of real files (wrong UNT counts, UNG groups,
no UNB): each fault is a warning naming its segment; an equipment id that is not an ISO 6346
container number is refused with the segment and the rule it breaks. Pure parsing.
"""

import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from port import identifiers
from shipping import edifact
from shipping.edifact import _part, _parts

PARTY_ROLES = {"CZ": "shipper", "CN": "consignee", "N1": "notify_party"}
HS_PATTERN = re.compile(r"^[0-9]{6,10}$")
MAX_CONSIGNMENTS = 20_000


@dataclass
class GoodsItem:
    segment: int
    number: str = ""
    packages: int | None = None
    package_kind: str = ""
    description: str = ""
    gross_weight_kg: str = ""
    marks: str = ""
    hs_code: str = ""
    un_number: str = ""
    imdg_class: str = ""
    containers: list[str] = field(default_factory=list)


@dataclass
class Equipment:
    number: str
    segment: int
    size_type: str = ""
    seals: list[str] = field(default_factory=list)
    gross_weight_kg: str = ""


@dataclass
class Consignment:
    segment: int
    message: str
    bl_number: str = ""
    shipper: str = ""
    consignee: str = ""
    notify_party: str = ""
    port_of_loading: str = ""
    port_of_discharge: str = ""
    goods: list[GoodsItem] = field(default_factory=list)
    equipment: list[Equipment] = field(default_factory=list)

    def container_numbers(self) -> list[str]:
        numbers = [e.number for e in self.equipment]
        for item in self.goods:
            numbers += [n for n in item.containers if n not in numbers]
        return numbers


@dataclass
class CargoReport:
    messages: list[dict] = field(default_factory=list)
    vessel: dict = field(default_factory=dict)
    consignments: list[Consignment] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        containers = {n for c in self.consignments for n in c.container_numbers()}
        return {
            "message_type": "CUSCAR",
            "messages": self.messages,
            "vessel": self.vessel,
            "counted": {
                "consignments": len(self.consignments),
                "goods_items": sum(len(c.goods) for c in self.consignments),
                "containers": len(containers),
                "refused": len(self.refused),
                "warnings": len(self.warnings),
            },
            "consignments": [asdict(c) for c in self.consignments],
            "refused": self.refused,
            "warnings": self.warnings,
        }


def parse(text: str) -> CargoReport:
    """Read every CUSCAR message in `text`. Raises edifact.Unreadable when nothing can be
    tokenised; a message of another type is skipped with a warning."""
    report = CargoReport()
    for message in edifact.read_messages(text, report.warnings):
        unh = message[0][1]
        kind = _part(unh, 1, 0).upper()
        if kind != "CUSCAR":
            report.warnings.append(
                f"UNH at segment {message[0][0]}: {kind} is not a CUSCAR; skipped."
            )
            continue
        _read_message(message, report)
    if not report.messages:
        raise edifact.Unreadable("The file holds no CUSCAR message.")
    return report


def _read_message(message, report: CargoReport) -> None:
    reference = _part(message[0][1], 0)
    header, groups = [], []
    for position, segment in message[1:]:
        if segment.tag == "CNI":
            groups.append([(position, segment)])
        elif groups and segment.tag not in {"UNT", "CNT"}:
            groups[-1].append((position, segment))
        else:
            header.append((position, segment))
    if not report.vessel:
        report.vessel = edifact._vessel(header, report)
    bgm = next((s for _p, s in header if s.tag == "BGM"), None)
    if len(report.consignments) + len(groups) > MAX_CONSIGNMENTS:
        report.warnings.append(
            f"Message {reference}: more than {MAX_CONSIGNMENTS} consignments; the rest were not read."
        )
        groups = groups[: max(0, MAX_CONSIGNMENTS - len(report.consignments))]
    read = [_consignment(group, reference, report) for group in groups]
    report.consignments += read
    # Equipment listed in the header (not in a consignment) is known to the report too.
    for position, segment in header:
        if segment.tag == "EQD":
            _equipment(position, segment, reference, report)
    if not groups:
        report.warnings.append(f"Message {reference} has no consignment (CNI).")
    report.messages.append(
        {
            "type": "CUSCAR",
            "version": ":".join(str(p) for p in _parts(message[0][1], 1)[1:5] if p),
            "reference": reference,
            "document": _part(bgm, 0),
            "consignments": len(read),
        }
    )


def _consignment(group, reference: str, report: CargoReport) -> Consignment:
    position, cni = group[0]
    consignment = Consignment(segment=position, message=reference)
    consignment.bl_number = _part(cni, 1, 0)[:35]
    item: GoodsItem | None = None
    equipment: Equipment | None = None
    for position, segment in group[1:]:
        tag, qualifier = segment.tag, _part(segment, 0)
        if tag == "RFF" and _part(segment, 0, 0) == "BM":
            consignment.bl_number = consignment.bl_number or _part(segment, 0, 1)[:35]
        elif tag == "NAD" and qualifier in PARTY_ROLES:
            setattr(consignment, PARTY_ROLES[qualifier], _party(segment))
        elif tag == "LOC" and qualifier in {"9", "11"} and item is None:
            name = "port_of_loading" if qualifier == "9" else "port_of_discharge"
            setattr(consignment, name, _part(segment, 1, 0)[:5])
        elif tag == "GID":
            item = GoodsItem(segment=position, number=qualifier)
            item.packages = edifact._int(_part(segment, 1, 0))
            item.package_kind = _part(segment, 1, 1)[:8]
            consignment.goods.append(item)
            equipment = None
        elif tag == "EQD":
            equipment = _equipment(position, segment, reference, report)
            if equipment is not None:
                consignment.equipment.append(equipment)
            item = None
        elif tag == "SEL" and equipment is not None:
            equipment.seals.append(_part(segment, 0)[:20])
        elif tag == "MEA" and equipment is not None:
            equipment.gross_weight_kg = _weight(segment) or equipment.gross_weight_kg
        elif item is not None:
            _goods_segment(item, position, segment, report)
    if not consignment.bl_number:
        report.warnings.append(
            f"CNI at segment {consignment.segment} names no B/L (CNI or RFF+BM)."
        )
    return consignment


def _goods_segment(item: GoodsItem, position: int, segment, report: CargoReport) -> None:
    tag, qualifier = segment.tag, _part(segment, 0)
    if tag == "FTX" and qualifier == "AAA":
        text = " ".join(str(p) for p in _parts(segment, 3) if p)
        item.description = " ".join(filter(None, [item.description, text]))[:250]
    elif tag == "MEA":
        item.gross_weight_kg = _weight(segment) or item.gross_weight_kg
    elif tag == "PCI":
        item.marks = " ".join(str(p) for p in _parts(segment, 1) if p)[:100]
    elif tag == "SGP":
        number = identifiers.normalise_container_number(_part(segment, 0, 0))
        if number and number not in item.containers:
            item.containers.append(number)
    elif tag in {"PIA", "CST"}:
        code = _hs_from(segment)
        if code and not HS_PATTERN.match(code):
            report.warnings.append(
                f"{tag} at segment {position}: {code} is not a commodity code; ignored."
            )
        elif code:
            item.hs_code = code
    elif tag == "DGS" and not item.un_number:
        item.imdg_class = _part(segment, 1, 0)[:4]
        item.un_number = _part(segment, 2, 0)[:4]


def _hs_from(segment) -> str:
    """PIA+5+<code>:HS or CST++<code>:<list>: the first component of the first coded element."""
    for index in range(1, len(segment.elements)):
        code = re.sub(r"[.\s]", "", _part(segment, index, 0))
        if code:
            return code
    return ""


def _equipment(position: int, segment, reference: str, report: CargoReport) -> Equipment | None:
    if _part(segment, 0) not in {"CN", ""}:
        return None  # trailers, pallets and other equipment
    number = identifiers.normalise_container_number(_part(segment, 1, 0))
    try:
        identifiers.validate_container_number(number)
    except ValidationError as error:
        reason = edifact._container_reason(number, error)
        report.refused.append(
            {"container": number, "segment": f"EQD at segment {position}", "reason": reason,
             "message": reference}
        )  # fmt: skip
        return None
    size_type = _part(segment, 2, 0)
    return Equipment(number=number, segment=position, size_type=size_type[:4])


def _party(segment) -> str:
    """A NAD's name: the name lines (C080), else the party's identifier (C082)."""
    name = " ".join(str(p).strip() for p in _parts(segment, 3) if p)
    name = name or " ".join(str(p).strip() for p in _parts(segment, 2) if p)
    return (name or _part(segment, 1, 0))[:120]


def _weight(segment) -> str:
    kind = _part(segment, 1, 0) or _part(segment, 0)
    if kind not in edifact.WEIGHT_QUALIFIERS:
        return ""
    unit, value = _part(segment, 2, 0), _part(segment, 2, 1)
    try:
        kilograms = Decimal(value) * edifact.UNIT_TO_KG[unit]
    except (InvalidOperation, KeyError):
        return ""
    if not kilograms.is_finite() or not 0 < kilograms < Decimal("1e9"):
        return ""
    return str(kilograms.quantize(Decimal("0.1")))
