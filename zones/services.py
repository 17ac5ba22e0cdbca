"""Every write to zone data: filing movements (the one document), answering gate reads, and
transits under electronic seal. Stock changes are set-based conditional statements, so
concurrent exits can never take an account below zero."""

import time
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alarms import services as alarm_services
from alarms.models import Alarm
from port import live
from port.errors import InvalidInput
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition
from zones import erp, events, queries, validation
from zones.models import (
    GatePass,
    GatePassage,
    Movement,
    MovementLine,
    StockEntry,
    StockItem,
    Transit,
    Zone,
    ZoneEnterprise,
    ZoneGate,
)

K = Movement.Kind


# ---------------------------------------------------------------- movements


@transaction.atomic
def movement_file_many(*, user: User, documents: list, source: str) -> list[Movement]:
    """File a batch of zone documents, each one doing the work of three forms: the goods
    movement, its gate pass (for a truck) and the stock change.

    Exits and transfers take their goods from the account at once, in one conditional
    UPDATE for the batch (refused, with the line that lacks stock, if any item is short);
    a transfer credits the receiver at once; an entry credits the account when its truck
    passes the gate. All or nothing: a bad document changes nothing. Writes the movements,
    lines, passes and ledger, one timeline event each, and one live push per organisation.
    """
    account = queries.zone_enterprise_for(user)
    if account is None:
        raise PermissionDenied(_("Only a zone enterprise's declarants file zone movements."))
    docs = validation.documents(documents)
    zone, org = account.zone, account.organisation
    receivers = _receivers(docs, zone, org)
    _check_items(docs, zone, org)
    movements = _write_documents(docs, zone, org, receivers, user, source)
    debits, credits = [], []
    for i, (doc, movement) in enumerate(zip(docs, movements, strict=True)):
        if doc["kind"] in Movement.EXITS or doc["kind"] == K.TRANSFER:
            debits += [(i, j, org.pk, line) for j, line in enumerate(movement.line_list)]
        if doc["kind"] == K.TRANSFER:
            credits += [(receivers[i].pk, line) for line in movement.line_list]
    _debit(zone.pk, debits)
    _credit(zone.pk, credits)
    timeline_record_many(
        subjects=movements,
        kind=TimelineEvent.Kind.ZONE_MOVEMENT_FILED,
        organisation_id=org.pk,
        data_for=lambda m: {"number": m.number, "kind": m.kind, "source": source},
    )
    ids = [m.pk for m in movements]
    groups = {live.organisation_group(org.pk)} | {
        live.organisation_group(r.pk) for r in receivers.values()
    }
    live.publish_on_commit(groups=sorted(groups), event=events.stock_changed(ids))
    return movements


def _receivers(docs: list[dict], zone, org) -> dict[int, Organisation]:
    usccs = {d["counterparty_uscc"] for d in docs if d["kind"] == K.TRANSFER}
    found = queries.counterparties_in(zone=zone, usccs=usccs) if usccs else {}
    receivers, errors = {}, {}
    for i, doc in enumerate(docs):
        if doc["kind"] != K.TRANSFER:
            continue
        receiver = found.get(doc["counterparty_uscc"])
        if receiver is None or receiver.pk == org.pk:
            errors[str(i)] = {
                "counterparty_uscc": [_("The receiver must be another enterprise of this zone.")]
            }
        receivers[i] = receiver
    if errors:
        raise InvalidInput({"documents": errors})
    return receivers


def _check_items(docs: list[dict], zone, org) -> None:
    """One read of the account: a line's item must keep its commodity code, and what leaves
    must be on the account. (Quantities are checked by the UPDATE itself.)"""
    item_nos = {line["item_no"] for d in docs for line in d["lines"]}
    held = dict(
        StockItem.objects.filter(zone=zone, organisation=org, item_no__in=item_nos).values_list(
            "item_no", "hs_code"
        )
    )
    errors: dict = {}
    for i, doc in enumerate(docs):
        leaving = doc["kind"] in Movement.EXITS or doc["kind"] == K.TRANSFER
        for j, line in enumerate(doc["lines"]):
            hs = held.get(line["item_no"])
            if hs is None and leaving:
                message = _("Item %(item)s is not on your account.") % {"item": line["item_no"]}
                errors.setdefault(str(i), {}).setdefault("lines", {})[str(j)] = {
                    "item_no": [message]
                }
            elif hs is not None and hs != line["hs_code"]:
                message = _("Item %(item)s is on your account under %(hs)s.") % {
                    "item": line["item_no"],
                    "hs": hs,
                }
                errors.setdefault(str(i), {}).setdefault("lines", {})[str(j)] = {
                    "hs_code": [message]
                }
    if errors:
        raise InvalidInput({"documents": errors})


def _write_documents(docs, zone, org, receivers, user, source) -> list[Movement]:
    movements = Movement.objects.bulk_create(
        Movement(
            zone=zone,
            organisation=org,
            kind=doc["kind"],
            status=Movement.Status.COMPLETED
            if doc["kind"] == K.TRANSFER
            else Movement.Status.AT_GATE,
            source=source,
            counterparty=receivers.get(i),
            declaration_number=doc["declaration_number"],
            duty_amount=doc["duty_amount"],
            created_by=user,
        )
        for i, doc in enumerate(docs)
    )
    day = timezone.localdate().strftime("%y%m%d")
    for movement in movements:
        movement.number = f"{zone.code}{day}{movement.pk:08d}"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zones_movement SET number = v.number FROM unnest(%s::bigint[], %s::text[])"
            " AS v(id, number) WHERE zones_movement.id = v.id",
            [[m.pk for m in movements], [m.number for m in movements]],
        )
    lines = MovementLine.objects.bulk_create(
        MovementLine(movement=movement, **line)
        for doc, movement in zip(docs, movements, strict=True)
        for line in doc["lines"]
    )
    by_movement = defaultdict(list)
    for line in lines:
        by_movement[line.movement_id].append(line)
    for movement in movements:
        movement.line_list = by_movement[movement.pk]
    GatePass.objects.bulk_create(
        GatePass(
            movement=movement,
            zone=zone,
            direction=GatePass.Direction.IN
            if doc["kind"] in Movement.ENTRIES
            else GatePass.Direction.OUT,
            truck_plate=doc["truck_plate"],
            container_number=doc["container"],
            seal_number=doc["seal"],
            declared_weight_kg=doc["declared_weight_kg"],
        )
        for doc, movement in zip(docs, movements, strict=True)
        if doc["kind"] != K.TRANSFER
    )
    return movements


def _debit(zone_id: int, debits: list) -> None:
    """Take the lines' quantities off the account in one statement that touches a row only
    if it holds enough: under concurrency PostgreSQL re-checks the condition on the latest
    row version, so two exits of the last 10 units cannot both pass."""
    if not debits:
        return
    wanted: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for _i, _j, _org, line in debits:
        wanted[line.item_no][0] += line.quantity
        wanted[line.item_no][1] += line.value
    org_id = debits[0][2]
    items = list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zones_stockitem s SET quantity = s.quantity - v.qty,"
            " value = GREATEST(s.value - v.val, 0), updated_at = now()"
            " FROM unnest(%s::text[], %s::numeric[], %s::numeric[]) AS v(item_no, qty, val)"
            " WHERE s.zone_id = %s AND s.organisation_id = %s AND s.item_no = v.item_no"
            " AND s.quantity >= v.qty RETURNING s.id, s.item_no",
            [items, [wanted[i][0] for i in items], [wanted[i][1] for i in items], zone_id, org_id],
        )
        taken = {item_no: pk for pk, item_no in cursor.fetchall()}
    short = set(items) - set(taken)
    if short:
        _refuse_short(zone_id, org_id, short, debits)
    StockEntry.objects.bulk_create(
        StockEntry(
            stock_item_id=taken[line.item_no],
            movement_id=line.movement_id,
            quantity=-line.quantity,
            value=-line.value,
        )
        for _i, _j, _org, line in debits
    )


def _refuse_short(zone_id, org_id, short: set[str], debits: list) -> None:
    held = dict(
        StockItem.objects.filter(
            zone_id=zone_id, organisation_id=org_id, item_no__in=short
        ).values_list("item_no", "quantity")
    )
    errors: dict = {}
    for i, j, _org, line in debits:
        if line.item_no in short:
            errors.setdefault(str(i), {}).setdefault("lines", {})[str(j)] = {
                "quantity": [
                    _("Only %(held)s %(unit)s of %(item)s on your account.")
                    % {"held": held.get(line.item_no, 0), "unit": line.unit, "item": line.item_no}
                ]
            }
    raise InvalidInput({"documents": errors})


def _credit(zone_id: int, credits: list) -> None:
    """Add lines to accounts (the receiver's for a transfer, the filer's for an entry at the
    gate): one upsert for the batch, then the ledger."""
    if not credits:
        return
    totals: dict[tuple[int, str], list] = {}
    for org_id, line in credits:
        key = (org_id, line.item_no)
        if key not in totals:
            totals[key] = [line.hs_code, line.description, line.unit, Decimal(0), Decimal(0)]
        totals[key][3] += line.quantity
        totals[key][4] += line.value
    keys = list(totals)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO zones_stockitem (zone_id, organisation_id, item_no, hs_code, description,"
            " unit, quantity, value, created_at, updated_at)"
            " SELECT %s, v.org, v.item_no, v.hs, v.descr, v.unit, v.qty, v.val, now(), now()"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::numeric[], %s::numeric[]) AS v(org, item_no, hs, descr, unit, qty, val)"
            " ON CONFLICT (zone_id, organisation_id, item_no) DO UPDATE SET"
            " quantity = zones_stockitem.quantity + EXCLUDED.quantity,"
            " value = zones_stockitem.value + EXCLUDED.value, updated_at = now()"
            " RETURNING id, organisation_id, item_no",
            [
                zone_id,
                [k[0] for k in keys],
                [k[1] for k in keys],
                *[[totals[k][n] for k in keys] for n in range(5)],
            ],
        )
        ids = {(org, item_no): pk for pk, org, item_no in cursor.fetchall()}
    StockEntry.objects.bulk_create(
        StockEntry(
            stock_item_id=ids[(org_id, line.item_no)],
            movement_id=line.movement_id,
            quantity=line.quantity,
            value=line.value,
        )
        for org_id, line in credits
    )


# ---------------------------------------------------------------- the gate


def gate_read(*, user: User, gate_id: int, read: dict) -> GatePassage:
    """Answer a camera read at a zone gate: release or stop, with the reason, at once.

    Matches the plate to an open gate pass of the zone and checks container, seal and
    weight; a matching pass is used by one conditional UPDATE, so of two reads at the same
    moment one is released and the other stopped. A release completes the movement (an
    entry credits the account; an exit to the port under seal opens its transit); a stop
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
        owner = _complete(gate_pass, user).organisation_id if gate_pass else None
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
            answer_ms=(time.perf_counter() - started) * 1000,
        )
        _record_passage(passage, gate, user, owner)
    return passage


def _match(gate: ZoneGate, read: dict) -> tuple[GatePass | None, str, str]:
    R = GatePassage.Reason
    candidates = list(
        GatePass.objects.filter(
            zone_id=gate.zone_id, truck_plate=read["truck_plate"], status=GatePass.Status.OPEN
        ).order_by("pk")[:5]
    )
    if not candidates:
        used = GatePass.objects.filter(
            zone_id=gate.zone_id, truck_plate=read["truck_plate"], status=GatePass.Status.USED
        ).exists()
        return None, (R.PASS_USED if used else R.NO_PASS), ""
    first_refusal = None
    for candidate in candidates:
        reason, detail = _mismatch(candidate, read, gate.weight_tolerance_pct)
        if reason:
            first_refusal = first_refusal or (candidate, reason, detail)
            continue
        # Used once: the row changes only while still open; a twin read waits and gets 0.
        used = GatePass.objects.filter(pk=candidate.pk, status=GatePass.Status.OPEN).update(
            status=GatePass.Status.USED, used_at=timezone.now(), updated_at=timezone.now()
        )
        if used == 1:
            return candidate, R.MATCHED, ""
        first_refusal = first_refusal or (candidate, R.PASS_USED, "")
    _candidate, reason, detail = first_refusal
    return None, reason, detail


def _mismatch(gate_pass: GatePass, read: dict, tolerance_pct: Decimal) -> tuple[str, str]:
    R = GatePassage.Reason
    if gate_pass.container_number and gate_pass.container_number not in read["containers"]:
        return R.CONTAINER, _("pass %(want)s, read %(got)s") % {
            "want": gate_pass.container_number,
            "got": ", ".join(read["containers"]) or "—",
        }
    if gate_pass.seal_number and gate_pass.seal_number != read["seal"]:
        return R.SEAL, _("pass %(want)s, read %(got)s") % {
            "want": gate_pass.seal_number,
            "got": read["seal"] or "—",
        }
    declared = gate_pass.declared_weight_kg
    if abs(read["weight_kg"] - declared) > declared * tolerance_pct / 100:
        return R.WEIGHT, _("declared %(want)s kg, weighed %(got)s kg (±%(pct)s%%)") % {
            "want": declared,
            "got": read["weight_kg"],
            "pct": tolerance_pct,
        }
    return "", ""


def _complete(gate_pass: GatePass, user: User) -> Movement:
    movement = Movement.objects.select_for_update().get(pk=gate_pass.movement_id)
    transition(movement, Movement.Status.COMPLETED)
    if movement.kind in Movement.ENTRIES:
        lines = list(movement.lines.all())
        _credit(movement.zone_id, [(movement.organisation_id, line) for line in lines])
        live.publish_on_commit(
            groups=[live.organisation_group(movement.organisation_id)],
            event=events.stock_changed([movement.pk]),
        )
    if movement.kind == K.PORT_OUT and gate_pass.seal_number and gate_pass.container_number:
        _transit_open(
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
                message=_("%(gate)s lane %(lane)s: %(plate)s stopped: %(reason)s %(detail)s")
                % {
                    "gate": gate.name,
                    "lane": passage.lane,
                    "plate": passage.truck_plate,
                    "reason": passage.get_reason_display(),
                    "detail": passage.detail,
                },
                data={"passage": passage.pk, "gate": gate.pk, "reason": passage.reason},
            )
        )
    groups = [events.gate_group(gate.pk)]
    if owner:
        groups.append(live.organisation_group(owner))
    live.publish_on_commit(groups=groups, event=events.gate_passed(passage))


# ---------------------------------------------------------------- transit under e-seal


@transaction.atomic
def transit_open(*, user: User, data: dict) -> Transit:
    """An exporter sends a container inland to the port under an electronic seal."""
    orgs = Organisation.objects.filter(
        memberships__user=user,
        memberships__role__in=queries.FILING_ROLES,
        kind=Organisation.Kind.ENTERPRISE,
    ).order_by("pk")
    org = orgs.first()
    if org is None:
        raise PermissionDenied(_("Only an enterprise's declarants open transits."))
    errors: dict = {}
    container = validation.container(data.get("container"), errors, "container", required=True)
    seal = validation.seal(data.get("seal"), errors, "seal", required=True)
    plate = validation.plate(data.get("truck_plate"), errors, required=False)
    origin = str(data.get("origin") or "").strip()
    if not origin or len(origin) > 100:
        errors["origin"] = [_("Say where the goods leave from (at most 100 characters).")]
    declaration = str(data.get("declaration_number") or "").strip()
    if declaration and not validation.DECLARATION_NUMBER.match(declaration):
        errors["declaration_number"] = [_("A declaration number has 18 digits.")]
    if (
        not errors
        and Transit.objects.filter(
            container_number=container, status=Transit.Status.IN_TRANSIT
        ).exists()
    ):
        errors["container"] = [_("This container is already in transit.")]
    if errors:
        raise InvalidInput(errors)
    return _transit_open(
        organisation_id=org.pk,
        container_number=container,
        seal_number=seal,
        truck_plate=plate,
        origin=origin,
        declaration_number=declaration,
        movement=None,
        actor=user,
    )


def _transit_open(
    *,
    organisation_id,
    container_number,
    seal_number,
    truck_plate,
    origin,
    declaration_number,
    movement,
    actor,
) -> Transit:
    transit = Transit.objects.create(
        organisation_id=organisation_id,
        container_number=container_number,
        seal_number=seal_number,
        truck_plate=truck_plate,
        origin=origin,
        declaration_number=declaration_number,
        movement=movement,
    )
    timeline_record(
        subject=transit,
        kind=TimelineEvent.Kind.TRANSIT_OPENED,
        actor=actor,
        organisation=Organisation(pk=organisation_id),
        data={"container": container_number, "seal": seal_number},
    )
    return transit


@transaction.atomic
def transit_seal_read(*, user: User, data: dict) -> Transit:
    """The port gate reads a container's electronic seal.

    Seal intact and the same as the transit's: the transit is written off and the
    container's gate-in is reported (which plans its diversion: direct loading when its
    export is released). Otherwise the transit is in alarm and customs gets a critical
    alarm. Raises InvalidInput when no transit is under way for the container.
    """
    terminal = queries.terminal_of(user)
    if terminal is None:
        raise PermissionDenied(_("Only a terminal operator reads seals at the port gate."))
    errors: dict = {}
    container = validation.container(data.get("container"), errors, "container", required=True)
    seal = validation.seal(data.get("seal"), errors, "seal", required=False)
    intact = data.get("seal_intact", True) is True
    plate = validation.plate(data.get("truck_plate"), errors, required=False)
    if errors:
        raise InvalidInput(errors)
    # Locked: two reads of the same container are decided one after the other.
    transit = (
        Transit.objects.select_for_update()
        .filter(container_number=container, status=Transit.Status.IN_TRANSIT)
        .filter(_bound_for(terminal))
        .first()
    )
    if transit is None:
        raise InvalidInput(
            {"container": [_("No transit under e-seal is under way for this container.")]}
        )
    transit.seal_read, transit.arrived_at = seal, timezone.now()
    if intact and seal == transit.seal_number:
        transit.terminal = terminal
        transition(
            transit,
            Transit.Status.WRITTEN_OFF,
            extra_fields=["seal_read", "arrived_at", "terminal"],
        )
        timeline_record(
            subject=transit,
            kind=TimelineEvent.Kind.TRANSIT_WRITTEN_OFF,
            actor=user,
            organisation=Organisation(pk=transit.organisation_id),
            data={"container": container, "seal": seal},
        )
        _gate_in(user, container, plate or transit.truck_plate)
        return transit
    transition(transit, Transit.Status.SEAL_ALARM, extra_fields=["seal_read", "arrived_at"])
    timeline_record(
        subject=transit,
        kind=TimelineEvent.Kind.TRANSIT_SEAL_MISMATCH,
        actor=user,
        organisation=Organisation(pk=transit.organisation_id),
        data={"container": container, "seal": seal, "intact": intact},
    )
    office = _port_office(terminal)
    if office is not None:
        alarm_services.alarm_raise(
            spec=alarm_services.AlarmSpec(
                kind=Alarm.Kind.SEAL_MISMATCH,
                severity=Alarm.Severity.CRITICAL,
                customs_office_id=office,
                dedupe_key=f"transit:{transit.pk}",
                subject=container,
                message=_(
                    "%(container)s reached %(terminal)s with seal %(read)s (%(state)s); it "
                    "left under seal %(sealed)s."
                )
                % {
                    "container": container,
                    "terminal": terminal.name,
                    "read": seal or "—",
                    "state": _("intact") if intact else _("broken"),
                    "sealed": transit.seal_number,
                },
                data={"transit": transit.pk},
            )
        )
    return transit


def _bound_for(terminal) -> Q:
    return Q(terminal__isnull=True) | Q(terminal=terminal)


def _gate_in(user: User, container: str, plate: str) -> None:
    from inspection import services as inspection_services

    try:
        with transaction.atomic():  # a savepoint: a container the port does not know
            inspection_services.gate_report(
                user=user, container_number=container, direction="in", truck_plate=plate
            )
    except InvalidInput:
        pass  # written off all the same; the terminal reports its gate-in when it knows it


def _port_office(terminal) -> int | None:
    return (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port=terminal.port_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


# ---------------------------------------------------------------- demo


def zone_demo_set_up(*, port, office: Organisation, enterprises: list[Organisation]) -> None:
    """The demo's Xiangyu bonded zone, its gate (4 lanes) and its enterprises. Idempotent."""
    zone, _created = Zone.objects.update_or_create(
        code="XYBZ",
        defaults={
            "name": "Xiangyu Bonded Zone",
            "name_local": "象屿综合保税区",
            "port": port,
            "customs_office": office,
        },
    )
    ZoneGate.objects.update_or_create(
        zone=zone, code="G1", defaults={"name": "Xiangyu Gate 1", "lanes": 4}
    )
    for enterprise in enterprises:
        ZoneEnterprise.objects.get_or_create(zone=zone, organisation=enterprise)


@transaction.atomic
def movement_file_upload(*, user: User, content: bytes, name: str) -> list[Movement]:
    """File the documents of an ERP file (all or nothing); errors name the file's rows."""
    documents, rows = erp.documents_from_file(content, name)
    try:
        return movement_file_many(user=user, documents=documents, source=Movement.Source.UPLOAD)
    except InvalidInput as error:
        raise InvalidInput(erp.errors_by_row(error.errors, rows)) from None
