"""Notifications: made from the timeline in sets, sent once per channel, read by their owner.

`notifications_make` reads the timeline past its cursor (beat, every few seconds), makes one
notification per event and member of the event's organisation (unique per event and
recipient, so a second run makes nothing), and queues one delivery task for the batch.
`notifications_deliver` sends each by e-mail and SMS as its recipient prefers, in their
language: a channel is claimed (its time set) before sending and released if sending fails,
so a notification goes out once per channel even when the task runs twice.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from certificates import queries as certificate_queries
from declarations import queries as declaration_queries
from inspection import queries as inspection_queries
from notifications import events, rules, sms
from notifications.models import Contact, Cursor, Notification, Preference
from port import live, outbox
from port.models import Membership, User
from port.timeline import timeline_after

logger = logging.getLogger(__name__)
CURSOR = "timeline"


@transaction.atomic
def notifications_make(*, batch_size: int = 2000, now=None) -> int:
    """Notifications for the timeline events past the cursor; return how many were made."""
    Cursor.objects.get_or_create(name=CURSOR)
    cursor = Cursor.objects.select_for_update().get(name=CURSOR)
    batch = timeline_after(cursor.last_event_id, limit=batch_size, now=now or timezone.now())
    if not batch:
        return 0
    wanted = [(e, kind) for e in batch if e["organisation_id"] and (kind := rules.kind_of(e))]
    params = _params(wanted)
    members = _members({e["organisation_id"] for e, _ in wanted})
    made = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                event_id=event["id"],
                kind=kind,
                subject_type=event["subject_type"],
                subject_id=event["subject_id"],
                data=params[event["id"]],
            )
            for event, kind in wanted
            if event["id"] in params
            for user_id in members.get(event["organisation_id"], [])
        ],
        ignore_conflicts=True,
    )
    cursor.last_event_id = batch[-1]["id"]
    cursor.save(update_fields=["last_event_id", "updated_at"])
    if made:
        recipients = sorted({n.recipient_id for n in made})
        _push_counts(recipients)
        # Through the outbox: the e-mails and SMS go out even if Redis blinked at commit.
        outbox.enqueue(
            "notifications.tasks.notifications_deliver_task",
            first_event_id=batch[0]["id"],
            last_event_id=batch[-1]["id"],
        )
    return len(made)


def _params(wanted: list[tuple[dict, str]]) -> dict[int, dict]:
    """Each event's message parameters, looked up in one query per kind of subject."""
    declaration_ids = {e["subject_id"] for e, k in wanted if k.startswith("declaration.")}
    inspections = inspection_queries.declaration_ids_of_inspections(
        inspection_ids=[e["subject_id"] for e, k in wanted if k == "inspection.queued"]
    )
    numbers = declaration_queries.declaration_numbers(
        declaration_ids=list(declaration_ids | set(inspections.values()))
    )
    certificates = certificate_queries.certificate_references(
        certificate_ids=[e["subject_id"] for e, k in wanted if k.startswith("certificate.")]
    )
    params = {}
    for event, kind in wanted:
        data, subject = event["data"], event["subject_id"]
        if kind == "inspection.queued" and subject in inspections:
            declaration_id = inspections[subject]
            params[event["id"]] = {**data, "declaration_id": declaration_id}
        elif kind.startswith("declaration.") and subject in numbers:
            params[event["id"]] = {
                **data,
                "declaration_id": subject,
                "number": numbers[subject],
                "overdue": event["kind"] == "declaration.step2_overdue",
            }
        elif kind in {"inspection.access", "inspection.attendance", "inspection.booking"}:
            params[event["id"]] = dict(data)  # the event carries the declaration and number
        elif kind == "shipping.boarding" and "vessel" in data:
            params[event["id"]] = {**data, "port_call_id": subject}
        elif kind == "bill.issued":  # the event carries all a bill's message needs
            params[event["id"]] = {
                **data,
                "bill_id": subject,
                "overdue": event["kind"] == "bill.overdue",
            }
        elif kind.startswith("certificate.") and subject in certificates:
            params[event["id"]] = {**data, "certificate_id": subject, **certificates[subject]}
    return params


def _members(organisation_ids: set[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    rows = Membership.objects.filter(
        organisation_id__in=organisation_ids, user__is_active=True
    ).values_list("organisation_id", "user_id")
    for organisation_id, user_id in rows:
        members.setdefault(organisation_id, []).append(user_id)
    return members


def notifications_deliver(*, first_event_id: int = 0, last_event_id: int | None = None) -> dict:
    """Send the unsent e-mails and SMS of the notifications of these events (all when no
    range is given: the sweep). Returns how many went by each channel."""
    pending = Notification.objects.filter(
        Q(email_sent_at__isnull=True) | Q(sms_sent_at__isnull=True), event_id__gte=first_event_id
    )
    if last_event_id is not None:
        pending = pending.filter(event_id__lte=last_event_id)
    pending = list(pending.select_related("recipient")[:5000])
    choices = _channels_for(pending)
    sent = {"email": 0, "sms": 0}
    for notification in pending:
        email, text_message = choices[notification.pk]
        contact = _contact(notification.recipient)
        if email and notification.recipient.email and _claim(notification, "email_sent_at"):
            sent["email"] += _send(notification, contact, "email_sent_at", _email)
        if text_message and contact.phone and _claim(notification, "sms_sent_at"):
            sent["sms"] += _send(notification, contact, "sms_sent_at", _sms)
    return sent


def _channels_for(notifications: list[Notification]) -> dict[int, tuple[bool, bool]]:
    chosen = {
        (p.user_id, p.kind): (p.email, p.sms)
        for p in Preference.objects.filter(user_id__in={n.recipient_id for n in notifications})
    }
    return {
        n.pk: chosen.get(
            (n.recipient_id, n.kind), (rules.KINDS[n.kind].email, rules.KINDS[n.kind].sms)
        )
        for n in notifications
    }


def _contact(user: User) -> Contact:
    contact = getattr(user, "_notification_contact", None)
    if contact is None:
        contact = Contact.objects.filter(user=user).first() or Contact(user=user)
        user._notification_contact = contact
    return contact


def _claim(notification: Notification, field: str) -> bool:
    """Take the channel for this sender (no other run sends it); False if already taken."""
    return bool(
        Notification.objects.filter(pk=notification.pk, **{f"{field}__isnull": True}).update(
            **{field: timezone.now()}
        )
    )


def _send(notification: Notification, contact: Contact, field: str, sender) -> int:
    with translation.override(contact.language):
        text, link = rules.render(notification.kind, notification.data)
    try:
        sender(notification, contact, text, link)
    except Exception:
        # Released for the next attempt (the task retries; the sweep catches the rest).
        Notification.objects.filter(pk=notification.pk).update(**{field: None})
        raise
    return 1


def _email(notification: Notification, contact: Contact, text: str, link: str) -> None:
    with translation.override(contact.language):
        subject = f"Portwise: {text}"
        body = f"{text}\n\n{settings.SITE_URL.rstrip('/')}{link}\n"
    send_mail(subject[:150], body, None, [notification.recipient.email])


def _sms(notification: Notification, contact: Contact, text: str, link: str) -> None:
    sms.backend().send(to=contact.phone, text=text)


def notifications_mark_read(*, user: User, notification_ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all when no ids are given); return how many."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    count = unread.update(read_at=timezone.now())
    if count:
        _push_counts([user.pk])
    return count


def preferences_set(
    *, user: User, choices: dict[str, tuple[bool, bool]], phone: str, language: str
) -> None:
    """Save a person's channel for each kind (e-mail, SMS), phone and language."""
    unknown = set(choices) - set(rules.KINDS)
    if unknown:
        raise ValueError(f"unknown notification kinds: {sorted(unknown)}")
    with transaction.atomic():
        Contact.objects.update_or_create(user=user, defaults={"phone": phone, "language": language})
        for kind, (email, text_message) in choices.items():
            Preference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": email, "sms": text_message}
            )


def _push_counts(user_ids: list[int]) -> None:
    from notifications.queries import unread_counts

    for user_id, count in unread_counts(user_ids=user_ids).items():
        live.publish_on_commit(
            groups=[events.user_group(user_id)], event=events.notifications_changed(count)
        )
