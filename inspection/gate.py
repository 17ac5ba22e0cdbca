"""The port gate: a terminal reports a container's gate move, and a container leaving
without customs' release is refused on the spot, with an alert (and an alarm officers work
to the end) to the office that holds it. Also serves a terminal's EDIFACT gate moves
(registered with shipping as its "gate" reporter in `InspectionConfig.ready`)."""

from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alarms import services as alarm_services
from declarations import queries as declaration_queries
from inspection import diversion, events, queries
from inspection.models import Alert, GateEvent
from port import live
from port.errors import InvalidInput
from port.models import Container, Organisation, TimelineEvent, User
from port.timeline import timeline_record


def container_is_released(declaration) -> tuple[bool, str]:
    """Whether customs has released the container its latest declaration covers, and why
    not when it has not."""
    from declarations.models import Declaration

    if declaration is None:
        return False, _("No customs declaration covers this container.")
    if declaration.status == Declaration.Status.RELEASED:
        # Two-stage access: customs' release is not enough while a stage holds the goods.
        holds = queries.access_holds(declaration_ids=[declaration.pk, declaration.summary_id])
        if holds:
            return False, queries.hold_reason(sorted({s for h in holds.values() for s in h}))
        return True, ""
    if declaration.status == Declaration.Status.SUBMITTED:
        return False, _("The declaration is still being assessed.")
    return False, _("Customs has not released this container.")


@transaction.atomic
def gate_report(
    *,
    user: User,
    container_number: str,
    direction: str,
    truck_plate: str = "",
    idempotency_key: str = "",
) -> GateEvent:
    """A terminal gate reports a container; a gate-out of an unreleased one is refused.

    A refusal raises an alert to the port's customs office, pushed live to its officers. An
    export at gate-in gets its diversion instruction (direct loading, inspection area, yard).
    A repeat with the same idempotency key returns the first event.
    """
    terminal = queries.terminals_for(user).first()
    if terminal is None:
        raise PermissionDenied(_("Only a terminal operator reports gate events."))
    if idempotency_key:
        earlier = GateEvent.objects.filter(
            terminal=terminal, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return earlier
    errors = {}
    number = container_number.strip().upper()
    # Locked: two trucks reporting the same container at once are decided one after the other.
    container = Container.objects.select_for_update().filter(number=number).first()
    if container is None:
        errors["container"] = [
            _("This port has no container %(number)s.") % {"number": number or "—"}
        ]
    if direction not in GateEvent.Direction.values:
        errors["direction"] = [_("Direction is in or out.")]
    if errors:
        raise InvalidInput(errors)
    declaration = declaration_queries.container_latest_declaration(container_id=container.pk)
    allowed, reason = (
        (True, "") if direction == GateEvent.Direction.IN else _may_leave(container, declaration)
    )
    event = GateEvent.objects.create(
        container=container,
        terminal=terminal,
        direction=direction,
        truck_plate=truck_plate.strip().upper(),
        allowed=allowed,
        reason=reason,
        reported_by=user,
        idempotency_key=idempotency_key,
    )
    timeline_record(
        subject=event,
        kind=TimelineEvent.Kind.GATE_PASSED if allowed else TimelineEvent.Kind.GATE_REFUSED,
        actor=user,
        # The consignment's owner, so that its dashboard counts its own gate moves.
        organisation=declaration.enterprise if declaration else None,
        data={"container": number, "direction": direction, "reason": reason},
    )
    if not allowed:
        _alert_customs(event, terminal, reason_for=partial(_refusal_reason, container, declaration))
    elif direction == GateEvent.Direction.IN:
        diversion.diversion_plan_at_gate_in(container=container)
    return event


def _may_leave(container: Container, declaration) -> tuple[bool, str]:
    """A gate-out passes if the container is in the terminal (it has not left since it last
    came in) and customs has released it."""
    last = container.gate_events.filter(allowed=True).order_by("-created_at", "-pk").first()
    if last is not None and last.direction == GateEvent.Direction.OUT:
        local = timezone.localtime(last.created_at)
        return False, _(
            "This container already left through the gate on %(day)s at %(time)s; "
            "its gate-in must come first."
        ) % {"day": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M")}
    return container_is_released(declaration)


def _refusal_reason(container: Container, declaration) -> str:
    """Why a gate-out is refused, in the active language (the state is the one the gate
    decided on: same transaction, container locked)."""
    return _may_leave(container, declaration)[1]


def _refusal_message(terminal_name: str, reason_for) -> str:
    return _("Gate-out refused at %(terminal)s: %(reason)s") % {
        "terminal": terminal_name,
        "reason": reason_for(),
    }


def _alert_customs(event: GateEvent, terminal, *, reason_for) -> None:
    office = (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port=terminal.port_id)
        .order_by("pk")
        .first()
    )
    if office is None:
        return
    alert = Alert.objects.create(
        customs_office=office,
        container=event.container,
        gate_event=event,
        message=_("Gate-out refused at %(terminal)s: %(reason)s")
        % {"terminal": terminal.name, "reason": event.reason},
    )
    live.publish_on_commit(groups=[events.queue_group(office.pk)], event=events.alert_raised(alert))
    # The alarm officers work to the end (acknowledge, assign, close); the alert stays the
    # queue board's notice.
    alarm_services.alarm_raise(
        spec=alarm_services.AlarmSpec(
            kind="gate.refused",
            severity="high",
            customs_office_id=office.pk,
            dedupe_key=f"gate-event:{event.pk}",
            subject=event.container.number,
            # Written in every language of the site, so each officer reads the reason in
            # theirs, whatever the language of the terminal's request.
            message=partial(_refusal_message, terminal.name, reason_for),
            data={"gate_event": event.pk, "terminal": terminal.code},
        )
    )
