"""A document after filing, until its truck passes: amended (the stock change redone),
cancelled, or lapsed when its pass expires unused (the goods of an exit, or of a transfer
carried by truck, back on the sender's account).

Locks are taken pass first, then movement, the order the gate takes them in, so a truck
read while its document changes waits for one or the other and never deadlocks."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from port import live
from port.errors import InvalidInput
from port.models import TimelineEvent, User
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition, transition_many
from zones import duty, events, queries, validation
from zones.models import GatePass, Movement, MovementLine
from zones.services import stock
from zones.services.movements import check_items, pass_valid_until

EXPIRY_BATCH = 500


def _locked_at_gate(user: User, movement_id: int) -> tuple[GatePass, Movement]:
    """The user's movement still waiting for its truck, pass and movement locked."""
    if queries.zone_enterprise_for(user) is None:
        raise PermissionDenied(_("Only a zone enterprise's declarants change zone movements."))
    movement = queries.movement_get_for_user(user=user, movement_id=movement_id)  # NotYours
    # A transfer without a truck has no pass: it completed at filing.
    gate_pass = GatePass.objects.select_for_update().filter(movement_id=movement.pk).first()
    movement = Movement.objects.select_for_update().get(pk=movement.pk)
    if gate_pass is None or gate_pass.status != GatePass.Status.OPEN:
        raise InvalidInput(
            {"non_field_errors": [_("Only a movement whose truck has not passed can change.")]}
        )
    if movement.status != Movement.Status.AT_GATE:
        raise InvalidInput({"non_field_errors": [_("This movement can no longer change.")]})
    return gate_pass, movement


def _give_back(movement: Movement, lines: list[MovementLine]) -> None:
    """An exit's or a transfer's goods return to the sender's account (ledger rows on the
    same movement)."""
    if movement.kind in Movement.TAKEN_AT_FILING:
        stock.stock_credit(movement.zone_id, [(movement.organisation_id, ln) for ln in lines])


@transaction.atomic
def movement_amend(*, user: User, movement_id: int, document: dict) -> Movement:
    """Replace a document awaiting the gate by its corrected version (same kind): lines,
    truck, container, seal, weight, declaration and duty. An exit's old lines return to the
    account and its new lines are taken, in this transaction, so a correction can never
    leave the account short or doubled. The pass is valid again from now. Raises
    InvalidInput (field errors as for filing, nothing changed), NotYours."""
    gate_pass, movement = _locked_at_gate(user, movement_id)
    [doc] = _clean(document, movement)
    old_lines = list(movement.lines.all())
    _give_back(movement, old_lines)
    MovementLine.objects.filter(movement=movement).delete()
    lines = MovementLine.objects.bulk_create(
        MovementLine(movement=movement, **line) for line in doc["lines"]
    )
    if movement.kind in Movement.TAKEN_AT_FILING:
        try:
            stock.stock_debit(
                movement.zone_id,
                [(0, j, movement.organisation_id, ln) for j, ln in enumerate(lines)],
            )
        except InvalidInput as error:  # the account, old lines given back, is still short
            raise InvalidInput(error.errors["documents"]["0"]) from None
    for field in ("truck_plate", "seal", "declared_weight_kg"):
        setattr(gate_pass, field, doc[field])
    gate_pass.container_number = doc["container"]
    gate_pass.expires_at = pass_valid_until()
    gate_pass.hazard = validation.hazard_summary(doc["lines"])
    gate_pass.save()
    movement.declaration_number = doc["declaration_number"]
    for field in ("duty_amount", "duty_declared", "consumption_tax_amount", "vat_amount"):
        setattr(movement, field, doc[field])
    movement.tax_total = doc["tax_total"]
    movement.amended_count += 1
    movement.save()
    timeline_record(
        subject=movement,
        kind=TimelineEvent.Kind.ZONE_MOVEMENT_AMENDED,
        actor=user,
        organisation=movement.organisation,
        data={
            "number": movement.number,
            "before": _summary(old_lines),
            "after": _summary(lines),
            "truck_plate": gate_pass.truck_plate,
        },
    )
    _push(movement)
    return movement


def _clean(document: dict, movement: Movement) -> list[dict]:
    if not isinstance(document, dict):
        raise InvalidInput({"non_field_errors": [_("Send the corrected document.")]})
    if document.get("kind", movement.kind) != movement.kind:
        raise InvalidInput({"kind": [_("A movement keeps its kind; cancel it and file anew.")]})
    document = {**document, "kind": movement.kind}
    if movement.kind == Movement.Kind.TRANSFER:
        # A transfer keeps its receiver and, carried by truck, a truck.
        if not str(document.get("truck_plate") or "").strip():
            raise InvalidInput({"truck_plate": [_("Give the truck's plate.")]})
        document["counterparty_uscc"] = movement.counterparty.uscc
    try:
        docs = validation.documents([document])
        errors = duty.apply(docs)
        if errors:
            raise InvalidInput({"documents": errors})
        # The item codes are checked against the account as it stands.
        check_items(docs, movement.zone, movement.organisation)
    except InvalidInput as error:
        found = error.errors.get("documents")
        raise InvalidInput(found["0"] if isinstance(found, dict) else error.errors) from None
    return docs


@transaction.atomic
def movement_cancel(*, user: User, movement_id: int, reason: str = "") -> Movement:
    """Withdraw a document whose truck has not passed: its pass can no longer release, and
    the goods an exit or a transfer took at filing return to the sender's account (a
    transfer's receiver was not credited yet). Raises InvalidInput, NotYours."""
    gate_pass, movement = _locked_at_gate(user, movement_id)
    gate_pass.status = GatePass.Status.CANCELLED
    gate_pass.save(update_fields=["status", "updated_at"])
    transition(movement, Movement.Status.CANCELLED)
    _give_back(movement, list(movement.lines.all()))
    timeline_record(
        subject=movement,
        kind=TimelineEvent.Kind.ZONE_MOVEMENT_CANCELLED,
        actor=user,
        organisation=movement.organisation,
        data={"number": movement.number, "reason": str(reason)[:200]},
    )
    _push(movement)
    return movement


def gate_pass_expire_due(*, now=None) -> int:
    """Lapse the passes unused past their time, a batch at a time: each movement expires
    and an exit's goods return to its account. Idempotent (only open passes are taken,
    SKIP LOCKED, so a pass a truck is using right now is left to the gate). Returns how many
    expired."""
    now = now or timezone.now()
    total = 0
    while True:
        count = _expire_batch(now)
        total += count
        if count < EXPIRY_BATCH:
            return total


@transaction.atomic
def _expire_batch(now) -> int:
    passes = list(
        GatePass.objects.select_for_update(skip_locked=True)
        .filter(status=GatePass.Status.OPEN, expires_at__lte=now)
        .order_by("expires_at")[:EXPIRY_BATCH]
    )
    if not passes:
        return 0
    movements = list(
        Movement.objects.select_for_update()
        .filter(pk__in=[p.movement_id for p in passes], status=Movement.Status.AT_GATE)
        .order_by("pk")
    )
    GatePass.objects.filter(pk__in=[p.pk for p in passes]).update(
        status=GatePass.Status.EXPIRED, updated_at=now
    )
    transition_many(movements, Movement.Status.EXPIRED)
    exits = {m.pk: m for m in movements if m.kind in Movement.TAKEN_AT_FILING}
    by_zone: dict[int, list] = {}
    for line in MovementLine.objects.filter(movement_id__in=exits):
        m = exits[line.movement_id]
        by_zone.setdefault(m.zone_id, []).append((m.organisation_id, line))
    for zone_id, credits in by_zone.items():
        stock.stock_credit(zone_id, credits)
    timeline_record_many(
        subjects=movements,
        kind=TimelineEvent.Kind.ZONE_PASS_EXPIRED,
        data_for=lambda m: {"number": m.number, "kind": m.kind},
        organisation_id_for=lambda m: m.organisation_id,
    )
    by_org: dict[int, list[int]] = {}
    for m in movements:
        by_org.setdefault(m.organisation_id, []).append(m.pk)
    live.publish_many_on_commit(
        [([live.organisation_group(org)], events.stock_changed(ids)) for org, ids in by_org.items()]
    )
    return len(passes)


def _summary(lines) -> list[list[str]]:
    return [[ln.item_no, f"{ln.quantity.normalize():f}"] for ln in lines]


def _push(movement: Movement) -> None:
    organisations = {movement.organisation_id, movement.counterparty_id} - {None}
    live.publish_on_commit(
        groups=sorted(live.organisation_group(org) for org in organisations),
        event=events.stock_changed([movement.pk]),
    )
