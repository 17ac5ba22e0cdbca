"""Reconciliation: what the port's systems say about the same goods, compared continuously.

Each rule is one set-based query over a window of time that returns the discrepancies it
finds as alarm specs; `reconcile` raises them in one batch (an alarm per discrepancy, once:
a rule that finds it again changes nothing). A beat task runs it (port/celery.py).
"""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DecimalField, Exists, F, OuterRef, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from alarms import services as alarm_services
from alarms.models import Alarm
from alarms.services import AlarmSpec
from declarations import queries as declaration_queries
from inspection import queries as inspection_queries
from port.models import Organisation
from shipping import queries as shipping_queries
from zones.models import StockItem

# How far back each run looks; older discrepancies were raised by earlier runs.
WINDOW = timedelta(days=7)
# At most this many alarms of one rule a run; the rest come next run.
LIMIT = 2000
LOCK_KEY = 7_316_016  # pg advisory lock: one run at a time


def undeclared_after() -> timedelta:
    return timedelta(hours=getattr(settings, "RECONCILE_UNDECLARED_AFTER_HOURS", 24))


def manifest_never_declared(now) -> list[AlarmSpec]:
    """A container on a manifest for N hours that no live declaration of its call covers."""
    declared = declaration_queries.live_declared_containers().filter(
        declaration__port_call_id=OuterRef("port_call_id"),
        container__number=OuterRef("container_number"),
    )
    rows = (
        shipping_queries.manifest_lines_between(start=now - WINDOW, end=now - undeclared_after())
        .filter(~Exists(declared))
        .values_list("port_call_id", "port_call__port_id", "container_number", "bl_number")
        .distinct()[:LIMIT]
    )
    offices = _port_offices()
    return [
        AlarmSpec(
            kind=Alarm.Kind.MANIFEST_UNDECLARED,
            severity=Alarm.Severity.WARNING,
            customs_office_id=offices[port],
            dedupe_key=f"{call}:{container}",
            subject=container,
            message=partial(
                _text,
                gettext_noop(
                    "%(container)s (B/L %(bl)s) is on the manifest and no declaration covers "
                    "it after %(hours)s hours."
                ),
                {
                    "container": container,
                    "bl": bl,
                    "hours": int(undeclared_after().total_seconds() // 3600),
                },
            ),
            data={"port_call": call, "bl_number": bl},
        )
        for call, port, container, bl in rows
        if port in offices
    ]


def declared_not_on_manifest(now) -> list[AlarmSpec]:
    """A container declared on a call whose manifest (filed) does not list it."""
    on_manifest = shipping_queries.manifest_lines_between(start=now - 2 * WINDOW, end=now).filter(
        port_call_id=OuterRef("declaration__port_call_id"),
        container_number=OuterRef("container__number"),
    )
    call_has_manifest = shipping_queries.manifest_lines_between(
        start=now - 2 * WINDOW, end=now
    ).filter(port_call_id=OuterRef("declaration__port_call_id"))
    rows = (
        declaration_queries.live_declared_containers()
        .filter(declaration__submitted_at__gte=now - WINDOW, declaration__port_call__isnull=False)
        .filter(Exists(call_has_manifest), ~Exists(on_manifest))
        .values_list(
            "declaration__port_call_id",
            "declaration__port_call__port_id",
            "container__number",
            "declaration__number",
        )
        .distinct()[:LIMIT]
    )
    offices = _port_offices()
    return [
        AlarmSpec(
            kind=Alarm.Kind.DECLARED_NOT_MANIFESTED,
            severity=Alarm.Severity.WARNING,
            customs_office_id=offices[port],
            dedupe_key=f"{call}:{container}",
            subject=container,
            message=partial(
                _text,
                gettext_noop(
                    "%(container)s is declared (%(number)s) but not on its vessel's manifest."
                ),
                {"container": container, "number": number},
            ),
            data={"port_call": call, "declaration": number},
        )
        for call, port, container, number in rows
        if port in offices
    ]


def gate_out_without_release(now) -> list[AlarmSpec]:
    """A container that passed a port gate-out while no released declaration covers it: goods
    removed without release."""
    released = declaration_queries.released_declared_containers().filter(
        container_id=OuterRef("container_id")
    )
    rows = (
        inspection_queries.gate_events_between(start=now - WINDOW, end=now)
        .filter(direction="out", allowed=True)
        .filter(~Exists(released))
        .values_list("pk", "terminal__port_id", "container__number", "terminal__name")[:LIMIT]
    )
    offices = _port_offices()
    return [
        AlarmSpec(
            kind=Alarm.Kind.GATE_WITHOUT_RELEASE,
            severity=Alarm.Severity.CRITICAL,
            customs_office_id=offices[port],
            dedupe_key=f"gate-event:{pk}",
            subject=container,
            message=partial(
                _text,
                gettext_noop(
                    "%(container)s left through the gate of %(terminal)s and no released "
                    "declaration covers it."
                ),
                {"container": container, "terminal": terminal},
            ),
            data={"gate_event": pk},
        )
        for pk, port, container, terminal in rows
        if port in offices
    ]


def dangerous_goods_at_gate(now) -> list[AlarmSpec]:
    """A container a manifest lists as dangerous goods passing a port gate: hazardous
    chemicals get their warning at the gate."""
    dangerous = shipping_queries.dangerous_manifest_lines().filter(
        container_number=OuterRef("container__number")
    )
    rows = (
        inspection_queries.gate_events_between(start=now - timedelta(days=1), end=now)
        .filter(Exists(dangerous))
        .values_list("pk", "terminal__port_id", "container__number", "direction", "terminal__name")[
            :LIMIT
        ]
    )
    offices = _port_offices()
    return [
        AlarmSpec(
            kind=Alarm.Kind.DANGEROUS_AT_GATE,
            severity=Alarm.Severity.HIGH,
            customs_office_id=offices[port],
            dedupe_key=f"gate-event:{pk}",
            subject=container,
            message=partial(
                _text,
                gettext_noop(
                    "Dangerous goods at the gate of %(terminal)s: %(container)s (%(direction)s)"
                    " is on a manifest with a UN number or IMDG class."
                ),
                {"terminal": terminal, "container": container, "direction": direction},
            ),
            data={"gate_event": pk},
        )
        for pk, port, container, direction, terminal in rows
        if port in offices
    ]


def zone_stock_off_its_movements(now) -> list[AlarmSpec]:
    """A zone account whose quantity differs from the sum of its ledger of movements."""
    rows = (
        StockItem.objects.annotate(
            moved=Coalesce(Sum("entries__quantity"), Value(0), output_field=DecimalField())
        )
        .exclude(quantity=F("moved"))
        .values_list(
            "pk", "zone__customs_office_id", "item_no", "quantity", "moved", "organisation__name"
        )[:LIMIT]
    )
    return [
        AlarmSpec(
            kind=Alarm.Kind.ZONE_STOCK_MISMATCH,
            severity=Alarm.Severity.HIGH,
            customs_office_id=office,
            dedupe_key=f"{pk}:{quantity}:{moved}",
            subject=item_no,
            message=partial(
                _text,
                gettext_noop(
                    "%(org)s holds %(quantity)s of %(item)s; its movements add up to %(moved)s."
                ),
                {"org": org, "quantity": quantity, "item": item_no, "moved": moved},
            ),
            data={"stock_item": pk, "quantity": str(quantity), "moved": str(moved)},
        )
        for pk, office, item_no, quantity, moved, org in rows
    ]


RULES = [
    manifest_never_declared,
    declared_not_on_manifest,
    gate_out_without_release,
    dangerous_goods_at_gate,
    zone_stock_off_its_movements,
]


@transaction.atomic
def reconcile(*, now=None) -> dict[str, int]:
    """Run every rule and raise what it finds; returns the new alarms per rule. A run that
    finds another under way returns at once (its lock is held to the end of its transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return {}
    now = now or timezone.now()
    counts = {}
    for rule in RULES:
        counts[rule.__name__] = len(alarm_services.alarm_raise_many(specs=rule(now)))
    return counts


def _text(template: str, params: dict) -> str:
    """A message in the language active when it is called (alarms keep it in each one)."""
    return _(template) % params


def _port_offices() -> dict[int, int]:
    """Each port's customs office that receives its alarms (the first, as the gate's do)."""
    offices: dict[int, int] = {}
    for port, office in (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port__isnull=False)
        .order_by("pk")
        .values_list("port_id", "pk")
    ):
        offices.setdefault(port, office)
    return offices
