"""Live events about inspection, and the groups they go to."""

from typing import TypedDict


class ContainersSelected(TypedDict):
    type: str
    declaration_id: int
    inspection_area: str
    containers: list[dict[str, str]]


def queue_group(customs_office_id: int) -> str:
    return f"inspection-queue.{customs_office_id}"


def containers_selected_of(
    declaration_id: int, area_name: str, chosen: list[tuple[str, str, int]]
) -> ContainersSelected:
    """One event for all of a declaration's selected containers, however many: `chosen`
    holds (container number, outcome, area id)."""
    return {
        "type": "inspection.containers_selected",
        "declaration_id": declaration_id,
        "inspection_area": area_name,
        "containers": [{"number": number, "outcome": outcome} for number, outcome, _ in chosen],
    }


class ContainersSelectedBatch(TypedDict):
    type: str
    declaration_ids: list[int]


def containers_selected_batch(declaration_ids: list[int]) -> ContainersSelectedBatch:
    """A batch's selections for one office's queue: the page re-fetches."""
    return {"type": "inspection.containers_selected", "declaration_ids": declaration_ids}


class InspectionChanged(TypedDict):
    type: str
    inspection_id: int
    declaration_id: int
    container: str
    ticket: str
    status: str
    area: str


class AlertRaised(TypedDict):
    type: str
    alert_id: int
    container: str
    message: str


def inspection_changed(inspection, decision) -> InspectionChanged:
    """A ticket was issued or moved on; the board and the terminal's hoisting list refresh."""
    return {
        "type": "inspection.changed",
        "inspection_id": inspection.pk,
        "declaration_id": decision.declaration_id,
        "container": decision.container.number,
        "ticket": inspection.ticket,
        "status": inspection.status,
        "area": inspection.area.code,
    }


def alert_raised(alert) -> AlertRaised:
    return {
        "type": "inspection.alert_raised",
        "alert_id": alert.pk,
        "container": alert.container.number,
        "message": alert.message,
    }


def diversion_changed(port_call_id: int, count: int) -> dict:
    """New or changed instructions for a call: the terminal's pages refresh."""
    return {"type": "diversion.changed", "port_call": port_call_id, "instructions": count}


class AccessChanged(TypedDict):
    type: str
    declaration_id: int | None
    stage: str
    status: str


def access_changed(check) -> AccessChanged:
    """An access stage was opened or decided: the officers' list and the declaration refresh.
    None for a batch of new holds (the list re-fetches)."""
    return {
        "type": "inspection.access_changed",
        "declaration_id": check.declaration_id if check else None,
        "stage": check.kind if check else "",
        "status": check.status if check else "held",
    }


class AttendanceChanged(TypedDict):
    type: str
    request_id: int
    inspection_id: int
    declaration_id: int
    status: str


def attendance_changed(request, declaration_id: int) -> AttendanceChanged:
    """A request not to attend was made or decided."""
    return {
        "type": "inspection.attendance_changed",
        "request_id": request.pk,
        "inspection_id": request.inspection_id,
        "declaration_id": declaration_id,
        "status": request.status,
    }


class QueueMoved(TypedDict):
    type: str
    area_id: int


def queue_moved(area_id: int) -> QueueMoved:
    """A ticket left or joined the area's queue: the waiting enterprises' places changed.
    Carries nothing of anyone's ticket."""
    return {"type": "inspection.queue_moved", "area_id": area_id}
