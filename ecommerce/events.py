"""Live events of e-commerce: one message per decided set and group, never one per list.
Pages re-fetch what they show when one arrives."""

from port import live

BOARD_GROUP = "ecommerce.board"
QUEUE_GROUP = "ecommerce.queue"


def lists_decided(counts: dict) -> dict:
    return {"type": "ecommerce.lists_decided", "counts": counts}


def list_status_changed(list_id: int, status: str) -> dict:
    return {"type": "ecommerce.list_status_changed", "list": list_id, "status": status}


def tax_months_changed() -> dict:
    return {"type": "ecommerce.tax_months_changed"}


def publish_decided(*, declarant_ids: list[int], platform_ids: list[int], counts: dict) -> None:
    groups = [live.organisation_group(o) for o in sorted({*declarant_ids, *platform_ids})]
    groups.append(BOARD_GROUP)
    if counts.get("selected"):
        groups.append(QUEUE_GROUP)
    live.publish_on_commit(groups=groups, event=lists_decided(counts))


def publish_status_changed(*, list_id: int, status: str, organisation_ids: list[int]) -> None:
    groups = [live.organisation_group(o) for o in sorted(set(organisation_ids))]
    live.publish_on_commit(
        groups=[*groups, QUEUE_GROUP, BOARD_GROUP], event=list_status_changed(list_id, status)
    )
