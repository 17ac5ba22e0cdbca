"""A terminal's container moves read from its EDIFACT files: the discharges of a COARRI and the
gate moves of a CODECO. They are recorded by the services of the app that owns container
whereabouts and the gate (inspection), which registers them in TERMINAL_REPORTERS from its
AppConfig.ready, as it does with services.BERTHED_HOOKS: this app never imports it."""

from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _

from port.errors import InvalidInput
from port.models import PortCall
from shipping import edifact
from shipping.models import EdifactImport

MOVE_TIME_SLACK_BEFORE_ATA = timedelta(hours=1)
MOVE_TIME_SLACK_AFTER_NOW = timedelta(minutes=5)
# What inspection registers:
#   "discharge": fn(*, user, port_call_id, container_numbers, at, times, skip_unknown) -> dict
#   "gate": fn(*, user, container_number, direction, idempotency_key) -> event (.allowed, .reason)
TERMINAL_REPORTERS: dict = {}


def error_messages(errors) -> list[str]:
    """The messages of an InvalidInput's errors (a dict of lists, nested or not), flat."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in error_messages(value)]
    return [str(m) for m in errors]


def report_discharges(upload: EdifactImport, result: edifact.Result) -> dict:
    """Report the containers of the file's COARRI discharge messages through the diversion
    service (the "discharge" reporter: inspection.diversion.containers_report_discharged), as
    the terminal's page and API do; the rest of the file is only read. Raises InvalidInput
    (no discharge message, or what the reporter refuses), NotYours."""
    call = upload.port_call
    moved = result.containers_moved("discharge")
    others = len(result.containers) - len(moved)
    if others:
        result.warnings.append(
            f"{others} containers are in messages that are not discharge reports "
            "(loading, restow or other); they were read, not recorded."
        )
    if not moved:
        raise InvalidInput(
            {"file": [_("The file holds no container in a COARRI discharge report.")]}
        )
    reported = _reporter("discharge")(
        user=upload.created_by,
        port_call_id=call.pk,
        container_numbers=[c.number for c in moved],
        at=timezone.now(),
        times=_move_times(call, moved, result),
        skip_unknown=True,
    )
    return {"port_call": call.pk, **reported}


# CODECO BGM document codes (SMDG / ITIGG guidelines, standards.md 1.2): gate-in, gate-out.
CODECO_DIRECTIONS = {"34": "in", "36": "out"}


def report_gate_moves(upload: EdifactImport, result: edifact.Result) -> dict:
    """Report each container of the file's CODECO messages through the gate service the JSON
    gate API uses (the "gate" reporter: inspection.gate.gate_report), so the same refusals
    and alarms apply. Re-running the import reports nothing twice (one idempotency key per
    file, message and container)."""
    report_gate = _reporter("gate")
    directions = {}
    for message in result.messages:
        direction = (
            CODECO_DIRECTIONS.get(message["document"]) if message["type"] == "CODECO" else None
        )
        if message["type"] == "CODECO" and direction is None:
            result.warnings.append(
                f"CODECO message {message['reference']}: document code "
                f"{message['document'] or '(none)'} is neither gate-in (34) nor gate-out (36); "
                "its containers were read, not reported."
            )
        directions[message["reference"]] = direction
    passed, refused, unknown = [], [], []
    for container in result.containers:
        direction = directions.get(container.message)
        if direction is None:
            continue
        key = f"codeco:{upload.pk}:{container.message}:{container.number}"[:100]
        try:
            event = report_gate(
                user=upload.created_by,
                container_number=container.number,
                direction=direction,
                idempotency_key=key,
            )
        except InvalidInput as error:
            unknown.append({"container": container.number, "segment": container.segment,
                            "reason": " ".join(error_messages(error.errors))})  # fmt: skip
            continue
        entry = {"container": container.number, "direction": direction}
        if event.allowed:
            passed.append(entry)
        else:
            refused.append({**entry, "segment": container.segment, "reason": event.reason})
    return {"passed": passed, "refused_at_gate": refused, "not_reported": unknown}


def _reporter(move: str):
    try:
        return TERMINAL_REPORTERS[move]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered shipping.terminal_moves.TERMINAL_REPORTERS[{move!r}]."
        ) from None


def _move_times(call: PortCall, containers: list, result: edifact.Result) -> dict:
    """Each container's DTM+203 move time, read in the port's time zone (EDIFACT times
    carry none), when it falls within the call's stay; otherwise the import's time."""
    now = timezone.now()
    # The recorded ATA may lag the first lift by a while; a clock may run a little fast.
    earliest = (call.ata or now) - MOVE_TIME_SLACK_BEFORE_ATA
    latest = now + MOVE_TIME_SLACK_AFTER_NOW
    times, outside = {}, []
    for container in containers:
        if not container.moved_at:
            continue
        moment = timezone.make_aware(datetime.fromisoformat(container.moved_at))
        if earliest <= moment <= latest:
            times[container.number] = moment
        else:
            outside.append(container.number)
    if outside:
        result.warnings.append(
            f"The move time (DTM+203) of {', '.join(outside)} is outside the call's stay; "
            "the time of the import is recorded instead."
        )
    return times
