"""The rules engine: 200 rules x 20,000 consignments, against zen-engine in the same run.

The rule set is translated into a zen decision table (hit policy "collect", one row per
rule, ZEN unary expressions per criterion) and zen's hits, with the same per-container
sampling and dangerous-goods filter, must equal the compiled engine's for every container.
Zen's time counts only its own evaluation (the sampling after it is not charged to it);
the engine's time is the whole decision (matching, sampling, outcome, hits).

Also measured: the interpreted engine before compilation (`rules.matches` per rule and
consignment, SHA-256 + Decimal sampling), on a slice, as "today".
"""

import gc
import hashlib
import json
import os
import random
import statistics
import time
from datetime import date
from decimal import Decimal

from inspection import engine, rules
from inspection.models import Outcome

RULES, CONSIGNMENTS, SEED = 200, 20_000, "bench-seed"
COUNTRIES = ["AU", "NZ", "BR", "US", "DE", "CN", "VN", "TH", "JP", "KR", "FR", "IT", "CL", "AR"]
RATINGS = ["advanced", "general", "discredited"]


def _hs_codes(rng: random.Random) -> list[str]:
    return sorted({f"{rng.randint(1, 97):02d}{rng.randint(0, 99999999):08d}" for _ in range(1500)})


def rule_set(rng: random.Random, codes: list[str]) -> list[dict]:
    snapshots = []
    for rule_id in range(1, RULES + 1):
        kind = rng.random()
        criteria: dict = {}
        if kind < 0.7:
            criteria["hs_prefix"] = rng.choice(codes)[: rng.choice([2, 4, 4, 6, 6, 8])]
            if rng.random() < 0.4:
                criteria["origin_countries"] = rng.sample(COUNTRIES, rng.randint(1, 4))
            if rng.random() < 0.2:
                criteria["credit_ratings"] = rng.sample(RATINGS, 1)
        elif kind < 0.8:
            criteria["origin_countries"] = rng.sample(COUNTRIES, rng.randint(1, 2))
            criteria["credit_ratings"] = ["discredited"]
        elif kind < 0.87:
            criteria["watched_enterprises"] = rng.sample(range(1, 2001), 5)
        elif kind < 0.92:
            criteria["watched_bl_numbers"] = [f"BL{rng.randint(1, 20000):06d}" for _ in range(5)]
        elif kind < 0.96:
            criteria["hs_prefix"] = rng.choice(codes)[:2]
            criteria["value_per_kg_min"], criteria["value_per_kg_max"] = "5", "400"
        else:
            criteria["dangerous_goods"] = True
            criteria["credit_ratings"] = rng.sample(RATINGS, 2)
        if rng.random() < 0.05:
            criteria["summary_declarations"] = True
        if rng.random() < 0.1:
            criteria["valid_from"] = "2026-11-01"
            criteria["valid_until"] = "2027-03-31"
        snapshots.append(
            {
                "id": rule_id,
                "name": f"rule {rule_id}",
                "public_reason": f"reason {rule_id}",
                "action": rng.choice(
                    [Outcome.SCAN, Outcome.SCAN, Outcome.MANUAL, Outcome.QUARANTINE]
                ),
                "priority": rng.randint(1, 10) * 10,
                # Targeted rules select all they match; one in four samples at random.
                "sampling_rate": "1"
                if rng.random() < 0.75
                else rng.choice(["0.5", "0.2", "0.05", "0.01"]),
                "hs_prefix": "",
                "origin_countries": [],
                "credit_ratings": [],
                "watched_enterprises": [],
                "watched_bl_numbers": [],
                "value_per_kg_min": None,
                "value_per_kg_max": None,
                "dangerous_goods": False,
                "summary_declarations": False,
                "valid_from": None,
                "valid_until": None,
                **criteria,
            }
        )
    return snapshots


def consignments(rng: random.Random, codes: list[str]) -> list[rules.Consignment]:
    made = []
    for n in range(CONSIGNMENTS):
        items = rng.choice([1, 1, 2, 3])
        containers = tuple(f"BNCU{n:06d}{k}" for k in range(rng.choice([1, 2, 2, 3])))
        made.append(
            rules.Consignment(
                declaration_id=n,
                bl_number=f"BL{rng.randint(1, 20000):06d}",
                enterprise_id=rng.randint(1, 2000),
                credit_rating=rng.choice(RATINGS),
                hs_codes=tuple(rng.choice(codes) for _ in range(items)),
                origin_countries=tuple(rng.choice(COUNTRIES) for _ in range(items)),
                containers=containers,
                filed_on=date(2026, 12, 4),
                value_per_kg=Decimal(rng.choice(["2.50", "40", "120", "900"])),
                is_summary=rng.random() < 0.1,
                dangerous_containers=frozenset(c for c in containers if rng.random() < 0.05),
            )
        )
    return made


# ---------------------------------------------------------------- zen-engine


def _quoted(values) -> str:
    return ", ".join(json.dumps(v) for v in values)


def zen_table(snapshots: list[dict]) -> dict:
    """The rule set as a JDM graph: input -> decision table (collect) -> output."""
    columns = ["hs", "country", "rating", "enterprise", "bl", "summary", "value", "day"]
    fields = {
        "hs": "hs_codes",
        "country": "origin_countries",
        "rating": "credit_rating",
        "enterprise": "enterprise_id",
        "bl": "bl_number",
        "summary": "is_summary",
        "value": "value_per_kg",
        "day": "day",
    }
    rows = []
    for r in snapshots:
        low, high = r["value_per_kg_min"], r["value_per_kg_max"]
        # A missing value per kg arrives as -1 and matches no range test.
        value = ", ".join(
            ([f"[0..{low})"] if low is not None else [])
            + ([f"> {high}"] if high is not None else [])
        )
        day = []
        if r["valid_from"]:
            day.append(f"$ >= {date.fromisoformat(r['valid_from']).toordinal()}")
        if r["valid_until"]:
            day.append(f"$ <= {date.fromisoformat(r['valid_until']).toordinal()}")
        cells = {
            "hs": f"some($, startsWith(#, {json.dumps(r['hs_prefix'])}))" if r["hs_prefix"] else "",
            "country": f"some($, # in [{_quoted(r['origin_countries'])}])"
            if r["origin_countries"]
            else "",
            "rating": _quoted(r["credit_ratings"]),
            "enterprise": ", ".join(str(e) for e in r["watched_enterprises"]),
            "bl": _quoted(r["watched_bl_numbers"]),
            "summary": "true" if r["summary_declarations"] else "",
            "value": value,
            "day": " and ".join(day),
        }
        rows.append(
            {
                "_id": f"r{r['id']}",
                **{f"i_{k}": v for k, v in cells.items()},
                "o_rule": str(r["id"]),
            }
        )
    table = {
        "hitPolicy": "collect",
        "inputs": [{"id": f"i_{k}", "name": k, "field": fields[k]} for k in columns],
        "outputs": [{"id": "o_rule", "name": "rule", "field": "rule"}],
        "rules": rows,
    }
    return {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "t",
                "type": "decisionTableNode",
                "name": "rules",
                "position": {"x": 200, "y": 0},
                "content": table,
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "t", "type": "edge"},
            {"id": "e2", "sourceId": "t", "targetId": "out", "type": "edge"},
        ],
    }


def zen_context(c: rules.Consignment) -> dict:
    return {
        "hs_codes": list(c.hs_codes),
        "origin_countries": list(c.origin_countries),
        "credit_rating": c.credit_rating,
        "enterprise_id": c.enterprise_id,
        "bl_number": c.bl_number.upper(),
        "is_summary": c.is_summary,
        "value_per_kg": float(c.value_per_kg) if c.value_per_kg is not None else -1,
        "day": c.filed_on.toordinal(),
    }


def zen_decided(c, rule_ids: list[int], by_id: dict, sampling: int) -> dict:
    """Zen's matches, sampled and filtered per container as the engine does."""
    matching = sorted((by_id[i] for i in rule_ids), key=lambda r: (r["priority"], r["id"]))
    decided = {}
    for number in c.containers:
        hits = [
            r
            for r in matching
            if (not r["dangerous_goods"] or number in c.dangerous_containers)
            and Decimal(engine.sample(SEED, r["id"], number, sampling))
            < Decimal(r["sampling_rate"])
        ]
        outcome = min(
            (r["action"] for r in hits), key=engine.OUTCOME_STRENGTH.index, default=Outcome.RELEASE
        )
        decided[number] = (outcome, [h["id"] for h in hits])
    return decided


def _interpreted(c, snapshots):
    """The engine before compilation: every rule against every consignment, SHA-256 + Decimal."""
    matching = [
        r for r in sorted(snapshots, key=lambda r: (r["priority"], r["id"])) if rules.matches(r, c)
    ]
    for number in c.containers:
        [
            r
            for r in matching
            if (not r.get("dangerous_goods") or number in c.dangerous_containers)
            and Decimal(
                int(hashlib.sha256(f"{SEED}:{r['id']}:{number}".encode()).hexdigest()[:8], 16)
            )
            / Decimal(2**32)
            < Decimal(r["sampling_rate"])
        ]


def run(measure) -> dict:
    import zen

    rng = random.Random(2026)
    codes = _hs_codes(rng)
    snapshots = rule_set(rng, codes)
    batch = consignments(rng, codes)
    # The static loader: zen parses the graph once (a callback loader re-parses it per call,
    # about ten times slower; `evaluate_batch` measured slower than a loop of `evaluate`).
    zen_engine = zen.ZenEngine(
        {"loader": {"type": "static", "content": {"rules": zen_table(snapshots)}}}
    )
    contexts = [zen_context(c) for c in batch]  # built outside the timing, as JSON would arrive
    zen_results: list = []
    compiled_results: list = []

    def zen_run():
        zen_results[:] = [zen_engine.evaluate("rules", ctx)["result"] for ctx in contexts]

    def compiled_run():
        # Compiled afresh each run (cold caches), which a process does once per version.
        compiled_results[:] = engine.compile_rules(snapshots).evaluate_many(batch, SEED)

    # The machine is shared: each run of ours is paired with a run of zen next to it (the
    # order alternating), and the ratio is taken per pair, in wall time and in CPU time of
    # this process. Each run starts from a collected heap, so that neither pays for the
    # garbage the other left (the collector stays on during the run, as in production).
    pairs = []
    for number in range(7):
        pair = {}
        order = [("compiled", compiled_run), ("zen", zen_run)]
        for name, run_once in order if number % 2 == 0 else order[::-1]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            run_once()
            pair[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        pairs.append(pair)
    interpreted_slice = batch[:1000]
    interpreted = measure(lambda: [_interpreted(c, snapshots) for c in interpreted_slice], repeat=3)

    # Identical hits, container by container (sampling with the engine's algorithm).
    by_id = {r["id"]: r for r in snapshots}
    mismatches = 0
    hits = 0
    for c, ours, theirs in zip(batch, compiled_results, zen_results, strict=True):
        expected = zen_decided(
            c, [int(row["rule"]) for row in theirs], by_id, engine.SAMPLING_BLAKE2B
        )
        got = {n: (outcome, [h["rule"] for h in hs]) for n, (outcome, hs) in ours.items()}
        mismatches += got != expected
        hits += sum(len(h) for _, h in got.values())

    def spread(values, digits=0):
        return {
            "median": round(statistics.median(values), digits),
            "min": round(min(values), digits),
            "max": round(max(values), digits),
        }

    def rates(name, clock):
        return spread([CONSIGNMENTS / pair[name][clock] for pair in pairs])

    return {
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "rules": RULES,
        "consignments": CONSIGNMENTS,
        "containers": sum(len(c.containers) for c in batch),
        "rule_hits": hits,
        "runs": len(pairs),
        "compiled_per_s": rates("compiled", 0),
        "zen_per_s": rates("zen", 0),
        "ratio_to_zen": spread([p["zen"][0] / p["compiled"][0] for p in pairs], 1),
        "compiled_per_cpu_s": rates("compiled", 1),
        "zen_per_cpu_s": rates("zen", 1),
        "ratio_to_zen_cpu": spread([p["zen"][1] / p["compiled"][1] for p in pairs], 1),
        "target_ratio": 10,
        "interpreted_per_s": {
            "median": round(len(interpreted_slice) / interpreted["median_s"]),
            "min": round(len(interpreted_slice) / interpreted["max_s"]),
            "max": round(len(interpreted_slice) / interpreted["min_s"]),
        },
        "consignments_with_different_hits": mismatches,
    }
