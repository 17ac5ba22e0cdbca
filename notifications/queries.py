from django.db.models import Count, QuerySet

from notifications.models import Contact, Notification, Preference
from notifications.rules import KINDS
from port.models import User


def notification_list(*, user: User) -> QuerySet[Notification]:
    """The user's own notifications, newest first: nobody sees another's."""
    return Notification.objects.filter(recipient=user)


def unread_counts(*, user_ids: list[int]) -> dict[int, int]:
    counts = dict.fromkeys(user_ids, 0)
    rows = (
        Notification.objects.filter(recipient_id__in=user_ids, read_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
    )
    counts.update({row["recipient_id"]: row["n"] for row in rows})
    return counts


def preferences_for(*, user: User) -> tuple[Contact, list[dict]]:
    """The user's contact and, for every kind, whether e-mail and SMS are on."""
    contact = Contact.objects.filter(user=user).first() or Contact(user=user)
    chosen = {p.kind: p for p in Preference.objects.filter(user=user)}
    rows = [
        {
            "kind": kind,
            "label": entry.label,
            "email": chosen[kind].email if kind in chosen else entry.email,
            "sms": chosen[kind].sms if kind in chosen else entry.sms,
        }
        for kind, entry in KINDS.items()
    ]
    return contact, rows
