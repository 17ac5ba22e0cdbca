"""Live events of notifications: each person has a group of their own."""

from port.live import user_group

__all__ = ["notifications_changed", "user_group"]


def notifications_changed(unread: int) -> dict:
    return {"type": "notification.changed", "unread": unread}
