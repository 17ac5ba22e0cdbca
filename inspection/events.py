"""Live events about inspection, and the groups they go to."""

from typing import TypedDict


class ContainersSelected(TypedDict):
    type: str
    declaration_id: int
    inspection_area: str
    containers: list[dict[str, str]]


def queue_group(customs_office_id: int) -> str:
    return f"inspection-queue.{customs_office_id}"


def containers_selected(declaration_id: int, decisions: list) -> ContainersSelected:
    """One event for all of a declaration's selected containers, however many."""
    return {
        "type": "inspection.containers_selected",
        "declaration_id": declaration_id,
        "inspection_area": decisions[0].inspection_area.name,
        "containers": [{"number": d.container.number, "outcome": d.outcome} for d in decisions],
    }
