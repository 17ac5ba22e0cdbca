"""Live events about vessel calls and filings, and the groups they go to."""

from typing import TypedDict

from port import live


class PortCallStatusChanged(TypedDict):
    type: str
    id: int
    status: str
    status_label: str


class FilingStatusChanged(TypedDict):
    type: str
    id: int
    port_call: int
    status: str
    status_label: str
    version: int


class ReviewDecided(TypedDict):
    type: str
    id: int
    filing: int
    agency_kind: str
    status: str
    status_label: str


class DangerousGoodsChecked(TypedDict):
    type: str
    port_call: int
    open_flags: int


class ImportProgress(TypedDict):
    type: str
    id: int
    status: str
    progress: int


class BoardingChanged(TypedDict):
    type: str
    id: int
    port_call: int
    status: str
    scheduled_at: str


def port_call_group(port_call_id: int) -> str:
    return f"shipping.call.{port_call_id}"


def filing_group(filing_id: int) -> str:
    return f"shipping.filing.{filing_id}"


def filing_groups(filing) -> list[str]:
    """The agent's organisation and whoever watches the filing's page."""
    return [live.organisation_group(filing.agent_id), filing_group(filing.pk)]


def port_call_status_changed(call, *, event_type: str) -> PortCallStatusChanged:
    return {
        "type": event_type,
        "id": call.pk,
        "status": call.status,
        "status_label": str(call.get_status_display()),
    }


def filing_status_changed(filing, *, event_type: str) -> FilingStatusChanged:
    return {
        "type": event_type,
        "id": filing.pk,
        "port_call": filing.port_call_id,
        "status": filing.status,
        "status_label": str(filing.get_status_display()),
        "version": filing.version,
    }


def review_decided(review) -> ReviewDecided:
    return {
        "type": "shipping.review_decided",
        "id": review.pk,
        "filing": review.filing_id,
        "agency_kind": review.agency_kind,
        "status": review.status,
        "status_label": str(review.get_status_display()),
    }


def dangerous_goods_checked(port_call_id: int, open_flags: int) -> DangerousGoodsChecked:
    return {"type": "shipping.dg_checked", "port_call": port_call_id, "open_flags": open_flags}


def import_progress(edifact_import) -> ImportProgress:
    return {
        "type": "shipping.import_progress",
        "id": edifact_import.pk,
        "status": edifact_import.status,
        "progress": edifact_import.progress,
    }


def boarding_changed(boarding) -> BoardingChanged:
    return {
        "type": "shipping.boarding_changed",
        "id": boarding.pk,
        "port_call": boarding.port_call_id,
        "status": boarding.status,
        "scheduled_at": boarding.scheduled_at.isoformat(),
    }
