"""What every EDIFACT import says about a file, whatever its messages: what was recognised,
counted, accepted, warned and refused. The command prints it and the upload page shows it,
from the one summary each reader and import step fills in its own shape."""

from collections import Counter

# Counts a reader gives that are the outcome's own columns, not things counted in the file.
_NOT_COUNTED = {"refused", "warnings"}


def outcome(summary: dict) -> dict:
    """The five answers for a summary (`_process` or `edifact_import_text` of
    shipping.edifact_imports).

    - recognised: each message type with its number of messages;
    - counted: what the file holds (containers; consignments and goods items; crew and
      passengers);
    - accepted: what the platform took in (manifest lines written or replaced, gate moves
      passed, discharges recorded; for a crew or passenger list, the people ready to file);
      0 when the file was only read;
    - warned: warnings (faults that did not stop the file);
    - refused: containers, consignments or people refused (naming the segment in the
      summary), and gate moves refused at the gate.
    """
    types = Counter(m.get("type", "") for m in summary.get("messages", []))
    counted = summary.get("counted") or {  # the container readers: read and refused alike
        "containers": summary.get("containers_read", 0) + summary.get("containers_rejected", 0)
    }
    imported = summary.get("imported") or {}
    gate = summary.get("gate") or {}
    discharge = summary.get("discharge") or {}
    accepted = (
        imported.get("created", 0)
        + imported.get("updated", 0)
        + len(gate.get("passed", []))
        + discharge.get("discharged", 0)
    )
    if summary.get("message_type") == "PAXLST" and imported:
        accepted = counted.get("crew", 0) + counted.get("passengers", 0)
    return {
        "recognised": [{"type": kind, "messages": n} for kind, n in types.items() if kind],
        "counted": {k: v for k, v in counted.items() if k not in _NOT_COUNTED},
        "accepted": accepted,
        "warned": len(summary.get("warnings", [])),
        "refused": len(summary.get("refused", []))
        + len(summary.get("rejected", []))
        + len(gate.get("refused_at_gate", [])),
    }
