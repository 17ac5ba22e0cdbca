"""Checks on the UN/EDIFACT service segments (UNB, UNH, UNT, UNZ) before pydifact reads a file.

pydifact indexes into these segments without checking their length, so a short UNB raises
IndexError from deep inside it. Both readers (declarations' CUSDEC, shipping's bay plans
and discharge lists) call `service_segment_fault` first and refuse such a file naming the
segment and the element that is missing.
"""

DEFAULT_SEPARATORS = ":+.? '"  # component, data, decimal mark, release, reserved, terminator
# Elements each service segment must carry (standards.md 1.2): UNB syntax identifier (with
# its version), sender, recipient, date:time and control reference; UNH reference and
# message type; UNT segment count and reference; UNZ message count and reference.
REQUIRED = {
    "UNB": ["syntax identifier", "sender", "recipient", "date and time", "control reference"],
    "UNH": ["message reference", "message type"],
    "UNT": ["segment count", "message reference"],
    "UNZ": ["message count", "control reference"],
}


def service_segment_fault(text: str, tags=tuple(REQUIRED)) -> tuple[str, str] | None:
    """(segment, what is wrong) for the first malformed service segment of `tags`, or None."""
    for position, elements in enumerate(tokenise(text), start=1):
        tag = elements[0][0] if elements and elements[0] else ""
        names = REQUIRED.get(tag) if tag in tags else None
        if names is None:
            continue
        for index, name in enumerate(names, start=1):
            if index >= len(elements) or not any(elements[index]):
                return tag, f"segment {position}: element {index + 1} ({name}) is missing"
        if tag == "UNB" and (len(elements[1]) < 2 or not elements[1][1]):
            return tag, f"segment {position}: the syntax identifier has no version (UNOC:3)"
        if tag == "UNB" and len(elements[4]) < 2:
            return tag, f"segment {position}: the date and time are not date:time"
    return None


def tokenise(text: str) -> list[list[list[str]]]:
    """Segments as lists of elements as lists of components, honouring the release mark."""
    separators = DEFAULT_SEPARATORS
    if text.startswith("UNA") and len(text) >= 9:
        separators, text = text[3:9], text[9:]
    component, data, release, terminator = (
        separators[0],
        separators[1],
        separators[3],
        separators[5],
    )
    segments: list[list[list[str]]] = []
    elements: list[list[str]] = [[]]
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == release:
            escaped = True
        elif char in (component, data, terminator):
            elements[-1].append("".join(current).strip())
            current = []
            if char == data:
                elements.append([])
            elif char == terminator:
                segments.append(elements)
                elements = [[]]
        else:
            current.append(char)
    if current or elements != [[]]:
        elements[-1].append("".join(current).strip())
        segments.append(elements)
    return segments
