"""The rules engine: pure functions over plain data, so a decision can be replayed.

A rule set version holds snapshots of rules (dicts). `evaluate` decides every container of
one consignment in memory; the callers read the consignment in one query and write the
decisions in bulk.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from inspection.models import Outcome

# When several rules hit, the first of these wins: the more thorough inspection.
OUTCOME_STRENGTH = [Outcome.QUARANTINE, Outcome.MANUAL, Outcome.SCAN, Outcome.RELEASE]


@dataclass(frozen=True)
class Consignment:
    """What the rules look at, for one declaration."""

    declaration_id: int
    bl_number: str
    enterprise_id: int
    credit_rating: str
    hs_codes: tuple[str, ...]
    origin_countries: tuple[str, ...]
    containers: tuple[str, ...]
    filed_on: date
    value_per_kg: Decimal | None = None
    is_summary: bool = False
    dangerous_containers: frozenset[str] = field(default_factory=frozenset)


def rule_snapshot(rule, watched_enterprise_ids: list[int]) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "public_reason": rule.public_reason,
        "action": rule.action,
        "priority": rule.priority,
        "sampling_rate": str(rule.sampling_rate),
        "hs_prefix": rule.hs_prefix,
        "origin_countries": list(rule.origin_countries),
        "credit_ratings": list(rule.credit_ratings),
        "watched_enterprises": sorted(watched_enterprise_ids),
        "watched_bl_numbers": [n.upper() for n in rule.watched_bl_numbers],
        "value_per_kg_min": _text(rule.value_per_kg_min),
        "value_per_kg_max": _text(rule.value_per_kg_max),
        "dangerous_goods": rule.dangerous_goods,
        "summary_declarations": rule.summary_declarations,
        "valid_from": rule.valid_from.isoformat() if rule.valid_from else None,
        "valid_until": rule.valid_until.isoformat() if rule.valid_until else None,
    }


def matches(rule: dict, consignment: Consignment) -> bool:
    """Every criterion the rule sets holds for the consignment."""
    day = consignment.filed_on.isoformat()
    checks = [
        rule["valid_from"] is None or rule["valid_from"] <= day,
        rule["valid_until"] is None or day <= rule["valid_until"],
        not rule["hs_prefix"] or any(c.startswith(rule["hs_prefix"]) for c in consignment.hs_codes),
        not rule["origin_countries"]
        or bool(set(rule["origin_countries"]) & set(consignment.origin_countries)),
        not rule["credit_ratings"] or consignment.credit_rating in rule["credit_ratings"],
        not rule["watched_enterprises"] or consignment.enterprise_id in rule["watched_enterprises"],
        not rule["watched_bl_numbers"]
        or consignment.bl_number.upper() in rule["watched_bl_numbers"],
        # Criteria added later: snapshots of older versions do not have them.
        not rule.get("summary_declarations") or consignment.is_summary,
        _value_outside(rule, consignment.value_per_kg),
    ]
    return all(checks)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _value_outside(rule: dict, value_per_kg: Decimal | None) -> bool:
    """True when the rule sets no value range, or the declared value per kg is outside it."""
    low, high = rule.get("value_per_kg_min"), rule.get("value_per_kg_max")
    if low is None and high is None:
        return True
    if value_per_kg is None:
        return False  # without a net weight there is nothing to compare
    return (low is not None and value_per_kg < Decimal(low)) or (
        high is not None and value_per_kg > Decimal(high)
    )


def sample(seed: str, rule_id: int, container: str) -> Decimal:
    """A number in [0, 1), the same for the same seed, rule and container."""
    digest = hashlib.sha256(f"{seed}:{rule_id}:{container}".encode()).hexdigest()
    return Decimal(int(digest[:8], 16)) / Decimal(2**32)


def evaluate(
    consignment: Consignment, rules: list[dict], seed: str
) -> dict[str, tuple[str, list[dict]]]:
    """For each container: the outcome and every rule that hit it."""
    matching = [
        r for r in sorted(rules, key=lambda r: (r["priority"], r["id"])) if matches(r, consignment)
    ]
    decided = {}
    for container in consignment.containers:
        hits = [
            r
            for r in matching
            if (not r.get("dangerous_goods") or container in consignment.dangerous_containers)
            and sample(seed, r["id"], container) < Decimal(r["sampling_rate"])
        ]
        outcome = min(
            (r["action"] for r in hits), key=OUTCOME_STRENGTH.index, default=Outcome.RELEASE
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
