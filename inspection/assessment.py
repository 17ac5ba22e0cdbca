"""Assessment, owned by the inspection app from end to end.

`assess_declarations` is the one path: a batch of declaration ids in (one filing, a
batch of filings, a vessel call, a re-assessment under a new rule-set version), a fixed
number of queries whatever its size, the compiled rules engine in memory, bulk writes out:

- reads the consignments through the declarations app's queries (locked, plain rows);
- decides every container; a container without a decision gets one (and a
  `container_decided` event); a decision still open (selected, not overridden, no
  inspection ticket) that an older version made is decided again with the seed it was
  first drawn with, and updated when the outcome or the rules hit change (with a
  `decision_reassessed` event). Released, overridden and ticketed decisions never change;
- re-plans the diversion of berthed calls for those containers;
- tells the declarations app the outcome through its one narrow call,
  `declarations_record_assessment`;
- after commit, pushes the newly selected containers to the customs offices' queues: one
  event per office for the batch.

Nothing here imports back from a caller: the declarations app queues the
`inspection.assess_declarations` task by name.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from declarations import assessed as declaration_assessed
from declarations import queries as declaration_queries
from inspection import access, diversion, engine, events
from inspection.models import Decision, Inspection, Outcome, RuleSetVersion
from inspection.rules import Consignment
from port import live
from port.batch import collector_paused
from port.models import InspectionArea, TimelineEvent
from port.sql import execute_binary
from port.timeline import timeline_copy
from shipping import queries as shipping_queries


@dataclass
class _Existing:
    """A decision already made, as read for re-assessment (no model, no rules JSON)."""

    pk: int
    container_id: int
    outcome: str
    rules_hit: list
    version_id: int | None
    seed: str
    overridden: bool
    area_id: int | None
    inspection_status: str | None

    @property
    def is_open(self) -> bool:
        """A new rule-set version may still change it: selected, not overridden, no ticket."""
        return (
            self.outcome != Outcome.RELEASE and not self.overridden and not self.inspection_status
        )


def assess_declarations(*, declaration_ids: Iterable[int], actor_id: int | None = None) -> dict:
    """Assess these declarations (those still open among them) against the current rule
    set, in one pass; running it again changes nothing. Returns counts."""
    with collector_paused(), transaction.atomic():
        return _assess(declaration_ids, actor_id)


def _assess(declaration_ids: Iterable[int], actor_id: int | None) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # large generated statements: no JIT compile
    ids = sorted(set(declaration_ids))
    # The decisions first, then the declarations: the order `decision_override` takes the
    # same locks in, so the two never deadlock. A decision is changed only if locked here.
    locked = set(
        Decision.objects.select_for_update(of=("self",))
        .filter(declaration_id__any=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = declaration_queries.consignments_locked_for_assessment(declaration_ids=ids)
    if not rows:
        return {"declarations": 0, "containers": 0, "new": 0, "changed": 0}
    versions = {
        pk: (number, seed, sampling)
        for pk, number, seed, sampling in RuleSetVersion.objects.values_list(
            "pk", "number", "seed", "sampling"
        )
    }
    current = max(versions, key=lambda pk: versions[pk][0]) if versions else None
    sampling_of = {seed: sampling for _number, seed, sampling in versions.values()}
    existing = _existing([row.id for row in rows])
    areas = _first_area_by_terminal({row.terminal_id for row in rows})
    dangerous = {
        call_id: shipping_queries.dangerous_containers(port_call_id=call_id)
        for call_id in sorted({row.port_call_id for row in rows})
    }

    # Decide in memory, one engine call per sampling seed.
    seeds = {}
    for row in rows:
        before = existing.get(row.id)
        if before:
            first = before[0]
            seeds[row.id] = first.seed or (
                versions[first.version_id][1] if first.version_id else ""
            )
        else:
            seeds[row.id] = versions[current][1] if current else ""
    decided: dict[int, dict] = {}
    zone = timezone.get_current_timezone()
    by_seed: dict[str, list] = {}
    for row in rows:
        by_seed.setdefault(seeds[row.id], []).append(row)
    for seed, group in by_seed.items():
        compiled = engine.engine_for_version(
            current, sampling=sampling_of.get(seed) or (versions[current][2] if current else None)
        )
        consignments = [_consignment(row, dangerous[row.port_call_id], zone) for row in group]
        for row, result in zip(group, compiled.evaluate_many(consignments, seed), strict=True):
            decided[row.id] = result

    version_number = versions[current][0] if current else None
    new, changed, outcomes = [], [], {}
    for row in rows:
        mine = {d.container_id: d for d in existing.get(row.id, [])}
        area = areas.get(row.terminal_id)
        chosen, held = [], False
        for container_id, number in row.containers:
            outcome, hits = decided[row.id][number]
            before = mine.get(container_id)
            inspection_status = before.inspection_status if before else None
            if before is None:
                area_id = area[0] if area and outcome != Outcome.RELEASE else None
                new.append((row, container_id, number, outcome, hits, area_id))
            elif (
                before.version_id != current
                and before.pk in locked
                and before.is_open
                and (before.outcome, before.rules_hit) != (outcome, hits)
            ):
                area_id = (
                    None
                    if outcome == Outcome.RELEASE
                    else (before.area_id or (area[0] if area else None))
                )
                changed.append((row, before, number, outcome, hits, area_id))
            else:
                outcome = before.outcome
            if outcome != Outcome.RELEASE:
                chosen.append(number)
                held = held or inspection_status != Inspection.Status.RELEASED
        outcomes[row.id] = declaration_assessed.AssessmentOutcome(selected=chosen, held=held)
    _insert(new, current, seeds, version_number, actor_id)
    _update(changed, current, seeds, versions, version_number, actor_id)
    # Before the diversion: a container held at the access stage is planned to the yard.
    access.access_checks_open(
        declaration_ids=[r.id for r in rows if r.quarantine_involved or r.permits_involved]
    )
    for call_id in dangerous:
        diversion.diversion_replan_after_decisions(
            port_call_id=call_id,
            container_ids=[
                container_id
                for row in rows
                if row.port_call_id == call_id
                for container_id, _number in row.containers
            ],
        )
    declaration_assessed.declarations_record_assessment(outcomes=outcomes, actor_id=actor_id)
    _publish_selected(new, changed, areas)
    return {
        "declarations": len(rows),
        "containers": sum(len(row.containers) for row in rows),
        "new": len(new),
        "changed": len(changed),
    }


@transaction.atomic
def assess_port_call(*, port_call_id: int, actor_id: int | None = None) -> dict:
    """Assess every open declaration of one vessel call in one pass: what a new rule-set
    version, or an officer's "re-assess this vessel call", runs. Returns counts."""
    return assess_declarations(
        declaration_ids=declaration_queries.declaration_ids_open_for_call(
            port_call_id=port_call_id
        ),
        actor_id=actor_id,
    )


def _consignment(row, dangerous: frozenset[str], zone) -> Consignment:
    items = row.items
    value = sum([item[2] for item in items], Decimal(0))
    return Consignment(
        declaration_id=row.id,
        bl_number=row.bl_number,
        enterprise_id=row.enterprise_id,
        credit_rating=row.credit_rating,
        hs_codes=tuple([item[0] for item in items]),
        origin_countries=tuple([item[1] for item in items]),
        containers=tuple([number for _id, number in row.containers]),
        filed_on=(row.submitted_at or timezone.now()).astimezone(zone).date(),
        value_per_kg=(value / row.net_weight) if row.net_weight else None,
        is_summary=row.kind == "summary",
        dangerous_containers=dangerous,
    )


def _existing(declaration_ids: list[int]) -> dict[int, list[_Existing]]:
    """The decisions of these declarations, oldest first: one query, no rules JSON of the
    versions."""
    found: dict[int, list[_Existing]] = {}
    rows = (
        Decision.objects.filter(declaration_id__any=declaration_ids)
        .order_by("created_at", "pk")
        .values_list(
            "declaration_id",
            "pk",
            "container_id",
            "outcome",
            "rules_hit",
            "rule_set_version_id",
            "sampling_seed",
            "overridden_outcome",
            "overridden_by_id",
            "inspection_area_id",
            "inspection__status",
        )
    )
    for declaration_id, pk, container, outcome, hits, version, seed, was, by, area, status in rows:
        found.setdefault(declaration_id, []).append(
            _Existing(
                pk,
                container,
                outcome,
                hits,
                version,
                seed,
                bool(was) or by is not None,
                area,
                status,
            )
        )
    return found


def _first_area_by_terminal(terminal_ids: set) -> dict[int, tuple[int, int, str]]:
    """Each terminal's inspection area selected containers go to (its first): (id, customs
    office id, name), one query."""
    areas = {}
    for terminal_id, pk, office_id, name in (
        InspectionArea.objects.filter(terminal_id__in=[t for t in terminal_ids if t])
        .order_by("-pk")
        .values_list("terminal_id", "pk", "customs_office_id", "name")
    ):
        areas[terminal_id] = (pk, office_id, name)
    return areas


_INSERT = """
INSERT INTO {table} (created_at, updated_at, declaration_id, container_id, rule_set_version_id,
    outcome, rules_hit, inspection_area_id, overridden_outcome, override_reason, sampling_seed)
SELECT %b::timestamptz, %b::timestamptz, v.declaration_id, v.container_id, %b::bigint,
    v.outcome, v.rules_hit::jsonb, v.area_id, '', '', v.seed
FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::text[])
    AS v(declaration_id, container_id, outcome, rules_hit, area_id, seed)
RETURNING id
"""

_UPDATE = """
UPDATE {table} AS d SET outcome = v.outcome, rules_hit = v.rules_hit::jsonb,
    rule_set_version_id = %b::bigint, sampling_seed = v.seed, inspection_area_id = v.area_id,
    updated_at = %b::timestamptz
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::text[])
    AS v(id, outcome, rules_hit, area_id, seed)
WHERE d.id = v.id
"""


def _json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def _insert(new: list, version_id, seeds: dict, version_number, actor_id) -> None:
    """The new decisions in one INSERT … SELECT FROM unnest (bound in binary), their events
    in one COPY."""
    if not new:
        return
    now = timezone.now()
    texts: dict[int, str] = {}  # the engine shares hit lists between containers: one JSON each
    decision_ids = execute_binary(
        _INSERT.format(table=Decision._meta.db_table),
        [
            now,
            now,
            version_id,
            [row.id for row, *_ in new],
            [container_id for _row, container_id, *_ in new],
            [str(outcome) for *_, outcome, _hits, _area in new],
            [texts.get(id(hits)) or texts.setdefault(id(hits), _json(hits)) for *_, hits, _ in new],
            [area_id for *_, area_id in new],
            [seeds[row.id] for row, *_ in new],
        ],
    )
    timeline_copy(
        kind=TimelineEvent.Kind.CONTAINER_DECIDED,
        subject_type=Decision._meta.label_lower,
        actor_id=actor_id,
        rows=[
            (
                pk,
                row.enterprise_id,
                {"container": number, "outcome": str(outcome), "rule_set_version": version_number},
            )
            for (pk,), (row, _container_id, number, outcome, _hits, _area) in zip(
                decision_ids, new, strict=True
            )
        ],
    )


def _update(changed: list, version_id, seeds: dict, versions: dict, version_number, actor_id):
    """The re-decided decisions in one UPDATE … FROM unnest, their events in one COPY."""
    if not changed:
        return
    now = timezone.now()
    execute_binary(
        _UPDATE.format(table=Decision._meta.db_table),
        [
            version_id,
            now,
            [before.pk for _row, before, *_ in changed],
            [str(outcome) for *_, outcome, _hits, _area in changed],
            [_json(hits) for *_, hits, _area in changed],
            [area_id for *_, area_id in changed],
            [seeds[row.id] for row, *_ in changed],
        ],
    )
    timeline_copy(
        kind=TimelineEvent.Kind.DECISION_REASSESSED,
        subject_type=Decision._meta.label_lower,
        actor_id=actor_id,
        rows=[
            (
                before.pk,
                row.enterprise_id,
                {
                    "container": number,
                    "from": before.outcome,
                    "to": str(outcome),
                    "rule_set_version_from": (
                        versions[before.version_id][0] if before.version_id else None
                    ),
                    "rule_set_version": version_number,
                },
            )
            for row, before, number, outcome, _hits, _area in changed
        ],
    )


def _publish_selected(new: list, changed: list, areas: dict) -> None:
    """Newly selected containers to their customs office's queue, after commit: the event
    of the one declaration, or for a batch one event per office naming the declarations."""
    area_names = {pk: (office_id, name) for pk, office_id, name in areas.values()}
    by_declaration: dict[int, list] = {}
    for row, _x, number, outcome, _hits, area_id in [*new, *changed]:
        if outcome != Outcome.RELEASE and area_id is not None:
            by_declaration.setdefault(row.id, []).append((number, str(outcome), area_id))
    offices: dict[int, list[int]] = {}
    messages = []
    for declaration_id, chosen in by_declaration.items():
        office_id, name = area_names.get(chosen[0][2]) or _area_of(chosen[0][2])
        offices.setdefault(office_id, []).append(declaration_id)
        if len(by_declaration) == 1:
            messages.append(
                (
                    [events.queue_group(office_id)],
                    events.containers_selected_of(declaration_id, name, chosen),
                )
            )
    if len(by_declaration) > 1:
        for office_id, declaration_ids in sorted(offices.items()):
            messages.append(
                (
                    [events.queue_group(office_id)],
                    events.containers_selected_batch(declaration_ids),
                )
            )
    live.publish_many_on_commit(messages)


def _area_of(area_id: int) -> tuple[int, str]:
    """An area kept on a re-decided decision that is not its terminal's first (rare)."""
    area = InspectionArea.objects.values_list("customs_office_id", "name").get(pk=area_id)
    return area[0], area[1]
