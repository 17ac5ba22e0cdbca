"""Live events about inspection, and the groups they go to."""

from typing import TypedDict


class ContainerSelected(TypedDict):
    type: str
    decision_id: int
    declaration_id: int
    container: str
    outcome: str
    inspection_area: str


def queue_group(customs_office_id: int) -> str:
    return f"inspection-queue.{customs_office_id}"


def container_selected(decision) -> ContainerSelected:
    return {
        "type": "inspection.container_selected",
        "decision_id": decision.pk,
        "declaration_id": decision.declaration_id,
        "container": decision.container.number,
        "outcome": decision.outcome,
        "inspection_area": decision.inspection_area.name if decision.inspection_area else "",
    }
