"""A long synthetic history for the scale demo: declarations, their timeline and rollups.

Writes with COPY in batches: declarations and their goods lines (real rows, so that
every event's subject exists and no later declaration reuses an id), the timeline events
a real filing writes (filed, submitted, decided, one per container decided), and the
clearance facts. Then recounts the hourly rollups in one set-based pass and moves the
watermark past the history. Run it on a quiet port: events written by live traffic
while it runs are counted by the recount, not by the consumer.
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics import services
from analytics.models import Watermark
from analytics.simulation import (
    EXPORTS,
    IMPORT_ORIGINS,
    RELEASED_IMPORTS,
    SELECTED_IMPORTS,
    TRADE_MODES,
    random_container,
)
from port.models import Organisation, PortCall, TimelineEvent, User

HISTORY_BL_PREFIX = "HIST"
OUTCOMES = ["scan", "manual", "quarantine"]


@dataclass(frozen=True)
class Cast:
    """Who trades in the history: the demo enterprises, their broker, the vessel calls."""

    enterprises: list[tuple[int, str]]  # (id, direction)
    broker_id: int
    user_id: int
    calls: list[tuple[int, int]]  # (port call id, terminal id)


def cast() -> Cast:
    importer = Organisation.objects.get(name="Xiamen Harbour Foods Import Co., Ltd.")
    exporter = Organisation.objects.get(name="Fujian Sunrise Ceramics Export Co., Ltd.")
    broker = Organisation.objects.get(
        kind=Organisation.Kind.CUSTOMS_BROKER, customs_code="3502980021"
    )
    calls = list(PortCall.objects.values_list("pk", "terminal_id"))
    return Cast(
        enterprises=[(importer.pk, "import"), (exporter.pk, "export")],
        broker_id=broker.pk,
        user_id=User.objects.get(username="importer").pk,
        calls=calls,
    )


def build(
    *, events: int, days: int = 180, batch: int = 20_000, seed: int = 1, progress=None
) -> int:
    """Add synthetic declarations until the timeline holds at least `events` events;
    return how many events were added."""
    existing = TimelineEvent.objects.count()
    if existing >= events:
        return 0
    rng = random.Random(seed + existing)  # noqa: S311 - demo data
    people = cast()
    now = timezone.now() - timedelta(hours=1)
    added = 0
    while existing + added < events:
        added += _write_batch(rng, people, now, days, batch)
        if progress:
            progress(existing + added)
    with transaction.atomic():
        Watermark.objects.get_or_create(name=services.WATERMARK)
        last = TimelineEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        Watermark.objects.filter(name=services.WATERMARK).update(last_event_id=last)
    services.hourly_counts_rebuild()
    services.clearance_daily_rebuild()
    _cluster_facts_by_filing_time()
    return added


def _cluster_facts_by_filing_time() -> None:
    """Store the facts in filing order, as a live port writes them.

    The history is written in batches that each span every day, so without this a week's
    facts sit on as many pages as there are facts: a period's statistics then read 20,000
    scattered pages instead of a few hundred (measured: a week's dashboard 739 ms before,
    262 ms after, at ten million events).
    """
    with connection.cursor() as cursor:
        cursor.execute("CLUSTER analytics_clearancefact USING clearance_fact_filed")
        cursor.execute("ANALYZE analytics_clearancefact")


def _reserve_ids(cursor, table: str, count: int) -> list[int]:
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def _write_batch(rng: random.Random, people: Cast, now: datetime, days: int, events: int) -> int:
    # About six events per declaration: filed, submitted, decided, one per container.
    plans = [_plan(rng, people, now, days) for _ in range(events // 6 or 1)]
    with connection.cursor() as cursor:
        ids = _reserve_ids(cursor, "declarations_declaration", len(plans))
        raw = cursor.connection  # psycopg 3: COPY through the same transaction
        with raw.cursor() as copy_cursor:
            _copy_declarations(copy_cursor, ids, plans, people)
            count = _copy_events(copy_cursor, ids, plans)
            _copy_facts(copy_cursor, ids, plans, people)
    return count


@dataclass
class Plan:
    enterprise_id: int
    declarant_id: int
    direction: str
    call: tuple[int, int]
    hs_code: str
    description: str
    origin: str
    value: int
    containers: list[str]
    selected: bool
    outcome: str
    trade_mode: str
    arrived_at: datetime | None
    filed_at: datetime
    decided_at: datetime


def _plan(rng: random.Random, people: Cast, now: datetime, days: int) -> Plan:
    enterprise_id, direction = rng.choice(people.enterprises)
    if direction == "export":
        goods, origin, selected = rng.choice(EXPORTS), "CN", False
    else:
        selected = rng.random() < 0.2
        goods = rng.choice(SELECTED_IMPORTS if selected else RELEASED_IMPORTS)
        origin = rng.choice(IMPORT_ORIGINS)
    filed_at = now - timedelta(seconds=rng.uniform(0, days * 86400))
    # Decisions take minutes, a few take hours: a long tail, like the real thing.
    decided_at = filed_at + timedelta(minutes=rng.lognormvariate(2.5, 1.0))
    # An import's vessel arrives a few hours before most filings; a third are filed ahead
    # of it. The history's arrivals are its own: its port calls are the demo's few.
    arrived_at = None
    if direction == "import":
        ahead = rng.random() < 0.35
        arrived_at = filed_at + timedelta(
            hours=rng.uniform(1, 12) if ahead else -rng.lognormvariate(1.5, 0.8)
        )
    quantity = rng.randint(*goods.quantity)
    return Plan(
        enterprise_id=enterprise_id,
        declarant_id=people.broker_id if rng.random() < 0.4 else enterprise_id,
        direction=direction,
        call=rng.choice(people.calls),
        hs_code=goods.hs_code,
        description=goods.description,
        origin=origin,
        value=quantity * goods.value_per_unit,
        containers=[random_container(rng) for _ in range(rng.randint(1, 3))],
        selected=selected,
        outcome=rng.choice(OUTCOMES) if selected else "release",
        trade_mode=rng.choice(TRADE_MODES),
        arrived_at=arrived_at,
        filed_at=filed_at,
        decided_at=decided_at,
    )


def _copy_declarations(cursor, ids: list[int], plans: list[Plan], people: Cast) -> None:
    columns = (
        "id, created_at, updated_at, number, direction, enterprise_id, declarant_id, created_by_id, "
        "port_call_id, bl_number, status, idempotency_key, submitted_at, decided_at, trade_mode"
    )
    with cursor.copy(f"COPY declarations_declaration ({columns}) FROM STDIN") as copy:
        for pk, p in zip(ids, plans, strict=True):
            status = "inspection_required" if p.selected else "released"
            copy.write_row(
                (pk, p.filed_at, p.decided_at, None, p.direction, p.enterprise_id, p.declarant_id)
                + (
                    people.user_id,
                    p.call[0],
                    f"{HISTORY_BL_PREFIX}{pk:012d}",
                    status,
                    "",
                    p.filed_at,
                    p.decided_at,
                    p.trade_mode,
                )
            )
    columns = (
        "declaration_id, line_number, hs_code, description, quantity, unit, value, origin_country"
    )
    with cursor.copy(f"COPY declarations_declarationitem ({columns}) FROM STDIN") as copy:
        for pk, p in zip(ids, plans, strict=True):
            copy.write_row((pk, 1, p.hs_code, p.description, 1, "kg", p.value, p.origin))


def _copy_events(cursor, ids: list[int], plans: list[Plan]) -> int:
    rows = []
    for pk, p in zip(ids, plans, strict=True):
        decision = "inspection_required" if p.selected else "released"
        org = p.enterprise_id
        rows.append(
            (
                "declaration.filed",
                org,
                "declarations.declaration",
                pk,
                {"containers": p.containers, "items": 1},
                p.filed_at,
            )
        )
        rows.append(
            (
                "declaration.status_changed",
                org,
                "declarations.declaration",
                pk,
                {"from": "draft", "to": "submitted"},
                p.filed_at,
            )
        )
        rows.append(
            (
                "declaration.status_changed",
                org,
                "declarations.declaration",
                pk,
                {
                    "from": "submitted",
                    "to": decision,
                    "selected": p.containers if p.selected else [],
                },
                p.decided_at,
            )
        )
        for index, number in enumerate(p.containers):
            rows.append(
                (
                    "inspection.container_decided",
                    org,
                    "inspection.decision",
                    pk * 10 + index,
                    {"container": number, "outcome": p.outcome},
                    p.decided_at,
                )
            )
    # The timeline in time order, so ids grow with time as they do in a live port.
    rows.sort(key=lambda r: r[5])
    columns = "kind, organisation_id, subject_type, subject_id, data, created_at"
    with cursor.copy(f"COPY port_timelineevent ({columns}) FROM STDIN") as copy:
        for kind, org, subject_type, subject_id, data, at in rows:
            copy.write_row((kind, org, subject_type, subject_id, json.dumps(data), at))
    return len(rows)


def _copy_facts(cursor, ids: list[int], plans: list[Plan], people: Cast) -> None:
    columns = (
        "declaration_id, direction, enterprise_id, declarant_id, terminal_id, port_call_id, "
        "trade_mode, hs_chapter, origin_country, value, containers, containers_selected, "
        "arrived_at, filed_at, decided_at, inspection_started_at, released_at, outcome"
    )
    with cursor.copy(f"COPY analytics_clearancefact ({columns}) FROM STDIN") as copy:
        for pk, p in zip(ids, plans, strict=True):
            copy.write_row(
                (
                    pk,
                    p.direction,
                    p.enterprise_id,
                    p.declarant_id,
                    p.call[1],
                    p.call[0],
                    p.trade_mode,
                    p.hs_code[:2],
                    p.origin,
                    p.value,
                )
                + (
                    len(p.containers),
                    len(p.containers) if p.selected else 0,
                    p.arrived_at,
                    p.filed_at,
                    p.decided_at,
                    None,
                )
                + (
                    None if p.selected else p.decided_at,
                    "inspection_required" if p.selected else "released",
                )
            )
