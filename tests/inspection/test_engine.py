"""The compiled engine decides what `rules.matches` specifies, samples as each version did,
and lets other apps add criteria."""

import hashlib
import random
from datetime import date
from decimal import Decimal

import pytest

from inspection import engine, rules
from inspection.models import Outcome
from tests.inspection.test_rules import consignment, snapshot

HS = ["0202300090", "0203291000", "6907210000", "8479899990", "8471300000", "3004909099"]
COUNTRIES = ["AU", "NZ", "BR", "US", "DE", "CN", "VN"]
RATINGS = ["advanced", "general", "discredited"]
ACTIONS = [Outcome.SCAN, Outcome.MANUAL, Outcome.QUARANTINE, Outcome.RELEASE]


def reference(c, snapshots, seed, sampling):
    """The decision as the interpreted engine made it before compilation, from the spec."""
    matching = [
        r for r in sorted(snapshots, key=lambda r: (r["priority"], r["id"])) if rules.matches(r, c)
    ]
    decided = {}
    for container in c.containers:
        hits = [
            r
            for r in matching
            if (not r.get("dangerous_goods") or container in c.dangerous_containers)
            and Decimal(engine.sample(seed, r["id"], container, sampling))
            < Decimal(r["sampling_rate"])
        ]
        outcome = min(
            (r["action"] for r in hits), key=engine.OUTCOME_STRENGTH.index, default=Outcome.RELEASE
        )
        decided[container] = (
            outcome,
            [
                {
                    "rule": r["id"],
                    "name": r["name"],
                    "reason": r["public_reason"],
                    "action": r["action"],
                }
                for r in hits
            ],
        )
    return decided


def random_rule(rng, rule_id):
    criteria = {}
    if rng.random() < 0.6:
        criteria["hs_prefix"] = rng.choice(HS)[: rng.choice([2, 4, 6])]
    if rng.random() < 0.4:
        criteria["origin_countries"] = rng.sample(COUNTRIES, rng.randint(1, 3))
    if rng.random() < 0.3:
        criteria["credit_ratings"] = rng.sample(RATINGS, rng.randint(1, 2))
    if rng.random() < 0.1:
        criteria["watched_enterprises"] = [rng.randint(1, 5)]
    if rng.random() < 0.1:
        criteria["watched_bl_numbers"] = [f"bl{rng.randint(1, 5)}"]
    if rng.random() < 0.15:
        criteria["value_per_kg_min"] = "20"
    if rng.random() < 0.15:
        criteria["value_per_kg_max"] = "80"
    if rng.random() < 0.1:
        criteria["dangerous_goods"] = True
    if rng.random() < 0.1:
        criteria["summary_declarations"] = True
    if rng.random() < 0.1:
        criteria["valid_from"] = f"2026-11-{rng.randint(10, 30)}"
    if rng.random() < 0.1:
        criteria["valid_until"] = f"2026-11-{rng.randint(10, 30)}"
    return snapshot(
        rule_id,
        rng.choice(ACTIONS),
        priority=rng.randint(1, 5) * 10,
        sampling_rate=rng.choice(["1", "1", "0.5", "0.125", "0.05"]),
        **criteria,
    )


def random_consignment(rng, n):
    containers = tuple(f"C{n}-{k}" for k in range(rng.randint(1, 4)))
    items = rng.randint(1, 3)
    return consignment(
        declaration_id=n,
        bl_number=f"BL{rng.randint(1, 6)}",
        enterprise_id=rng.randint(1, 6),
        credit_rating=rng.choice(RATINGS),
        hs_codes=tuple(rng.choice(HS) for _ in range(items)),
        origin_countries=tuple(rng.choice(COUNTRIES) for _ in range(items)),
        containers=containers,
        filed_on=date(2026, 11, rng.randint(1, 30)),
        value_per_kg=rng.choice([None, Decimal("5"), Decimal("50"), Decimal("120")]),
        is_summary=rng.random() < 0.2,
        dangerous_containers=frozenset(c for c in containers if rng.random() < 0.3),
    )


@pytest.mark.parametrize("sampling", engine.SAMPLING_ALGORITHMS)
def test_the_compiled_engine_decides_as_the_rules_specify(sampling):
    rng = random.Random(13)
    snapshots = [random_rule(rng, i) for i in range(1, 121)]
    consignments = [random_consignment(rng, n) for n in range(600)]
    compiled = engine.compile_rules(snapshots, sampling=sampling)

    decided = compiled.evaluate_many(consignments, seed="seed-x")

    assert decided == [reference(c, snapshots, "seed-x", sampling) for c in consignments]
    assert sum(1 for d in decided for outcome, _ in d.values() if outcome != Outcome.RELEASE) > 50


def test_versions_before_the_engine_keep_sha256_sampling():
    """What `rules.sample` drew before the compiled engine, for replaying past decisions."""
    digest = hashlib.sha256(b"seed-a:1:C007").hexdigest()
    assert engine.sample("seed-a", 1, "C007", engine.SAMPLING_SHA256) == int(digest[:8], 16) / 2**32
    rule = [snapshot(1, hs_prefix="0202", sampling_rate="0.25")]
    old = rules.evaluate(consignment(), rule, seed="seed-a", sampling=engine.SAMPLING_SHA256)
    selected = {c for c, (outcome, _) in old.items() if outcome != Outcome.RELEASE}
    assert selected == {
        c
        for c in consignment().containers
        if int(hashlib.sha256(f"seed-a:1:{c}".encode()).hexdigest()[:8], 16) / 2**32 < 0.25
    }


def test_another_app_adds_a_criterion():
    engine.register_criterion(
        "platforms", lambda platforms, c: getattr(c, "platform", "") in platforms, prepare=frozenset
    )
    try:
        compiled = engine.compile_rules(
            [snapshot(1, Outcome.MANUAL, hs_prefix="0202", platforms=["tmall"])]
        )

        class Parcel:
            def __init__(self, platform):
                self.__dict__.update(vars(consignment(containers=("LIST-1",))), platform=platform)

        hit, miss = compiled.evaluate_many([Parcel("tmall"), Parcel("jd")], seed="s")
        assert hit["LIST-1"][0] == Outcome.MANUAL
        assert miss["LIST-1"] == (Outcome.RELEASE, [])
    finally:
        engine._CRITERIA.pop("platforms")


@pytest.mark.django_db
def test_a_version_is_compiled_once():
    from inspection.models import RuleSetVersion

    version = RuleSetVersion.objects.create(number=1, rules=[snapshot(1, hs_prefix="02")], seed="s")
    assert version.sampling == engine.SAMPLING_BLAKE2B
    assert engine.compile_rule_set(version) is engine.engine_for_version(version.pk)
    assert engine.compile_rule_set(version, sampling=1) is not engine.compile_rule_set(version)
