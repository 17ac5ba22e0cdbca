"""Live events about the dashboards, and the groups they go to."""

from typing import TypedDict


class DashboardUpdated(TypedDict):
    type: str
    events: int


PORT_KEY = "port"


def port_dashboard_group() -> str:
    """Everyone with the port-wide view: port authority, customs, terminal operators."""
    return "dashboard.port"


def organisation_dashboard_group(organisation_id: int) -> str:
    """An enterprise's own view: its consignments only."""
    return f"dashboard.org.{organisation_id}"


def dashboard_groups(organisation_ids: list[int]) -> list[str]:
    return [port_dashboard_group()] + [organisation_dashboard_group(i) for i in organisation_ids]


def dashboard_updated(event_count: int) -> DashboardUpdated:
    """New events were folded into the rollups: pages re-fetch their figures."""
    return {"type": "analytics.dashboard_updated", "events": event_count}
