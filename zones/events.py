"""Live events about zones, and the groups they go to."""

from typing import TypedDict


class GatePassed(TypedDict):
    type: str
    gate_id: int
    passage_id: int
    lane: int
    truck_plate: str
    decision: str
    reason: str
    answer_ms: float


class StockChanged(TypedDict):
    type: str
    movement_ids: list[int]


def gate_group(gate_id: int) -> str:
    return f"zone-gate.{gate_id}"


def gate_passed(passage) -> GatePassed:
    return {
        "type": "zones.gate_passed",
        "gate_id": passage.gate_id,
        "passage_id": passage.pk,
        "lane": passage.lane,
        "truck_plate": passage.truck_plate,
        "decision": passage.decision,
        "reason": passage.reason,
        "answer_ms": round(passage.answer_ms, 2),
    }


def stock_changed(movement_ids: list[int]) -> StockChanged:
    """To the enterprise's organisation group: its stock page re-fetches."""
    return {"type": "zones.stock_changed", "movement_ids": movement_ids}


class UploadProgress(TypedDict):
    type: str
    id: int
    status: str
    percent: int


def upload_group(upload_id: int) -> str:
    return f"zone-upload.{upload_id}"


def upload_progress(upload) -> UploadProgress:
    return {
        "type": "zones.upload_progress",
        "id": upload.pk,
        "status": upload.status,
        "percent": upload.percent,
    }
