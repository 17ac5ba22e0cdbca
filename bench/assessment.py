"""A vessel call at a port's scale: assessment and the diversion plan at berthing.

Each round files (in bulk, untimed) 7,000 two-container import declarations on a fresh
call, with its 14,000-line manifest (5 % dangerous goods), against the 200 rules of
bench/rules.py activated as a rule-set version, then times:

- `assessment`: the vessel task (`inspection.tasks.decisions_make_for_port_call_task`,
  i.e. `assessment.assess_port_call`) deciding all 14,000 containers, committed;
- `diversion`: the berthing hook (`diversion.diversion_plan_for_berthed_call`) planning
  the 14,000 containers of the berthed call, committed.

Limit: 1 s each (issue 13). Query counts are reported beside the times.
"""

import os
import random
import secrets
import time
from datetime import timedelta
from decimal import Decimal

from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from stdnum import iso6346

from bench import rules as rules_bench
from declarations.models import Declaration, DeclarationContainer, DeclarationItem
from inspection import diversion
from inspection import tasks as inspection_tasks
from inspection.models import Decision, DiversionInstruction, RuleSetVersion
from port.models import Container, PortCall, User
from shipping.models import ManifestEntry

DECLARATIONS = 7_000
CONTAINERS_EACH = 2
ROUNDS = 3
LIMIT_S = 1.0
_serial = iter(range(1, 9_999_999))


def _container_numbers(count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        base = f"VSLU{next(_serial):06d}"
        numbers.append(base + iso6346.calc_check_digit(base))
    return numbers


def _activate(snapshots: list[dict]) -> RuleSetVersion:
    last = RuleSetVersion.objects.order_by("-number").values_list("number", flat=True).first()
    return RuleSetVersion.objects.create(
        number=(last or 0) + 1, rules=snapshots, seed=secrets.token_hex(8)
    )


@transaction.atomic
def _file_vessel(template: PortCall, importer: User, codes: list[str], rng, voyage: str):
    """A call with its manifest and 7,000 submitted declarations, written in bulk."""
    call = PortCall.objects.create(
        vessel=template.vessel,
        port=template.port,
        terminal=template.terminal,
        voyage=voyage,
        eta=template.eta,
        agent=template.agent,
    )
    enterprise = importer.memberships.first().organisation
    numbers = _container_numbers(DECLARATIONS * CONTAINERS_EACH)
    Container.objects.bulk_create([Container(number=n) for n in numbers], batch_size=5000)
    container_ids = dict(Container.objects.filter(number__in=numbers).values_list("number", "pk"))
    now = timezone.now()
    declarations = Declaration.objects.bulk_create(
        [
            Declaration(
                enterprise=enterprise,
                declarant=enterprise,
                created_by=importer,
                port_call=call,
                bl_number=f"{voyage}{n:06d}",
                number=f"{voyage}{n:012d}",
                status=Declaration.Status.SUBMITTED,
                submitted_at=now,
                net_weight=Decimal(rng.choice(["100", "1000", "20000"])),
            )
            for n in range(DECLARATIONS)
        ],
        batch_size=2000,
    )
    items, links, manifest = [], [], []
    for index, declaration in enumerate(declarations):
        for line in range(rng.choice([1, 1, 2, 3])):
            items.append(
                DeclarationItem(
                    declaration=declaration,
                    line_number=line + 1,
                    hs_code=rng.choice(codes),
                    description="Bench goods",
                    quantity=Decimal(10),
                    value=Decimal(rng.choice(["500", "4000", "40000"])),
                    origin_country=rng.choice(rules_bench.COUNTRIES),
                )
            )
        for number in numbers[index * CONTAINERS_EACH : (index + 1) * CONTAINERS_EACH]:
            links.append(
                DeclarationContainer(declaration=declaration, container_id=container_ids[number])
            )
            manifest.append(
                ManifestEntry(
                    port_call=call,
                    submitted_by=enterprise,
                    source="manual",
                    bl_number=declaration.bl_number,
                    container_number=number,
                    un_number="1203" if rng.random() < 0.05 else "",
                )
            )
    DeclarationItem.objects.bulk_create(items, batch_size=5000)
    DeclarationContainer.objects.bulk_create(links, batch_size=5000)
    ManifestEntry.objects.bulk_create(manifest, batch_size=5000)
    return call


def _timed(run) -> tuple[float, int, float]:
    """Wall seconds, queries, and this process's CPU seconds (the Python side's share: on a
    shared machine the wall time is mostly PostgreSQL waiting for a core)."""
    with CaptureQueriesContext(connection) as queries:
        started, cpu = time.perf_counter(), time.process_time()
        run()
        seconds = time.perf_counter() - started
    return seconds, len(queries), time.process_time() - cpu


_figures: dict = {}


def run(measure) -> dict:
    """`python -m bench assessment`: bench/results/assessment.json."""
    figures = _figures or _run()
    return {key: value for key, value in figures.items() if key != "diversion"}


def run_diversion(measure) -> dict:
    """`python -m bench diversion`: bench/results/diversion.json (the same rounds)."""
    figures = _figures or _run()
    return {key: value for key, value in figures.items() if key != "assessment"}


def _run() -> dict:
    call_command("seed_demo", verbosity=0)
    importer = User.objects.get(username="importer")
    template = PortCall.objects.get(voyage="062E")
    rng = random.Random(13)
    codes = rules_bench._hs_codes(rng)
    _activate(rules_bench.rule_set(rng, codes))
    assess, divert, assess_queries, divert_queries = [], [], [], []
    assess_cpu, divert_cpu = [], []
    selected = 0
    for round_number in range(ROUNDS):
        call = _file_vessel(template, importer, codes, rng, f"VS{round_number:02d}")
        seconds, queries, cpu = _timed(
            lambda call=call: inspection_tasks.decisions_make_for_port_call_task(call.pk)
        )
        assess.append(seconds)
        assess_cpu.append(cpu)
        assess_queries.append(queries)
        decided = Decision.objects.filter(declaration__port_call=call)
        assert decided.count() == DECLARATIONS * CONTAINERS_EACH
        selected = decided.exclude(outcome="release").count()
        PortCall.objects.filter(pk=call.pk).update(
            status=PortCall.Status.BERTHED, ata=timezone.now() - timedelta(minutes=1)
        )
        seconds, queries, cpu = _timed(
            lambda call=call: diversion.diversion_plan_for_berthed_call(port_call_id=call.pk)
        )
        divert.append(seconds)
        divert_cpu.append(cpu)
        divert_queries.append(queries)
        planned = DiversionInstruction.objects.filter(port_call=call).count()
        assert planned == DECLARATIONS * CONTAINERS_EACH

    def figure(samples, queries, cpu):
        ordered = sorted(samples)
        median = ordered[len(ordered) // 2]
        return {
            "median_s": round(median, 3),
            "min_s": round(ordered[0], 3),
            "max_s": round(ordered[-1], 3),
            "runs": len(samples),
            "process_cpu_s": {
                "median": round(sorted(cpu)[len(cpu) // 2], 3),
                "min": round(min(cpu), 3),
                "max": round(max(cpu), 3),
            },
            "queries": sorted(set(queries)),
            "limit_s": LIMIT_S,
            "ratio_to_limit": round(median / LIMIT_S, 2),
        }

    _figures.update(
        {
            "declarations": DECLARATIONS,
            "containers": DECLARATIONS * CONTAINERS_EACH,
            "rules": rules_bench.RULES,
            "containers_selected_last_round": selected,
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "assessment": figure(assess, assess_queries, assess_cpu),
            "diversion": figure(divert, divert_queries, divert_cpu),
        }
    )
    return _figures
