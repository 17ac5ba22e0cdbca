"""UN/EDIFACT CUSDEC in, CUSRES out, through pydifact (docs/edifact.md lists the segments).

A CUSDEC is read into the same FilingInput the browser, the API and ERP files produce and
filed by the one filing service. The answer is a CUSRES: acceptance with the declaration
number and status, or refusal with one ERP/ERC/FTX error group per problem, each naming
the segment at fault.
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone
from pydifact.exceptions import EDISyntaxError
from pydifact.segmentcollection import Interchange, Message, RawSegmentCollection
from pydifact.segments import Segment

from declarations import services
from declarations.models import Declaration, DeclarationItem
from port.edifact import service_segment_fault
from port.errors import InvalidInput
from port.models import Organisation, PortCall, User
from reference import services as reference_services

# UN/ECE Recommendation 20 unit codes <-> our units.
UNITS = {"KGM": "kg", "H87": "pcs", "SET": "set", "LTR": "l", "MTR": "m", "MTK": "m2", "PR": "pair"}
UNIT_CODES = {unit: code for code, unit in UNITS.items()}
# BGM document name codes (UNCL 1001): goods declaration for importation / exportation.
DOCUMENT_DIRECTIONS = {"929": "import", "830": "export"}
# Where each filing field lives in a CUSDEC, to name the segment in an error.
FIELD_SEGMENTS = {
    "enterprise": "NAD",
    "port_call": "TDT",
    "bl_number": "RFF+BM",
    "containers": "EQD",
    "direction": "BGM",
    "port_of_loading": "LOC+9",
    "port_of_discharge": "LOC+11",
    "trading_country": "LOC+27/35",
    "currency": "CUX",
    "incoterm": "TOD",
    "invoice_total": "MOA+39",
    "gross_weight": "MEA+AAE+G",
    "net_weight": "MEA+AAE+AAL",
    "packages": "CNT+11",
    "items": "CST",
}
ITEM_FIELD_SEGMENTS = {
    "hs_code": "CST",
    "description": "FTX+AAA",
    "quantity": "QTY",
    "unit": "QTY",
    "value": "MOA+38",
    "unit_price": "PRI",
    "origin_country": "LOC+27",
    "cas_number": "PIA",
    "certificate_number": "DOC+861",
}


class EdifactError(Exception):
    """A malformed message: the segment at fault and what is wrong with it."""

    def __init__(self, segment: str, message: str):
        self.segment, self.message = segment, message
        super().__init__(f"{segment}: {message}")


@dataclass
class Parsed:
    sender: str
    reference: str
    filing: services.FilingInput


@dataclass
class CusdecResult:
    declaration: Declaration | None
    cusres: str
    errors: list[tuple[str, str]]


def declaration_file_cusdec(*, user: User, text: str) -> CusdecResult:
    """File the declaration a CUSDEC carries; answer with a CUSRES either way.

    Files through services.declaration_file_input with the idempotency key
    cusdec:<sender>:<BGM reference>, so a message sent twice is filed once.
    """
    try:
        parsed = cusdec_parse(text)
    except EdifactError as error:
        errors = [(error.segment, error.message)]
        return CusdecResult(None, cusres_refusal(reference="", errors=errors), errors)
    try:
        declaration = services.declaration_file_input(
            user=user,
            filing=parsed.filing,
            idempotency_key=f"cusdec:{parsed.sender}:{parsed.reference}"[:100],
        )
    except InvalidInput as refused:
        errors = segment_errors(refused.errors)
        return CusdecResult(None, cusres_refusal(reference=parsed.reference, errors=errors), errors)
    return CusdecResult(declaration, cusres_for(declaration, reference=parsed.reference), [])


def cusdec_parse(text: str) -> Parsed:
    """Read a CUSDEC into a FilingInput. Raises EdifactError naming the segment."""
    segments = _segments(text)
    by_tag: dict[str, list[Segment]] = {}
    for segment in segments:
        by_tag.setdefault(segment.tag, []).append(segment)
    unh = _one(by_tag, "UNH")
    message_type = _component(unh, 1, 0)
    if message_type != "CUSDEC":
        raise EdifactError("UNH", f"the message type is {message_type or 'missing'}, not CUSDEC")
    bgm = _one(by_tag, "BGM")
    document = _component(bgm, 0, 0)
    if document not in DOCUMENT_DIRECTIONS:
        raise EdifactError(
            "BGM", f"document code {document or 'missing'} is neither 929 (import) nor 830 (export)"
        )
    reference = _element(bgm, 1)
    if not reference:
        raise EdifactError("BGM", "the document number (element 2) is missing")
    header, items = _split_items(segments)
    filing = services.FilingInput(
        enterprise_id=_enterprise(header),
        port_call_id=_port_call(header),
        bl_number=_qualified(header, "RFF", "BM", component=1) or "",
        container_numbers=[
            _element(s, 1) for s in header if s.tag == "EQD" and _element(s, 0) == "CN"
        ],
        items=[_item(n, lines) for n, lines in enumerate(items, start=1)],
        direction=DOCUMENT_DIRECTIONS[document],
        header=services.HeaderInput(
            port_of_loading=_qualified(header, "LOC", "9") or "",
            port_of_discharge=_qualified(header, "LOC", "11") or "",
            trading_country=_qualified(header, "LOC", "27")
            or _qualified(header, "LOC", "35")
            or "",
            currency=_currency(header),
            incoterm=_incoterm(header),
            invoice_total=_moa(header, "39"),
            gross_weight=_measure(header, "G"),
            net_weight=_measure(header, "AAL"),
            packages=_qualified(header, "CNT", "11", component=1) or "",
        ),
    )
    sender = _component(_first(by_tag, "UNB"), 1, 0) if "UNB" in by_tag else "anonymous"
    return Parsed(sender=sender, reference=reference, filing=filing)


def segment_errors(errors: dict) -> list[tuple[str, str]]:
    """The filing service's field errors as (segment, message) pairs."""
    out = []
    for field, messages in errors.items():
        if field == "items" and isinstance(messages, dict):
            for index, item_errors in messages.items():
                for item_field, item_messages in item_errors.items():
                    segment = (
                        f"{ITEM_FIELD_SEGMENTS.get(item_field, 'CST')} (item {int(index) + 1})"
                    )
                    out += [(segment, m) for m in item_messages]
            continue
        out += [(FIELD_SEGMENTS.get(field, field), m) for m in messages]
    return out


def cusres_for(declaration: Declaration, *, reference: str = "") -> str:
    """A CUSRES telling the declarant its declaration's number and status."""
    segments = [
        Segment("BGM", "962", declaration.number or str(declaration.pk), "9"),
        Segment("DTM", ["137", timezone.now().strftime("%Y%m%d%H%M"), "203"]),
        Segment("FTX", "AHN", "", "", declaration.status.upper()),
        Segment("RFF", ["ABT", declaration.number or ""]),
    ]
    if reference:
        segments.append(Segment("RFF", ["ACW", reference]))
    for container in declaration.containers.all():
        segments.append(Segment("EQD", "CN", container.number))
    return _interchange("CUSRES", segments)


def cusres_refusal(*, reference: str, errors: list[tuple[str, str]]) -> str:
    """A CUSRES refusing a CUSDEC: one ERP/ERC/FTX group per error."""
    segments = [
        Segment("BGM", "962", reference or "UNKNOWN", "27"),
        Segment("DTM", ["137", timezone.now().strftime("%Y%m%d%H%M"), "203"]),
        Segment("FTX", "AHN", "", "", "REFUSED"),
    ]
    if reference:
        segments.append(Segment("RFF", ["ACW", reference]))
    for segment, message in errors:
        segments += [
            Segment("ERP", "1"),
            Segment("ERC", "12"),  # UNCL 9321 12: invalid value
            Segment("FTX", "AAO", "", "", [_clip(f"{segment}: {message}")]),
        ]
    return _interchange("CUSRES", segments)


def cusdec_for(declaration: Declaration) -> str:
    """Write a declaration as a CUSDEC (for round trips and the demo samples)."""
    call = declaration.port_call
    document = "929" if declaration.direction == Declaration.Direction.IMPORT else "830"
    party = "IM" if declaration.direction == Declaration.Direction.IMPORT else "EX"
    segments = [
        Segment("BGM", document, declaration.number or f"PW{declaration.pk}", "9"),
        Segment("NAD", party, [declaration.enterprise.customs_code, "", "95"]),
        Segment(
            "TDT",
            "20",
            call.voyage,
            "1",
            "",
            "",
            "",
            "",
            ["", "", "", call.vessel.imo_number, "", call.vessel.name],
        ),
        Segment("RFF", ["BM", declaration.bl_number]),
    ]
    if declaration.port_of_loading:
        segments.append(Segment("LOC", "9", declaration.port_of_loading))
    if declaration.port_of_discharge:
        segments.append(Segment("LOC", "11", declaration.port_of_discharge))
    segments.append(Segment("CUX", ["2", declaration.currency, "4"]))
    segments += [Segment("EQD", "CN", c.number) for c in declaration.containers.all()]
    segments.append(Segment("UNS", "D"))
    for item in declaration.items.all():
        segments += _item_segments(item)
    segments.append(Segment("UNS", "S"))
    return _interchange("CUSDEC", segments)


# --- reading ------------------------------------------------------------------------------


def _segments(text: str) -> list[Segment]:
    text = (text or "").lstrip("\ufeff").strip()
    if not text:
        raise EdifactError("UNH", "the message is empty")
    fault = service_segment_fault(text)
    if fault:
        raise EdifactError(*fault)
    try:
        if text.startswith(("UNA", "UNB")):
            collection = Interchange.from_str(text)
            list(collection.get_messages())  # checks UNH/UNT pairing
        else:
            collection = RawSegmentCollection.from_str(text)
    except EDISyntaxError as error:
        raise EdifactError(
            _syntax_segment(str(error)), str(error).removeprefix("EDIFACT Syntax Error: ")
        ) from None
    except (AssertionError, IndexError, KeyError, TypeError, ValueError, AttributeError):
        # pydifact indexes into segments unchecked; the checks above catch what we know of.
        raise EdifactError("syntax", "the interchange is not well-formed UN/EDIFACT") from None
    segments = list(collection.segments)
    tags = [s.tag for s in segments]
    for tag in ("UNH", "UNT"):
        if tag not in tags:
            raise EdifactError(tag, "the segment is missing")
    return segments


def _syntax_segment(message: str) -> str:
    for tag in ("UNB", "UNH", "UNT", "UNZ", "UNA"):
        if tag in message:
            return tag
    return "syntax"


def _split_items(segments: list[Segment]) -> tuple[list[Segment], list[list[Segment]]]:
    """Header segments, and the segments of each goods item (CST to the next CST)."""
    header, items = [], []
    for segment in segments:
        if segment.tag == "CST":
            items.append([segment])
        elif items and segment.tag not in ("UNS", "CNT", "UNT", "UNZ", "AUT"):
            items[-1].append(segment)
        else:
            header.append(segment)
    return header, items


def _item(number: int, lines: list[Segment]) -> services.ItemInput:
    cst = lines[0]
    hs_code = _component(cst, 1, 0)
    if not hs_code:
        raise EdifactError(f"CST (item {number})", "the commodity code (element 2) is missing")
    quantity = next((s for s in lines if s.tag == "QTY"), None)
    unit_code = _component(quantity, 0, 2) if quantity else ""
    if unit_code and unit_code not in UNITS:
        raise EdifactError(
            f"QTY (item {number})", f"unit {unit_code} is not one of {', '.join(UNITS)}"
        )
    return services.ItemInput(
        hs_code=hs_code,
        description=" ".join(
            _component(s, 3, 0) for s in lines if s.tag == "FTX" and _element(s, 0) == "AAA"
        ),
        quantity=_component(quantity, 0, 1) if quantity else "",
        unit=UNITS.get(unit_code, "kg"),
        value=_moa(lines, "38"),
        unit_price=_qualified(lines, "PRI", "AAA", component=1) or "",
        origin_country=_qualified(lines, "LOC", "27") or "",
        cas_number=next(
            (_component(s, 1, 0) for s in lines if s.tag == "PIA" and _component(s, 1, 1) == "CAS"),
            "",
        ),
        certificate_number=_qualified(lines, "DOC", "861", element=1) or "",
    )


def _enterprise(header: list[Segment]) -> int | None:
    party = next(
        (s for s in header if s.tag == "NAD" and _element(s, 0) in ("IM", "EX", "CN", "CZ")), None
    )
    if party is None:
        return None  # the filer's own enterprise
    code = _component(party, 1, 0)
    found = Organisation.objects.filter(customs_code=code).values_list("pk", flat=True).first()
    return found or -1  # -1: the filing service refuses it, naming NAD


def _port_call(header: list[Segment]) -> int | None:
    tdt = next((s for s in header if s.tag == "TDT"), None)
    if tdt is None:
        raise EdifactError("TDT", "the means of transport (vessel and voyage) is missing")
    voyage = _element(tdt, 1)
    imo = _component(tdt, 7, 3) or _component(tdt, 7, 0)
    if not voyage or not imo:
        raise EdifactError(
            "TDT", "the voyage (element 2) and the vessel's IMO number (element 8) are required"
        )
    call = (
        PortCall.objects.exclude(status=PortCall.Status.DEPARTED)
        .filter(vessel__imo_number=imo, voyage__iexact=voyage)
        .values_list("pk", flat=True)
        .first()
    )
    return call or -1


def _currency(header) -> str:
    cux = next((s for s in header if s.tag == "CUX"), None)
    return _component(cux, 0, 1) if cux else "CNY"


def _incoterm(header) -> str:
    tod = next((s for s in header if s.tag == "TOD"), None)
    return _component(tod, 2, 0) if tod else ""


def _moa(segments, qualifier: str) -> str:
    return _qualified(segments, "MOA", qualifier, component=1) or ""


def _measure(header, qualifier: str) -> str:
    for s in header:
        if s.tag == "MEA" and _element(s, 0) == "AAE" and _component(s, 1, 0) == qualifier:
            return _component(s, 2, 1)
    return ""


def _qualified(
    segments, tag: str, qualifier: str, *, component: int | None = None, element: int = 1
):
    """The value of the first `tag` segment whose first element or component is `qualifier`."""
    for s in segments:
        if s.tag != tag:
            continue
        if component is not None and _component(s, 0, 0) == qualifier:
            return _component(s, 0, component)
        if component is None and _element(s, 0) == qualifier:
            return _component(s, element, 0)
    return None


def _one(by_tag, tag: str) -> Segment:
    found = by_tag.get(tag, [])
    if len(found) != 1:
        raise EdifactError(
            tag, "the segment is missing" if not found else "the segment appears more than once"
        )
    return found[0]


def _first(by_tag, tag: str) -> Segment:
    return by_tag[tag][0]


def _element(segment: Segment | None, index: int) -> str:
    if segment is None or index >= len(segment.elements):
        return ""
    value = segment.elements[index]
    return (value[0] if isinstance(value, list) and value else value or "").strip()


def _component(segment: Segment | None, index: int, part: int) -> str:
    if segment is None or index >= len(segment.elements):
        return ""
    value = segment.elements[index]
    if isinstance(value, list):
        return (value[part] if part < len(value) else "").strip()
    return value.strip() if part == 0 and value else ""


# --- writing ------------------------------------------------------------------------------


def _item_segments(item: DeclarationItem) -> list[Segment]:
    segments = [
        Segment("CST", str(item.line_number), [item.hs_code, "122"]),
        Segment("FTX", "AAA", "", "", _clip(item.description)),
        Segment("QTY", ["1", f"{item.quantity.normalize():f}", UNIT_CODES.get(item.unit, "KGM")]),
        Segment("MOA", ["38", f"{item.value:f}"]),
        Segment("LOC", "27", item.origin_country),
    ]
    if item.certificate_number:
        segments.append(Segment("DOC", "861", item.certificate_number))
    return segments


def _interchange(message_type: str, segments: list[Segment]) -> str:
    now = timezone.now().astimezone(datetime.UTC)
    # Unique and increasing across processes (a sequence), so two replies in one second
    # differ; the interchange holds one message, which takes the same number.
    reference = reference_services.next_interchange_reference()
    interchange = Interchange(
        sender=["PORTWISE"],
        recipient=["DECLARANT"],
        control_reference=reference,
        syntax_identifier=("UNOW", 4),
        timestamp=now,
    )
    message = Message(reference, [message_type, "D", "96B", "UN"])
    message.add_segments(segments)
    interchange.add_message(message)
    return interchange.serialize(break_lines=True)


def _clip(text: str) -> str:
    return (text or "")[:350]
