"""Every write to alarms: raise (one, or a reconciliation's batch), acknowledge, assign,
annotate, close. Each is on the alarm's timeline and pushed live to its office's board."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alarms import events
from alarms.models import Alarm
from port import live
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Membership, Organisation, TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition

NOTE_MAX = 2000
# An alarm nobody acknowledged goes up one severity after this long, and again after as
# long again, up to critical (alarms_escalate, beat).
ESCALATE_AFTER = timedelta(hours=2)
NEXT_SEVERITY = {
    Alarm.Severity.INFO: Alarm.Severity.WARNING,
    Alarm.Severity.WARNING: Alarm.Severity.HIGH,
    Alarm.Severity.HIGH: Alarm.Severity.CRITICAL,
}


@dataclass(frozen=True)
class AlarmSpec:
    """What a source knows when it finds a discrepancy."""

    kind: str
    severity: str
    customs_office_id: int
    dedupe_key: str
    # Text, or a function that writes it in the active language: the alarm then keeps it in
    # every language of the site and shows each reader theirs.
    message: str | Callable[[], str]
    subject: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@transaction.atomic
def alarm_raise(*, spec: AlarmSpec) -> Alarm:
    """Raise one alarm, or return the one already raised for the same discrepancy.

    Writes the alarm and its `alarm.raised` timeline event; pushes it to the office's board
    after commit.
    """
    try:
        with transaction.atomic():  # a savepoint: a twin's insert makes this one fail
            alarm = Alarm.objects.create(**_fields(spec))
    except IntegrityError:
        return Alarm.objects.get(kind=spec.kind, dedupe_key=spec.dedupe_key)
    timeline_record(
        subject=alarm,
        kind=TimelineEvent.Kind.ALARM_RAISED,
        actor=None,
        organisation=None,
        data={"kind": alarm.kind, "severity": alarm.severity},
    )
    _push([alarm])
    return alarm


@transaction.atomic
def alarm_raise_many(*, specs: list[AlarmSpec]) -> list[Alarm]:
    """Raise a batch of alarms (a reconciliation run): those not raised before, in one insert,
    with one timeline insert and one live push per office. Returns the new alarms."""
    if not specs:
        return []
    keys = {(s.kind, s.dedupe_key) for s in specs}
    existing = set(
        Alarm.objects.filter(
            kind__in={k for k, _ in keys}, dedupe_key__in={d for _, d in keys}
        ).values_list("kind", "dedupe_key")
    )
    fresh, seen = [], set(existing)
    for spec in specs:
        if (spec.kind, spec.dedupe_key) not in seen:
            seen.add((spec.kind, spec.dedupe_key))
            fresh.append(Alarm(**_fields(spec)))
    if not fresh:
        return []
    created = Alarm.objects.bulk_create(fresh)
    timeline_record_many(
        subjects=created,
        kind=TimelineEvent.Kind.ALARM_RAISED,
        data_for=lambda a: {"kind": a.kind, "severity": a.severity},
    )
    by_office: dict[int, list[Alarm]] = {}
    for alarm in created:
        by_office.setdefault(alarm.customs_office_id, []).append(alarm)
    for alarms in by_office.values():
        _push(alarms)
    return created


@transaction.atomic
def alarm_acknowledge(*, alarm_id: int, officer: User) -> Alarm:
    """The officer has seen it. Raises TransitionNotAllowed unless it is open."""
    alarm = _locked(alarm_id, officer)
    alarm.acknowledged_by, alarm.acknowledged_at = officer, timezone.now()
    transition(
        alarm, Alarm.Status.ACKNOWLEDGED, extra_fields=["acknowledged_by", "acknowledged_at"]
    )
    _record(alarm, TimelineEvent.Kind.ALARM_ACKNOWLEDGED, officer, {})
    return alarm


@transaction.atomic
def alarm_assign(*, alarm_id: int, officer: User, assignee_id: int) -> Alarm:
    """Give the alarm to an officer of its office. Raises InvalidInput for anyone else and
    TransitionNotAllowed on a closed alarm."""
    alarm = _locked(alarm_id, officer)
    _refuse_closed(alarm, "assigned")
    assignee = User.objects.filter(
        pk=assignee_id,
        memberships__organisation_id=alarm.customs_office_id,
        memberships__role__in=[Membership.Role.OFFICER, Membership.Role.SUPERVISOR],
    ).first()
    if assignee is None:
        raise InvalidInput({"assignee": [_("Choose an officer of this alarm's office.")]})
    alarm.assigned_to = assignee
    alarm.save(update_fields=["assigned_to", "updated_at"])
    _record(alarm, TimelineEvent.Kind.ALARM_ASSIGNED, officer, {"assignee": assignee.username})
    return alarm


@transaction.atomic
def alarm_hand_over(*, alarm_id: int, officer: User, office_id: int, note: str) -> Alarm:
    """Hand the alarm to another customs office (the goods moved on, or it is that office's
    to work), with a note; it leaves this office's board for that one's, unassigned.
    Raises InvalidInput (no such office, no note), TransitionNotAllowed (closed)."""
    note = _note(note)
    alarm = _locked(alarm_id, officer)
    _refuse_closed(alarm, "handed over")
    office = (
        Organisation.objects.filter(pk=office_id, kind=Organisation.Kind.CUSTOMS_OFFICE)
        .exclude(pk=alarm.customs_office_id)
        .first()
    )
    if office is None:
        raise InvalidInput({"office": [_("Choose another customs office.")]})
    previous = alarm.customs_office_id
    alarm.customs_office, alarm.assigned_to = office, None
    alarm.save(update_fields=["customs_office", "assigned_to", "updated_at"])
    _record(
        alarm,
        TimelineEvent.Kind.ALARM_HANDED_OVER,
        officer,
        {"from_office": previous, "to_office": office.pk, "office": office.name, "note": note},
    )
    live.publish_on_commit(
        groups=[events.alarms_group(previous)], event=events.alarms_changed([alarm])
    )
    return alarm


def alarms_escalate(*, now: datetime | None = None) -> list[int]:
    """Raise by one severity every open alarm nobody acknowledged for ESCALATE_AFTER since
    it was raised or last escalated (one UPDATE; beat runs it every few minutes; idempotent:
    run again at once, it finds none). Returns the ids escalated."""
    now = now or timezone.now()
    cases = " ".join(f"WHEN '{low}' THEN '{high}'" for low, high in NEXT_SEVERITY.items())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Alarm._meta.db_table}
            SET severity = CASE severity {cases} END, escalated_at = %s, updated_at = %s
            WHERE status = %s AND severity = ANY(%s)
              AND COALESCE(escalated_at, created_at) <= %s
            RETURNING id
            """,  # noqa: S608 - our table and our constants; the values are parameters
            [now, now, Alarm.Status.OPEN, list(NEXT_SEVERITY), now - ESCALATE_AFTER],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        escalated = list(Alarm.objects.filter(pk__in=ids))
        if escalated:
            timeline_record_many(
                subjects=escalated,
                kind=TimelineEvent.Kind.ALARM_ESCALATED,
                data_for=lambda alarm: {"severity": alarm.severity},
            )
            for office_id in {alarm.customs_office_id for alarm in escalated}:
                mine = [alarm for alarm in escalated if alarm.customs_office_id == office_id]
                _push(mine)
    return ids


@transaction.atomic
def alarm_annotate(*, alarm_id: int, officer: User, note: str) -> Alarm:
    """Add a note to the alarm's history (until it is closed)."""
    alarm = _locked(alarm_id, officer)
    _refuse_closed(alarm, "annotated")
    _record(alarm, TimelineEvent.Kind.ALARM_ANNOTATED, officer, {"note": _note(note)})
    return alarm


@transaction.atomic
def alarm_close(*, alarm_id: int, officer: User, outcome: str, note: str = "") -> Alarm:
    """Close with an outcome (and a note). Raises InvalidInput without a known outcome and
    TransitionNotAllowed when already closed."""
    if outcome not in Alarm.Outcome.values:
        raise InvalidInput({"outcome": [_("Choose an outcome.")]})
    note = _note(note, required=False)
    alarm = _locked(alarm_id, officer)
    alarm.outcome, alarm.closed_by, alarm.closed_at = outcome, officer, timezone.now()
    transition(alarm, Alarm.Status.CLOSED, extra_fields=["outcome", "closed_by", "closed_at"])
    _record(alarm, TimelineEvent.Kind.ALARM_CLOSED, officer, {"outcome": outcome, "note": note})
    return alarm


def _fields(spec: AlarmSpec) -> dict[str, Any]:
    if spec.kind not in Alarm.Kind.values or spec.severity not in Alarm.Severity.values:
        raise ValueError(f"Unknown alarm kind or severity: {spec.kind} {spec.severity}")
    message, data = spec.message, spec.data
    if callable(message):
        messages = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                messages[code] = str(message())[:400]
        message = messages.get(settings.LANGUAGE_CODE) or next(iter(messages.values()))
        data = {**data, "messages": messages}
    return {
        "kind": spec.kind,
        "severity": spec.severity,
        "customs_office_id": spec.customs_office_id,
        "dedupe_key": spec.dedupe_key[:120],
        "subject": spec.subject[:60],
        "message": message[:400],
        "data": data,
    }


def _locked(alarm_id: int, officer: User) -> Alarm:
    # Locked: two officers working the same alarm act one after the other.
    alarm = (
        Alarm.objects.select_for_update()
        .filter(pk=alarm_id, customs_office_id__in=customs_office_ids_for(officer))
        .first()
    )
    if alarm is None:
        raise NotYours(_("No such alarm for your office."))
    return alarm


def _refuse_closed(alarm: Alarm, what: str) -> None:
    if alarm.is_closed:
        raise TransitionNotAllowed(obj=alarm, old=alarm.status, new=what)


def _note(note: str, *, required: bool = True) -> str:
    note = (note or "").strip()
    if required and not note:
        raise InvalidInput({"note": [_("Write a note.")]})
    if len(note) > NOTE_MAX:
        raise InvalidInput({"note": [_("At most %(n)d characters.") % {"n": NOTE_MAX}]})
    return note


def _record(alarm: Alarm, kind, officer: User, data: dict) -> None:
    timeline_record(subject=alarm, kind=kind, actor=officer, organisation=None, data=data)
    _push([alarm])


def _push(alarms: list[Alarm]) -> None:
    live.publish_on_commit(
        groups=[events.alarms_group(alarms[0].customs_office_id)],
        event=events.alarms_changed(alarms),
    )
