"""Container diversion: every container of a berthing vessel gets one instruction, and the
terminal hears about each new or changed one through its feed and a signed webhook.

Traditional flow: ship → yard, wait for customs, yard → inspection area or out: at least
two lifts and moves for every import container. With the decision known at berthing,
ship-side pickups and inspected containers go straight to their place: one each.
"""

import hashlib
import hmac
import http.client
import json
import secrets
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import queries as declaration_queries
from inspection import events, queries
from inspection.models import (
    Decision,
    Destination,
    DiversionInstruction,
    Inspection,
    Outcome,
    WebhookDelivery,
    WebhookEndpoint,
)
from port import live, outbound, outbox
from port.errors import InvalidInput, NotYours
from port.models import Container, PortCall, TimelineEvent, User
from port.queries import organisation_ids_for
from port.sql import execute_binary
from port.timeline import timeline_record_many

LIFTS_TRADITIONAL = 2  # ship → yard → destination
LIFTS_DIRECT = {
    Destination.SHIP_SIDE: 1,
    Destination.INSPECTION_AREA: 1,
    Destination.YARD: 2,
    Destination.DIRECT_LOADING: 1,
}
WEBHOOK_TIMEOUT = 5  # seconds
RETRY_BACKOFF = [10, 30, 120, 600, 1800]  # seconds after attempt 1, 2, ...


class Planned(NamedTuple):
    """An instruction as written: what the feed, the webhook and the caller see (a tuple:
    a vessel plans 14,000 at once, and a frozen dataclass costs five times as much to build)."""

    pk: int
    sequence: int
    container_id: int
    container_number: str
    destination: str
    reason: str


def _destinations(
    port_call_id: int, containers: dict[str, int], direct_pickup: set[str]
) -> dict[str, tuple[str, str]]:
    """(destination, reason) per container, from the decisions in one query (plain rows:
    no decision model, no rules JSON)."""
    rows = Decision.objects.filter(declaration__port_call_id=port_call_id)
    if len(containers) <= 100:
        # A few containers (a gate-in): those. A whole call: all of its decisions, which
        # beats testing each row against a list of thousands (`= ANY` scans the list).
        rows = rows.filter(container_id__any=list(containers.values()))
    decisions = {
        number: (outcome, direction, inspection_status, declaration_id)
        for number, outcome, direction, inspection_status, declaration_id in rows.order_by(
            "created_at", "pk"
        ).values_list(
            "container__number",
            "outcome",
            "declaration__direction",
            "inspection__status",
            "declaration_id",
        )
        if number in containers
    }
    # Declarations still held at the access stage (quarantine, permits): one query.
    holds = queries.access_holds(declaration_ids=sorted({d[3] for d in decisions.values()}))
    labels = {value: str(label) for value, label in Outcome.choices}
    released, not_declared = _("Released"), _("Not yet declared")
    direct = {
        "export": (Destination.DIRECT_LOADING, _("Released, declared for direct loading")),
        "import": (Destination.SHIP_SIDE, _("Released, declared for ship-side pickup")),
    }
    planned = {}
    for number in containers:
        decision = decisions.get(number)
        if decision is None:
            planned[number] = (Destination.YARD, not_declared)
            continue
        outcome, direction, inspection_status, declaration_id = decision
        if outcome != Outcome.RELEASE and inspection_status != Inspection.Status.RELEASED:
            planned[number] = (Destination.INSPECTION_AREA, labels[outcome])
        elif declaration_id in holds:
            planned[number] = (Destination.YARD, queries.hold_reason(holds[declaration_id]))
        elif number in direct_pickup:
            planned[number] = direct["export" if direction == "export" else "import"]
        else:
            planned[number] = (Destination.YARD, released)
    return planned


_INSERT = """
INSERT INTO {table} (created_at, updated_at, port_call_id, container_id, destination, reason,
    sequence)
SELECT %b::timestamptz, %b::timestamptz, %b::bigint, v.container_id, v.destination, v.reason,
    nextval('inspection_diversion_sequence')
FROM unnest(%b::bigint[], %b::text[], %b::text[]) WITH ORDINALITY
    AS v(container_id, destination, reason, n)
ORDER BY v.n
RETURNING id, sequence, container_id
"""

_UPDATE = """
UPDATE {table} AS i SET destination = v.destination, reason = v.reason,
    updated_at = %b::timestamptz, sequence = nextval('inspection_diversion_sequence')
FROM unnest(%b::bigint[], %b::text[], %b::text[]) AS v(id, destination, reason)
WHERE i.id = v.id
RETURNING i.id, i.sequence, i.container_id
"""


@transaction.atomic
def diversion_plan(
    *, port_call_id: int, container_numbers: list[str], direct_pickup: set[str] | None = None
) -> list[Planned]:
    """Plan (or re-plan) the given containers of a call: a fixed number of queries whatever
    their number (a 24,000-TEU vessel at berthing), plain rows in, one INSERT and one
    UPDATE out.

    New instructions are created, changed ones updated; both get a fresh sequence so the
    terminal's feed and webhook carry them, and the terminal gets one live message and one
    webhook delivery for the call. Unchanged ones are left alone, so planning twice changes
    nothing. `direct_pickup` holds the containers whose released declarations asked for
    ship-side pickup; by default the declarations are asked.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
    call = PortCall.objects.select_related("terminal", "vessel").get(pk=port_call_id)
    numbers = sorted(set(container_numbers))
    containers = _containers(numbers)
    if direct_pickup is None:
        direct_pickup = declaration_queries.containers_for_direct_delivery(
            port_call_id=port_call_id
        )
    planned = _destinations(port_call_id, containers, set(direct_pickup))
    existing = {
        number: (pk, destination, reason)
        for pk, number, destination, reason in DiversionInstruction.objects.filter(
            port_call=call, container_id__any=list(containers.values())
        ).values_list("pk", "container__number", "destination", "reason")
    }
    new = [n for n in numbers if n not in existing]
    changed = [n for n, (_pk, *was) in existing.items() if tuple(was) != planned[n]]
    now = timezone.now()
    table = DiversionInstruction._meta.db_table
    written = []
    if new:
        written += execute_binary(
            _INSERT.format(table=table),
            [
                now,
                now,
                call.pk,
                [containers[n] for n in new],
                [str(planned[n][0]) for n in new],
                [str(planned[n][1]) for n in new],
            ],
        )
    if changed:
        written += execute_binary(
            _UPDATE.format(table=table),
            [
                now,
                [existing[n][0] for n in changed],
                [str(planned[n][0]) for n in changed],
                [str(planned[n][1]) for n in changed],
            ],
        )
    if not written:
        return []
    number_of = {pk: n for n, pk in containers.items()}
    written.sort(key=lambda row: row[1])  # by sequence
    result = []
    for pk, sequence, container_id in written:
        number = number_of[container_id]
        destination, reason = planned[number]
        result.append(Planned(pk, sequence, container_id, number, destination, reason))
    _notify_terminal(call, result, changed=bool(changed and not new))
    return result


def diversion_plan_for_berthed_call(*, port_call_id: int) -> list[DiversionInstruction]:
    """The berthing hook: plan every container on the call's discharge list (its manifest).

    Registered with the shipping app; idempotent, as the hook may run twice.
    """
    from shipping import queries as shipping_queries

    numbers = list(
        shipping_queries.manifest_for_call(port_call_id=port_call_id)
        .values_list("container_number", flat=True)
        .distinct()
    )
    return diversion_plan(port_call_id=port_call_id, container_numbers=numbers)


def diversion_plan_at_gate_in(*, container: Container) -> list[DiversionInstruction]:
    """An export container at the gate: straight to its vessel (direct loading), to the
    inspection area, or to the yard, according to its export declaration."""
    port_call_id = declaration_queries.export_port_call_of(container_number=container.number)
    if port_call_id is None:
        return []
    return diversion_plan(port_call_id=port_call_id, container_numbers=[container.number])


_CONTAINERS = """
WITH created AS (
    INSERT INTO {table} (number, size_type)
    SELECT n, %b::text FROM unnest(%b::text[]) AS n
    WHERE NOT EXISTS (SELECT 1 FROM {table} c WHERE c.number = n)
    ON CONFLICT (number) DO NOTHING
    RETURNING number, id
)
SELECT number, id FROM created
UNION ALL
SELECT number, id FROM {table} WHERE number = ANY(%b::text[])
"""


def _containers(numbers: list[str]) -> dict[str, int]:
    """Container id by number, creating the ones this port has not seen (the manifest's
    import usually has): one statement. The created rows are not yet visible to the
    statement's own SELECT, so the two halves never overlap. A number another transaction
    created meanwhile is read again (a second statement, rare)."""
    found = dict(
        execute_binary(
            _CONTAINERS.format(table=Container._meta.db_table),
            [Container._meta.get_field("size_type").default, numbers, numbers],
        )
    )
    if len(found) < len(set(numbers)):
        missing = [n for n in numbers if n not in found]
        found |= dict(Container.objects.filter(number__any=missing).values_list("number", "pk"))
    return found


def _notify_terminal(call: PortCall, instructions: list[Planned], *, changed: bool) -> None:
    """One live message and one webhook delivery for the call, however many instructions."""
    operator_id = call.terminal.operator_id
    if operator_id is None:
        return
    payload = {
        "event": "diversion.instructions_changed" if changed else "diversion.instructions_planned",
        "port_call": call.pk,
        "vessel": call.vessel.name,
        "voyage": call.voyage,
        "instructions": [instruction_payload(i) for i in instructions],
    }
    live.publish_on_commit(
        groups=[live.organisation_group(operator_id)],
        event=events.diversion_changed(call.pk, len(instructions)),
    )
    endpoint = WebhookEndpoint.objects.filter(organisation_id=operator_id, is_active=True).first()
    if endpoint is not None:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event=payload["event"],
            payload=payload,
            next_attempt_at=timezone.now(),
        )
        from inspection.tasks import webhook_deliver_task

        outbox.enqueue(webhook_deliver_task.name, delivery_id=delivery.pk)


def instruction_payload(instruction: Planned) -> dict:
    return {
        "id": instruction.pk,
        "sequence": instruction.sequence,
        "container": instruction.container_number,
        "destination": instruction.destination,
        "reason": instruction.reason,
    }


def diversion_replan_after_decisions(*, port_call_id: int, container_ids: list[int]) -> None:
    """Decisions that arrive after berthing update the containers' instructions: a
    vessel's worth of decisions in a fixed number of queries."""
    call = PortCall.objects.get(pk=port_call_id)
    if call.status != PortCall.Status.BERTHED or not container_ids:
        return
    numbers = list(
        DiversionInstruction.objects.filter(
            port_call=call, container_id__any=container_ids
        ).values_list("container__number", flat=True)
    )
    if numbers:
        diversion_plan(port_call_id=call.pk, container_numbers=numbers)


def lifts_saved(*, port_call_id: int) -> dict:
    """Lifts and moves inside the terminal, against the traditional ship → yard → destination flow."""
    rows = (
        DiversionInstruction.objects.filter(port_call_id=port_call_id)
        .values_list("destination")
        .annotate(n=Count("pk"), off=Count("pk", filter=Q(discharged_at__isnull=False)))
        .values_list("destination", "n", "off")
    )
    counts = {destination: n for destination, n, _off in rows}
    containers = sum(counts.values())
    traditional = containers * LIFTS_TRADITIONAL
    diverted = sum(LIFTS_DIRECT[Destination(d)] * n for d, n in counts.items())
    return {
        "containers": containers,
        "discharged": sum(off for _destination, _n, off in rows),
        "by_destination": {d: counts.get(d, 0) for d in Destination.values},
        "lifts_traditional": traditional,
        "lifts_with_diversion": diverted,
        "lifts_saved": traditional - diverted,
        "saved_percent": round(100 * (traditional - diverted) / traditional, 1)
        if traditional
        else 0.0,
    }


# ---------------------------------------------------------------- the terminal's side


def instruction_feed(*, user: User, after: int, limit: int = 500) -> list[DiversionInstruction]:
    """Instructions for the user's terminals written after the cursor, oldest first."""
    return list(
        DiversionInstruction.objects.filter(
            port_call__terminal__operator_id__in=organisation_ids_for(user), sequence__gt=after
        )
        .select_related("container", "port_call")
        .order_by("sequence")[:limit]
    )


@transaction.atomic
def instructions_acknowledge(*, user: User, acknowledgements: list[dict]) -> int:
    """The terminal confirms it has applied instructions: [{"id": .., "sequence": ..}].

    An acknowledgement of an older sequence than the instruction's current one does not
    count: the terminal must apply the change first. Returns how many were acknowledged.
    """
    mine = DiversionInstruction.objects.filter(
        port_call__terminal__operator_id__in=organisation_ids_for(user)
    )
    errors, done = {}, 0
    for index, ack in enumerate(acknowledgements):
        updated = mine.filter(pk=ack.get("id"), sequence=ack.get("sequence")).update(
            acknowledged_sequence=ack.get("sequence"), acknowledged_at=timezone.now()
        )
        if updated == 0:
            errors[str(index)] = {
                "sequence": [_("No such instruction at this sequence: fetch the feed again.")]
            }
        done += updated
    if errors:
        transaction.set_rollback(True)
        raise InvalidInput({"instructions": errors})
    return done


@transaction.atomic
def containers_report_discharged(
    *,
    user: User,
    port_call_id: int,
    container_numbers: list[str],
    at=None,
    times: dict | None = None,
    skip_unknown: bool = False,
) -> dict:
    """The terminal reports containers lifted off its berthed vessel (its page, the API or
    a COARRI discharge report): each gets its discharge time and one timeline event, owned
    by the enterprise that declared it, so the dashboards count containers discharged.

    The discharge time is `times[number]` (a COARRI's move time per container), else `at`,
    else now. A container reported again is not counted again. Every number must be on the
    call's diversion list, or nothing is recorded; with `skip_unknown` (a terminal's file,
    where one stray line must not hold back the rest of the vessel) the others are
    recorded and the unknown returned. Returns {"discharged", "already", "unknown"}.
    Raises InvalidInput, NotYours.
    """
    call = (
        PortCall.objects.filter(terminal__operator_id__in=organisation_ids_for(user))
        .filter(pk=port_call_id)
        .first()
    )
    if call is None:
        raise NotYours("No such port call at your terminal")
    if call.status != PortCall.Status.BERTHED:
        raise InvalidInput(
            {"port_call": [_("Containers are discharged while the vessel is alongside.")]}
        )
    numbers = sorted({n.strip().upper() for n in container_numbers if n.strip()})
    if not numbers:
        raise InvalidInput({"containers": [_("List at least one container.")]})
    instructions = list(
        DiversionInstruction.objects.select_for_update()
        .filter(port_call=call, container__number__in=numbers)
        .select_related("container")
        .order_by("pk")
    )
    unknown = sorted(set(numbers) - {i.container.number for i in instructions})
    if unknown and not skip_unknown:
        raise InvalidInput(
            {
                "containers": [
                    _("Not on this vessel's discharge list: %(numbers)s")
                    % {"numbers": ", ".join(unknown)}
                ]
            }
        )
    fresh = [i for i in instructions if i.discharged_at is None]
    _record_discharges(call, fresh, user=user, at=at or timezone.now(), times=times or {})
    return {"discharged": len(fresh), "already": len(instructions) - len(fresh), "unknown": unknown}


def _record_discharges(call: PortCall, fresh: list, *, user: User, at, times: dict) -> None:
    for instruction in fresh:
        instruction.discharged_at = times.get(instruction.container.number) or at
    DiversionInstruction.objects.bulk_update(fresh, ["discharged_at", "updated_at"])
    owners = declaration_queries.import_enterprises_of(
        port_call_id=call.pk, container_numbers=[i.container.number for i in fresh]
    )
    by_owner: dict[int | None, list[DiversionInstruction]] = {}
    for instruction in fresh:
        by_owner.setdefault(owners.get(instruction.container.number), []).append(instruction)
    for owner_id, instructions_of_owner in by_owner.items():
        timeline_record_many(
            subjects=instructions_of_owner,
            kind=TimelineEvent.Kind.CONTAINER_DISCHARGED,
            organisation_id=owner_id,
            actor=user,
            data_for=lambda i: {
                "container": i.container.number,
                "port_call": call.pk,
                "destination": i.destination,
            },
        )
    if fresh:
        live.publish_on_commit(
            groups=[live.organisation_group(call.terminal.operator_id)],
            event=events.diversion_changed(call.pk, len(fresh)),
        )


# ---------------------------------------------------------------- webhook delivery


def sign(secret: str, body: bytes, timestamp: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery:
    """Send one delivery; on failure schedule the next attempt, up to MAX_ATTEMPTS.

    The row is claimed with a conditional update, so two workers never send it at once,
    and a delivered one is never sent again.
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=WEBHOOK_TIMEOUT * 3))
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if not claimed:
        return delivery
    body = json.dumps(delivery.payload, cls=DjangoJSONEncoder).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Portwise-Event": delivery.event,
        "X-Portwise-Delivery": str(delivery.pk),
        "X-Portwise-Timestamp": timestamp,
        "X-Portwise-Signature": "sha256=" + sign(delivery.endpoint.secret, body, timestamp),
    }
    try:
        # Resolved and checked again now: the name may point elsewhere since registration.
        status = outbound.post(delivery.endpoint.url, body, headers, timeout=WEBHOOK_TIMEOUT)
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except outbound.Refused as refused:
        error = str(refused)[:300]
    except (OSError, http.client.HTTPException) as failure:
        error = (str(failure) or type(failure).__name__)[:300]
    delivery = _record_attempt(delivery, error)
    if delivery.status == WebhookDelivery.Status.PENDING:
        from inspection.tasks import webhook_deliver_task

        webhook_deliver_task.apply_async(
            (delivery.pk,), countdown=RETRY_BACKOFF[delivery.attempts - 1]
        )
    return delivery


def _record_attempt(delivery: WebhookDelivery, error: str) -> WebhookDelivery:
    delivery.attempts += 1
    delivery.last_error = error
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= WebhookDelivery.MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = timezone.now() + timedelta(
            seconds=RETRY_BACKOFF[delivery.attempts - 1]
        )
    delivery.save(
        update_fields=[
            "attempts",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
            "updated_at",
        ]
    )
    return delivery


def webhook_deliveries_due(*, now=None) -> list[int]:
    """Pending deliveries whose next attempt is due: the sweeper sends them."""
    return list(
        WebhookDelivery.objects.filter(
            Q(status=WebhookDelivery.Status.PENDING) & Q(next_attempt_at__lte=now or timezone.now())
        ).values_list("pk", flat=True)[:500]
    )


@transaction.atomic
def webhook_endpoint_set(*, user: User, url: str) -> WebhookEndpoint:
    """A terminal operator registers where its instructions are posted; a new secret is
    issued each time, so a leaked one is replaced by setting the URL again."""
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.core.validators import URLValidator

    from port.models import Organisation

    operator = Organisation.objects.filter(
        pk__in=organisation_ids_for(user), kind=Organisation.Kind.TERMINAL_OPERATOR
    ).first()
    if operator is None:
        raise PermissionDenied(_("Only a terminal operator receives diversion instructions."))
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise InvalidInput(
            {"url": [_("Enter the http(s) address that receives the webhook.")]}
        ) from None
    try:
        outbound.check_url(url)  # public addresses only, unless settings allow the host
    except ValidationError as refused:
        raise InvalidInput({"url": refused.messages}) from None
    endpoint, _created = WebhookEndpoint.objects.update_or_create(
        organisation=operator,
        defaults={"url": url, "secret": secrets.token_hex(32), "is_active": True},
    )
    return endpoint


def webhook_deliveries_purge(*, now=None) -> int:
    """Delete delivered and given-up webhook deliveries older than WEBHOOK_RETENTION_DAYS
    (pending ones stay, whatever their age); return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        updated_at__lt=cutoff,
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED],
    ).delete()
    return deleted
