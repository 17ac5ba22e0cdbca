"""Reads about alarms, scoped to the officers of the office each belongs to."""

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from alarms import events
from alarms.models import Alarm
from port.errors import NotYours
from port.models import Membership, Organisation, TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_for

OPEN_STATUSES = [Alarm.Status.OPEN, Alarm.Status.ACKNOWLEDGED]


def alarm_list(*, user: User, filters: dict | None = None) -> QuerySet[Alarm]:
    """The alarms of the user's offices, newest first; filters: status ("active" for open
    and acknowledged), severity, kind, assigned ("me"), q (subject or message)."""
    filters = filters or {}
    alarms = Alarm.objects.filter(customs_office_id__in=customs_office_ids_for(user))
    status = filters.get("status") or ""
    if status == "active":
        alarms = alarms.filter(status__in=OPEN_STATUSES)
    elif status in Alarm.Status.values:
        alarms = alarms.filter(status=status)
    if filters.get("severity") in Alarm.Severity.values:
        alarms = alarms.filter(severity=filters["severity"])
    if filters.get("kind") in Alarm.Kind.values:
        alarms = alarms.filter(kind=filters["kind"])
    if filters.get("assigned") == "me":
        alarms = alarms.filter(assigned_to=user)
    if q := (filters.get("q") or "").strip()[:60]:
        alarms = alarms.filter(Q(subject__icontains=q) | Q(message__icontains=q))
    return alarms.select_related("assigned_to", "acknowledged_by", "closed_by", "customs_office")


def alarm_get_for_user(*, user: User, alarm_id: int) -> Alarm:
    alarm = alarm_list(user=user).filter(pk=alarm_id).first()
    if alarm is None:
        raise NotYours
    return alarm


def alarm_history(alarm: Alarm) -> QuerySet[TimelineEvent]:
    return timeline_for(alarm)


def assignable_officers(alarm: Alarm) -> QuerySet[User]:
    return User.objects.filter(
        memberships__organisation_id=alarm.customs_office_id,
        memberships__role__in=[Membership.Role.OFFICER, Membership.Role.SUPERVISOR],
    ).order_by("username")


def other_customs_offices(alarm: Alarm) -> QuerySet[Organisation]:
    """The offices an alarm may be handed over to."""
    return (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE)
        .exclude(pk=alarm.customs_office_id)
        .order_by("name")
    )


def active_alarm_count(*, user: User) -> int:
    return alarm_list(user=user, filters={"status": "active"}).count()


def alarm_live_group(user: User, key: str) -> str | None:
    """Topic "alarms", key the customs office id: its officers only."""
    if not key.isdigit() or int(key) not in customs_office_ids_for(user):
        return None
    return events.alarms_group(int(key))


def closed_gate_event_ids(*, user: User, days: int = 7) -> set[int]:
    """Port gate events whose refusal alarm the user's office closed lately: the inspection
    board stops showing their alerts."""
    since = timezone.now() - timedelta(days=days)
    return set(
        alarm_list(user=user)
        .filter(kind=Alarm.Kind.GATE_REFUSED, status=Alarm.Status.CLOSED, created_at__gte=since)
        .values_list("data__gate_event", flat=True)
    )


def gate_refusal_messages(*, user: User, gate_event_ids: list[int]) -> dict[int, str]:
    """The refusal alarms' messages of these port gate events, in the reader's language
    (one query), for the inspection board's alerts."""
    if not gate_event_ids:
        return {}
    alarms = alarm_list(user=user).filter(
        kind=Alarm.Kind.GATE_REFUSED, data__gate_event__in=gate_event_ids
    )
    return {alarm.data["gate_event"]: alarm.localized_message for alarm in alarms}
