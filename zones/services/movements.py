"""Filing zone documents: one document does the work of three forms (goods movement, gate
pass, stock change), from the browser, the API or an ERP file."""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from port import live
from port.errors import InvalidInput
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record_many
from zones import duty, events, queries, validation
from zones.models import (
    GatePass,
    Movement,
    MovementLine,
    StockItem,
)
from zones.services import stock

K = Movement.Kind


@transaction.atomic
def movement_file_many(*, user: User, documents: list, source: str) -> list[Movement]:
    """File a batch of zone documents, each one doing the work of three forms: the goods
    movement, its gate pass (for a truck) and the stock change.

    Exits and transfers take their goods from the account at once, in one conditional
    UPDATE for the batch (refused, with the line that lacks stock, if any item is short);
    a transfer credits the receiver at once, or, carried by truck (it names a plate), when
    its truck passes the gate; an entry credits the account when its truck passes the gate. All or nothing: a bad document changes nothing. Writes the movements,
    lines, passes and ledger, one timeline event each, and one live push per organisation.
    """
    account = queries.zone_enterprise_for(user)
    if account is None:
        raise PermissionDenied(_("Only a zone enterprise's declarants file zone movements."))
    docs = validation.documents(documents)
    duty_errors = duty.apply(docs)
    if duty_errors:
        raise InvalidInput({"documents": duty_errors})
    zone, org = account.zone, account.organisation
    receivers = _receivers(docs, zone, org)
    check_items(docs, zone, org)
    movements = _write_documents(docs, zone, org, receivers, user, source)
    debits, credits = [], []
    for i, (doc, movement) in enumerate(zip(docs, movements, strict=True)):
        if doc["kind"] in Movement.TAKEN_AT_FILING:
            debits += [(i, j, org.pk, line) for j, line in enumerate(movement.line_list)]
        if doc["kind"] == K.TRANSFER and not doc.get("truck_plate"):
            credits += [(receivers[i].pk, line) for line in movement.line_list]
    stock.stock_debit(zone.pk, debits)
    stock.stock_credit(zone.pk, credits)
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


def pass_valid_until():
    """When a pass filed now lapses (ZONE_PASS_VALID_HOURS, 72 by default)."""
    return timezone.now() + timedelta(hours=getattr(settings, "ZONE_PASS_VALID_HOURS", 72))


def check_items(docs: list[dict], zone, org) -> None:
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
            if doc["kind"] == K.TRANSFER and not doc.get("truck_plate")
            else Movement.Status.AT_GATE,
            source=source,
            counterparty=receivers.get(i),
            declaration_number=doc["declaration_number"],
            duty_amount=doc["duty_amount"],
            duty_declared=doc["duty_declared"],
            consumption_tax_amount=doc["consumption_tax_amount"],
            vat_amount=doc["vat_amount"],
            tax_total=doc["tax_total"],
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
    valid_until = pass_valid_until()
    GatePass.objects.bulk_create(
        GatePass(
            movement=movement,
            zone=zone,
            direction=_direction(doc["kind"]),
            truck_plate=doc["truck_plate"],
            container_number=doc["container"],
            seal_number=doc["seal"],
            declared_weight_kg=doc["declared_weight_kg"],
            expires_at=valid_until,
            hazard=validation.hazard_summary(doc["lines"]),
        )
        for doc, movement in zip(docs, movements, strict=True)
        if doc.get("truck_plate")
    )
    return movements


def _direction(kind: str) -> str:
    if kind in Movement.ENTRIES:
        return GatePass.Direction.IN
    return GatePass.Direction.INTERNAL if kind == K.TRANSFER else GatePass.Direction.OUT
