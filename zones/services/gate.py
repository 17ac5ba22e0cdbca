"""The automated zone gate: each camera read answered at once, release or stop."""

import time
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alarms import services as alarm_services
from alarms.models import Alarm
from port import live
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record
from port.transitions import transition
from zones import events, queries, validation
from zones.models import (
    GatePass,
    GatePassage,
    Movement,
    ZoneGate,
)
from zones.services import stock, transit


def gate_read(*, user: User, gate_id: int, read: dict) -> GatePassage:
    """Answer a camera read at a zone gate: release or stop, with the reason, at once.

    Matches the plate to an open gate pass of the zone and checks container, seal and
    weight; a matching pass is used by one conditional UPDATE, so of two reads at the same
    moment one is released and the other stopped. A release completes the movement (an
    entry credits the account, a transfer the receiver's; an exit to the port under seal
    opens its transit); a stop
    raises an alarm to the zone's office. Records the passage with Portwise's answer time,
    its timeline event, and pushes it to the gate board. A repeated read id returns the
    first answer. Raises NotYours for another office's gate, InvalidInput for a bad read.
    """
    started = time.perf_counter()
    gate = queries.gate_get_for_user(user=user, gate_id=gate_id)
    clean = validation.gate_read(read, lanes=gate.lanes)
    with transaction.atomic():
        if clean["read_id"]:
            earlier = GatePassage.objects.filter(gate=gate, read_id=clean["read_id"]).first()
            if earlier is not None:
                return earlier
        gate_pass, reason, detail = _match(gate, clean)
        movement = _complete(gate_pass, user) if gate_pass else None
        owner = movement.organisation_id if movement else None
        passage = GatePassage.objects.create(
            gate=gate,
            lane=clean["lane"],
            read_id=clean["read_id"],
            truck_plate=clean["truck_plate"],
            container_numbers=clean["containers"],
            seal_number=clean["seal"],
            weight_kg=clean["weight_kg"],
            read_at=clean["read_at"],
            decision=GatePassage.Decision.RELEASE if gate_pass else GatePassage.Decision.STOP,
            reason=reason,
            detail=detail,
            gate_pass=gate_pass,
            hazard=gate_pass.hazard if gate_pass else "",
            answer_ms=(time.perf_counter() - started) * 1000,
        )
        _record_passage(passage, gate, user, owner)
        if movement is not None and (
            movement.kind in Movement.ENTRIES or movement.kind == Movement.Kind.TRANSFER
        ):
            # Last: the account row is the one all trucks of an item share, so its lock is
            # held from here to the commit only.
            _credit_receiver(movement)
    return passage


def _match(gate: ZoneGate, read: dict) -> tuple[GatePass | None, str, str]:
    R = GatePassage.Reason
    now = timezone.now()
    candidates = list(
        GatePass.objects.filter(
            zone_id=gate.zone_id, truck_plate=read["truck_plate"], status=GatePass.Status.OPEN
        ).order_by("pk")[:5]
    )
    if not candidates:
        last = (
            GatePass.objects.filter(zone_id=gate.zone_id, truck_plate=read["truck_plate"])
            .order_by("-updated_at")
            .values_list("status", flat=True)
            .first()
        )
        reason = {GatePass.Status.USED: R.PASS_USED, GatePass.Status.EXPIRED: R.PASS_EXPIRED}
        return None, reason.get(last, R.NO_PASS), ""
    first_refusal = None
    for candidate in candidates:
        reason, detail = _mismatch(candidate, read, gate.weight_tolerance_pct, now)
        if reason:
            first_refusal = first_refusal or (candidate, reason, detail)
            continue
        # Used once: the row changes only while still open, unexpired and as it was
        # compared; a twin read (or an amendment or cancellation of the document) that
        # got there first leaves 0 rows here.
        used = GatePass.objects.filter(
            pk=candidate.pk,
            status=GatePass.Status.OPEN,
            expires_at__gt=now,
            truck_plate=candidate.truck_plate,
            container_number=candidate.container_number,
            seal_number=candidate.seal_number,
            declared_weight_kg=candidate.declared_weight_kg,
        ).update(status=GatePass.Status.USED, used_at=now, updated_at=now)
        if used == 1:
            return candidate, R.MATCHED, ""
        first_refusal = first_refusal or (candidate, R.PASS_USED, "")
    _candidate, reason, detail = first_refusal
    return None, reason, detail


def _mismatch(gate_pass: GatePass, read: dict, tolerance_pct: Decimal, now) -> tuple[str, str]:
    R = GatePassage.Reason
    if gate_pass.expires_at is not None and gate_pass.expires_at <= now:
        return R.PASS_EXPIRED, timezone.localtime(gate_pass.expires_at).strftime("%Y-%m-%d %H:%M")
    if gate_pass.container_number and gate_pass.container_number not in read["containers"]:
        # Details are figures, the same in every language.
        return R.CONTAINER, f"{gate_pass.container_number} ≠ {', '.join(read['containers']) or '—'}"
    if gate_pass.seal_number and gate_pass.seal_number != read["seal"]:
        return R.SEAL, f"{gate_pass.seal_number} ≠ {read['seal'] or '—'}"
    declared = gate_pass.declared_weight_kg
    if abs(read["weight_kg"] - declared) > declared * tolerance_pct / 100:
        return R.WEIGHT, f"{declared} kg ≠ {read['weight_kg']} kg (±{tolerance_pct}%)"
    return "", ""


def _stop_message(gate: ZoneGate, passage: GatePassage) -> str:
    return _("%(gate)s lane %(lane)s: %(plate)s stopped: %(reason)s %(detail)s") % {
        "gate": gate.display_name,
        "lane": passage.lane,
        "plate": passage.truck_plate,
        "reason": passage.get_reason_display(),
        "detail": passage.detail,
    }


def _hazard_message(gate: ZoneGate, passage: GatePassage) -> str:
    return _(
        "%(gate)s lane %(lane)s: %(plate)s carries hazardous chemicals %(hazard)s: check "
        "placards, packaging and the driver's permit."
    ) % {
        "gate": gate.display_name,
        "lane": passage.lane,
        "plate": passage.truck_plate,
        "hazard": passage.hazard,
    }


def _complete(gate_pass: GatePass, user: User) -> Movement:
    movement = Movement.objects.select_for_update().get(pk=gate_pass.movement_id)
    transition(movement, Movement.Status.COMPLETED)
    if (
        movement.kind == Movement.Kind.PORT_OUT
        and gate_pass.seal_number
        and gate_pass.container_number
    ):
        transit.transit_open_for_movement(
            organisation_id=movement.organisation_id,
            container_number=gate_pass.container_number,
            seal_number=gate_pass.seal_number,
            truck_plate=gate_pass.truck_plate,
            origin=str(movement.zone),
            declaration_number=movement.declaration_number,
            movement=movement,
            actor=user,
        )
    return movement


def _credit_receiver(movement: Movement) -> None:
    """An entry's goods to its enterprise's account; a transfer's to the receiver's."""
    receiver = movement.counterparty_id or movement.organisation_id
    lines = list(movement.lines.all())
    stock.stock_credit(movement.zone_id, [(receiver, line) for line in lines])
    live.publish_on_commit(
        groups=sorted(
            {live.organisation_group(movement.organisation_id), live.organisation_group(receiver)}
        ),
        event=events.stock_changed([movement.pk]),
    )


def _record_passage(passage: GatePassage, gate: ZoneGate, user: User, owner: int | None) -> None:
    released = passage.decision == GatePassage.Decision.RELEASE
    timeline_record(
        subject=passage,
        kind=TimelineEvent.Kind.ZONE_GATE_RELEASED
        if released
        else TimelineEvent.Kind.ZONE_GATE_STOPPED,
        actor=user,
        organisation=Organisation(pk=owner) if owner else None,
        data={
            "plate": passage.truck_plate,
            "reason": passage.reason,
            "lane": passage.lane,
            "answer_ms": round(passage.answer_ms, 2),
        },
    )
    if not released:
        seal = passage.reason == GatePassage.Reason.SEAL
        alarm_services.alarm_raise(
            spec=alarm_services.AlarmSpec(
                kind=Alarm.Kind.ZONE_GATE_STOP,
                severity=Alarm.Severity.HIGH if seal else Alarm.Severity.WARNING,
                customs_office_id=gate.zone.customs_office_id,
                dedupe_key=f"passage:{passage.pk}",
                subject=passage.truck_plate,
                message=partial(_stop_message, gate, passage),
                data={"passage": passage.pk, "gate": gate.pk, "reason": passage.reason},
            )
        )
    if passage.hazard:
        alarm_services.alarm_raise(
            spec=alarm_services.AlarmSpec(
                kind=Alarm.Kind.ZONE_HAZARD,
                severity=Alarm.Severity.HIGH,
                customs_office_id=gate.zone.customs_office_id,
                dedupe_key=f"passage:{passage.pk}",
                subject=passage.truck_plate,
                message=partial(_hazard_message, gate, passage),
                data={"passage": passage.pk, "gate": gate.pk, "hazard": passage.hazard},
            )
        )
    groups = [events.gate_group(gate.pk)]
    if owner:
        groups.append(live.organisation_group(owner))
    live.publish_on_commit(groups=groups, event=events.gate_passed(passage))
