from datetime import date
from decimal import Decimal

from inspection import rules
from inspection.models import Outcome


def snapshot(rule_id, action=Outcome.SCAN, **criteria):
    return {
        "id": rule_id,
        "name": f"rule {rule_id}",
        "public_reason": f"reason {rule_id}",
        "action": action,
        "priority": criteria.pop("priority", 100),
        "sampling_rate": criteria.pop("sampling_rate", "1"),
        "hs_prefix": "",
        "origin_countries": [],
        "credit_ratings": [],
        "watched_enterprises": [],
        "watched_bl_numbers": [],
        "valid_from": None,
        "valid_until": None,
        **criteria,
    }


def consignment(**overrides):
    fields = {
        "declaration_id": 1,
        "bl_number": "COSU1234",
        "enterprise_id": 7,
        "credit_rating": "general",
        "hs_codes": ("0202300090",),
        "origin_countries": ("AU",),
        "containers": tuple(f"C{n:03d}" for n in range(200)),
        "filed_on": date(2026, 11, 22),
    }
    return rules.Consignment(**{**fields, **overrides})


def test_nothing_matches_so_everything_is_released():
    decided = rules.evaluate(consignment(), [snapshot(1, hs_prefix="8479")], seed="s")

    assert {outcome for outcome, _ in decided.values()} == {Outcome.RELEASE}
    assert all(hits == [] for _, hits in decided.values())


def test_every_criterion_a_rule_sets_must_hold():
    rule = snapshot(1, hs_prefix="0202", origin_countries=["AU", "NZ"], credit_ratings=["general"])

    assert rules.matches(rule, consignment()) is True
    assert rules.matches(rule, consignment(origin_countries=("BR",))) is False
    assert rules.matches(rule, consignment(credit_rating="certified")) is False
    assert rules.matches(rule, consignment(hs_codes=("6907210000",))) is False


def test_watch_lists_and_validity_dates():
    assert rules.matches(snapshot(1, watched_enterprises=[7]), consignment()) is True
    assert rules.matches(snapshot(1, watched_enterprises=[8]), consignment()) is False
    assert (
        rules.matches(
            snapshot(1, watched_bl_numbers=["COSU1234"]), consignment(bl_number="cosu1234")
        )
        is True
    )
    assert rules.matches(snapshot(1, valid_until="2026-11-21"), consignment()) is False
    assert rules.matches(snapshot(1, valid_from="2026-11-23"), consignment()) is False


def test_the_most_thorough_action_wins_and_every_hit_is_kept():
    decided = rules.evaluate(
        consignment(containers=("C1",)),
        [
            snapshot(2, Outcome.SCAN, hs_prefix="02"),
            snapshot(1, Outcome.QUARANTINE, hs_prefix="0202"),
        ],
        seed="s",
    )

    outcome, hits = decided["C1"]
    assert outcome == Outcome.QUARANTINE
    assert [hit["rule"] for hit in hits] == [1, 2]  # priority order, then id
    assert hits[0]["reason"] == "reason 1"


def test_sampling_selects_about_the_rate_and_the_same_containers_for_the_same_seed():
    rule = [snapshot(1, hs_prefix="0202", sampling_rate="0.25")]

    first = rules.evaluate(consignment(), rule, seed="seed-a")
    again = rules.evaluate(consignment(), rule, seed="seed-a")
    other_seed = rules.evaluate(consignment(), rule, seed="seed-b")

    selected = {c for c, (outcome, _) in first.items() if outcome != Outcome.RELEASE}
    assert first == again
    assert 30 <= len(selected) <= 70  # 25 % of 200, give or take
    assert selected != {c for c, (outcome, _) in other_seed.items() if outcome != Outcome.RELEASE}


def test_a_value_per_kg_outside_the_plausible_range_matches():
    rule = snapshot(1, value_per_kg_min="20", value_per_kg_max="80")

    assert rules.matches(rule, consignment(value_per_kg=Decimal("5"))) is True
    assert rules.matches(rule, consignment(value_per_kg=Decimal("120"))) is True
    assert rules.matches(rule, consignment(value_per_kg=Decimal("40"))) is False
    assert rules.matches(rule, consignment(value_per_kg=None)) is False  # no net weight declared


def test_summary_declarations_and_dangerous_goods_criteria():
    summary_rule = snapshot(1, summary_declarations=True)
    dg_rule = snapshot(2, Outcome.MANUAL, dangerous_goods=True)

    assert rules.matches(summary_rule, consignment(is_summary=True)) is True
    assert rules.matches(summary_rule, consignment()) is False
    decided = rules.evaluate(
        consignment(containers=("C1", "C2"), dangerous_containers=frozenset({"C2"})),
        [dg_rule],
        seed="s",
    )
    assert {c: outcome for c, (outcome, _) in decided.items()} == {"C1": "release", "C2": "manual"}


def test_rules_of_an_older_version_without_the_newer_criteria_still_evaluate():
    old = snapshot(1, hs_prefix="0202")
    for key in ("value_per_kg_min", "value_per_kg_max", "dangerous_goods", "summary_declarations"):
        old.pop(key, None)

    assert rules.matches(old, consignment()) is True
