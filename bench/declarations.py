"""Filing and assessment throughput, and what batching buys.

- filing: one declaration with one container through the filing service;
- assessment per container, for a declaration of 1 container and one of 100: the
  assessment reads the declaration in one query and writes its decisions in bulk, so a
  container in a large declaration should cost far less than a lone one;
- the declaration list API at 10 and at 1,000 declarations: same query count, and time;
- a vessel's worth: 200 one-container declarations on one call assessed by one vessel
  task (`decisions_make_for_port_call`) against 200 per-declaration tasks, per container;
- an ERP file of 2,000 declarations filed in batches against one declaration a call.
"""

import csv
import io
import os
import statistics
import time
from unittest import mock

from django.core.management import call_command
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from stdnum import iso6346

from declarations import services
from declarations import tasks as declaration_tasks
from declarations.models import Declaration
from inspection import assessment
from inspection import tasks as inspection_tasks
from port.models import Organisation, PortCall, User

ITEM = services.ItemInput(
    hs_code="0202300090",
    description="Frozen boneless beef",
    quantity="1000",
    value="40000",
    origin_country="AU",
)
_serial = iter(range(1, 999_999))


def _containers(count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        base = f"BNCU{next(_serial):06d}"
        numbers.append(base + iso6346.calc_check_digit(base))
    return numbers


def _file(user, call, containers: int) -> Declaration:
    return services.declaration_file(
        user=user,
        enterprise_id=None,
        port_call_id=call.pk,
        bl_number=f"BENCH{next(_serial):08d}",
        container_numbers=_containers(containers),
        items=[ITEM],
    )


def run(measure) -> dict:
    call_command("seed_demo", verbosity=0)
    importer = User.objects.get(username="importer")
    call = PortCall.objects.get(voyage="062E")
    filing = measure(lambda: _file(importer, call, 1), repeat=30)

    def assess(containers: int):
        declaration = _file(importer, call, containers)
        return lambda: assessment.assess_declarations(declaration_ids=[declaration.pk])

    lone = [measure(assess(1), repeat=1)["median_s"] for _ in range(15)]
    hundred = [measure(assess(100), repeat=1)["median_s"] for _ in range(5)]
    lone_per_container = sorted(lone)[len(lone) // 2]
    hundred_per_container = sorted(hundred)[len(hundred) // 2] / 100

    client = APIClient()
    client.force_authenticate(importer)
    list_at = {}
    for target in (10, 1000):
        while Declaration.objects.count() < target:
            _file(importer, call, 1)
        reset_queries()  # DEBUG keeps a log; a request clears it, which would hide the count
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/declarations/")
        timing = measure(lambda: client.get("/api/v1/declarations/"), repeat=15)
        list_at[target] = {
            "queries": len(queries),
            "median_ms": round(timing["median_s"] * 1000, 1),
        }

    assert Organisation.objects.exists()
    return {
        "filing_one_declaration_median_ms": round(filing["median_s"] * 1000, 2),
        "filing_declarations_per_second": round(1 / filing["median_s"], 1),
        "assessment_per_container_lone_ms": round(lone_per_container * 1000, 2),
        "assessment_per_container_in_100_ms": round(hundred_per_container * 1000, 3),
        "assessment_batching_speedup": round(lone_per_container / hundred_per_container, 1),
        "list_api_10_declarations": list_at[10],
        "list_api_1000_declarations": list_at[1000],
    }


VESSEL_DECLARATIONS = 200


def run_vessel(measure) -> dict:
    """`python -m bench vessel`: per container, one vessel task over 200 one-container
    meat declarations of a call (all selected, so areas, events and pushes are exercised)
    against one per-declaration task each. Every round files on two fresh calls, one per
    way, so neither meets the other's declarations; the task bodies run in this process,
    as a worker runs them."""
    call_command("seed_demo", verbosity=0)
    importer = User.objects.get(username="importer")
    template = PortCall.objects.get(voyage="062E")
    per_declaration, vessel = [], []
    for round_number in range(VESSEL_ROUNDS + 1):  # round 0 warms up and is not counted
        alone_call, vessel_call = (
            _fresh_call(template, f"BA{round_number:03d}"),
            _fresh_call(template, f"BV{round_number:03d}"),
        )
        alone = [_file(importer, alone_call, 1) for _ in range(VESSEL_DECLARATIONS)]
        for _ in range(VESSEL_DECLARATIONS):
            _file(importer, vessel_call, 1)
        started = time.perf_counter()
        for declaration in alone:
            declaration_tasks.declaration_assess_task(declaration.pk)
        alone_s = (time.perf_counter() - started) / VESSEL_DECLARATIONS
        started = time.perf_counter()
        inspection_tasks.decisions_make_for_port_call_task(vessel_call.pk)
        vessel_s = (time.perf_counter() - started) / VESSEL_DECLARATIONS
        assert not Declaration.objects.filter(
            port_call__in=[alone_call, vessel_call], status="submitted"
        ).exists()
        if round_number:
            per_declaration.append(alone_s)
            vessel.append(vessel_s)
    per_declaration_median = statistics.median(per_declaration)
    vessel_median = statistics.median(vessel)
    return {
        "vessel_declarations": VESSEL_DECLARATIONS,
        "rounds": VESSEL_ROUNDS,
        "per_declaration_tasks_per_container_ms": _ms(per_declaration_median),
        "per_declaration_tasks_per_container_ms_min_max": [
            _ms(min(per_declaration)),
            _ms(max(per_declaration)),
        ],
        "vessel_task_per_container_ms": _ms(vessel_median),
        "vessel_task_per_container_ms_min_max": [_ms(min(vessel)), _ms(max(vessel))],
        "vessel_task_whole_call_ms": _ms(vessel_median * VESSEL_DECLARATIONS),
        "vessel_task_speedup": round(per_declaration_median / vessel_median, 1),
    }


VESSEL_ROUNDS = 5


def run_upload(measure) -> dict:
    """An ERP file of BENCH_ERP_DECLARATIONS (2,000) one-line declarations processed by the
    worker's code (`erp_upload_process`, in this process, on the bench database): batches of
    `uploads.CHUNK` declarations a call of the filing service, against the peer of one a call
    (CHUNK = 1: how the upload filed until session 14), each run on a fresh upload. Reported:
    seconds per file and declarations a second, median of three, min and max; the ratio."""
    from declarations import uploads

    call_command("seed_demo", verbosity=0)
    importer = User.objects.get(username="importer")
    declarations = int(os.environ.get("BENCH_ERP_DECLARATIONS", "2000"))
    columns = uploads.HEADER_COLUMNS + uploads.ITEM_COLUMNS

    def one(chunk: int) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for _ in range(declarations):
            reference = f"PO{next(_serial):08d}"
            writer.writerow(
                {
                    "reference": reference,
                    "vessel_imo": "9417402",
                    "voyage": "062E",
                    "bl_number": f"ERP{reference}",
                    "containers": _containers(1)[0],
                    "hs_code": ITEM.hs_code,
                    "description": ITEM.description,
                    "quantity": ITEM.quantity,
                    "value": ITEM.value,
                    "origin_country": ITEM.origin_country,
                }
            )
        upload = uploads.erp_upload_create(
            user=importer, file_name="bench.csv", content=out.getvalue().encode()
        )
        with mock.patch.object(uploads, "CHUNK", chunk):
            done = uploads.erp_upload_process(upload_id=upload.pk)
        if len(done.filed) != declarations:
            raise RuntimeError(f"filed {len(done.filed)} of {declarations}: {done.errors[:3]}")

    result = {"declarations": declarations, "chunk": uploads.CHUNK}
    for name, chunk in (("batches", uploads.CHUNK), ("peer_one_a_call", 1)):
        figures = measure(lambda chunk=chunk: one(chunk), repeat=3)
        figures["declarations_per_s_median"] = round(declarations / figures["median_s"], 1)
        result[name] = figures
    result["ratio_peer_to_batches"] = round(
        result["peer_one_a_call"]["median_s"] / result["batches"]["median_s"], 2
    )
    return result


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _fresh_call(template: PortCall, voyage: str) -> PortCall:
    return PortCall.objects.create(
        vessel=template.vessel,
        port=template.port,
        terminal=template.terminal,
        voyage=voyage,
        eta=template.eta,
        agent=template.agent,
    )
