"""Live events about alarms, and the group they go to (one per customs office)."""

from typing import TypedDict


class AlarmsChanged(TypedDict):
    type: str
    alarm_ids: list[int]
    status: str
    severity: str


def alarms_group(customs_office_id: int) -> str:
    return f"alarms.{customs_office_id}"


def alarms_changed(alarms: list) -> AlarmsChanged:
    """One event for a batch (the board re-fetches): ids, and the first one's state."""
    return {
        "type": "alarms.changed",
        "alarm_ids": [a.pk for a in alarms],
        "status": alarms[0].status,
        "severity": alarms[0].severity,
    }
