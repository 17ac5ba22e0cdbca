"""Risk for inventory lists: the officers' list rules, versioned (`ListRuleSet`) and
evaluated over a whole batch by the inspection app's compiled engine, with the e-commerce
criteria registered here (platform, e-commerce enterprise, watched buyer, goods category,
value). A list is one unit (its list number) for the engine.
"""

from dataclasses import dataclass, field
from datetime import date

from inspection.models import Outcome

# Keys of a list rule's snapshot that only e-commerce lists can meet: a container's
# consignment has no `is_list` and so never matches them.
CRITERIA = {
    "ec_platforms": (
        lambda wanted, c: getattr(c, "is_list", False) and c.platform_id in wanted,
        frozenset,
    ),
    "ec_enterprises": (
        lambda wanted, c: getattr(c, "is_list", False) and c.enterprise_id in wanted,
        frozenset,
    ),
    "ec_watched_buyers": (lambda _on, c: getattr(c, "is_list", False) and c.buyer_watched, None),
    "ec_categories": (
        lambda wanted, c: getattr(c, "is_list", False) and not wanted.isdisjoint(c.categories),
        frozenset,
    ),
    "ec_value_min_cents": (
        lambda low, c: getattr(c, "is_list", False) and c.value_cents >= low,
        None,
    ),
    "ec_lists": (lambda _on, c: getattr(c, "is_list", False), None),
}


def register_criteria() -> None:
    from inspection import engine

    for key, (check, prepare) in CRITERIA.items():
        engine.register_criterion(key, check, prepare=prepare)


@dataclass(frozen=True)
class ListConsignment:
    """What the engine reads of one list (the attributes of `inspection.rules.Consignment`)."""

    declaration_id: int
    bl_number: str
    enterprise_id: int
    platform_id: int
    hs_codes: tuple[str, ...]
    categories: frozenset[str]
    value_cents: int
    buyer_watched: bool
    containers: tuple[str, ...]
    filed_on: date
    credit_rating: str = ""
    origin_countries: tuple[str, ...] = ()
    value_per_kg: None = None
    is_summary: bool = False
    is_list: bool = True
    dangerous_containers: frozenset[str] = field(default_factory=frozenset)


def rule_snapshot(rule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "public_reason": rule.public_reason,
        "action": rule.action,
        "priority": rule.priority,
        "sampling_rate": str(rule.sampling_rate),
        "hs_prefix": rule.hs_prefix,
        "origin_countries": [],
        "credit_ratings": [],
        "watched_enterprises": [],
        "watched_bl_numbers": [],
        "ec_lists": True,
        "ec_platforms": list(rule.platforms),
        "ec_enterprises": list(rule.enterprises),
        "ec_watched_buyers": rule.watched_buyers,
        "ec_categories": list(rule.categories),
        "ec_value_min_cents": rule.value_min_cents,
        "valid_from": None,
        "valid_until": None,
    }


# Keyed by version and seed: a version is immutable, and its random seed tells apart two
# databases that both have a version 1 (a test run, a restored backup).
_compiled: dict[tuple[int, str], object] = {}


def engine_for(rule_set) -> object | None:
    """The compiled engine of a list rule set, built once per process and version."""
    if rule_set is None:
        return None
    key = (rule_set.version, rule_set.seed)
    compiled = _compiled.get(key)
    if compiled is None:
        from inspection import engine

        compiled = _compiled.setdefault(key, engine.compile_rules(rule_set.rules))
    return compiled


def evaluate(rule_set, consignments: list[ListConsignment]) -> list[tuple[str, list[dict]]]:
    """Per consignment: the outcome and the rules hit."""
    compiled = engine_for(rule_set)
    if compiled is None:
        return [(Outcome.RELEASE, []) for _c in consignments]
    decided = compiled.evaluate_many(consignments, seed=rule_set.seed)
    return [d[c.containers[0]] for d, c in zip(decided, consignments, strict=True)]
