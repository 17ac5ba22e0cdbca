"""The compiled rules engine: a rule set compiled once per version, batches evaluated at once.

What it decides is what `inspection.rules` specifies (`rules.matches`, the snapshot format,
the hits kept on a decision); this module only makes it fast:

- a rule set is compiled once per process and version (`engine_for_version`,
  `compile_rule_set`) into indexes: commodity-code prefixes (a map per prefix length),
  countries of origin, credit ratings, watched enterprises and B/L numbers. Each rule is
  filed under its most selective criterion, so a consignment meets only the rules that can
  hit it; the rule's other criteria are compiled into one Python expression with its sets,
  dates and Decimals built once;
- sampling draws a number in [0, 1) from (seed, rule, container). The algorithm is a
  property of the rule-set version (`RuleSetVersion.sampling`): versions activated before
  the compiled engine keep SHA-256 (`SAMPLING_SHA256`), new ones use an 8-byte BLAKE2b
  (`SAMPLING_BLAKE2B`). Both compare exact integers, never Decimals, and give the same
  containers for the same seed, so every past decision replays as it was made;
- `evaluate_many` takes a batch and returns, per consignment, the outcome and the rules
  hit of each container, in the format `Decision.rules_hit` keeps.

Other apps evaluate their own consignments (an e-commerce list, a parcel) with the same
engine: any object with the attributes of `rules.Consignment` will do (`containers` being
whatever units are decided one by one), and `register_criterion` adds a criterion of their
own, read from a key of the rule snapshot:

    from inspection import engine
    engine.register_criterion("platforms", lambda platforms, c: c.platform in platforms,
                              prepare=frozenset)
    compiled = engine.compile_rules(snapshots)
    for decided in compiled.evaluate_many(consignments, seed="..."):
        outcome, hits = decided["LIST-0001"]

Register criteria in `AppConfig.ready`, before anything is compiled.
"""

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from inspection.models import Outcome

SAMPLING_SHA256 = 1  # sha256 hex of "seed:rule:container", first 32 bits
SAMPLING_BLAKE2B = 2  # blake2b of "seed:rule:container", 64 bits
SAMPLING_ALGORITHMS = (SAMPLING_SHA256, SAMPLING_BLAKE2B)

# When several rules hit, the first of these wins: the more thorough inspection.
OUTCOME_STRENGTH = [Outcome.QUARANTINE, Outcome.MANUAL, Outcome.SCAN, Outcome.RELEASE]
_STRENGTH = {str(outcome): rank for rank, outcome in enumerate(OUTCOME_STRENGTH)}
_RELEASE_RANK = _STRENGTH[Outcome.RELEASE]

Decided = dict[str, tuple[str, list[dict]]]  # per container: (outcome, rules hit)


@dataclass(frozen=True)
class Criterion:
    """A criterion another app adds: `check(prepared, consignment)` must hold when the rule
    snapshot has a non-empty value under `key`; `prepare` turns that value into what `check`
    reads, once per compilation."""

    key: str
    check: Callable[[Any, Any], bool]
    prepare: Callable[[Any], Any] | None = None


_CRITERIA: dict[str, Criterion] = {}


def register_criterion(
    key: str, check: Callable[[Any, Any], bool], *, prepare: Callable[[Any], Any] | None = None
) -> None:
    """Add a criterion read from `rule[key]`; registering the same key again replaces it."""
    _CRITERIA[key] = Criterion(key=key, check=check, prepare=prepare)
    _cache.clear()


def sample(seed: str, rule_id: int, container: str, sampling: int = SAMPLING_BLAKE2B) -> float:
    """A number in [0, 1), the same for the same seed, rule, container and algorithm: for
    explaining a decision. The engine itself compares integers (`_Rule.selects`)."""
    key = f"{seed}:{rule_id}:{container}".encode()
    if sampling == SAMPLING_SHA256:
        return int(hashlib.sha256(key).hexdigest()[:8], 16) / 2**32
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64


class _Rule:
    """One rule, compiled: its hit (shared, read-only), its rank and its sampling bound."""

    __slots__ = ("position", "id", "rank", "hit", "dangerous", "everything", "bound", "check")

    def __init__(self, position: int, rule: dict, sampling: int, check):
        self.position = position
        self.id = rule["id"]
        self.rank = _STRENGTH[rule["action"]]
        self.hit = {
            "rule": rule["id"],
            "name": rule["name"],
            "reason": rule["public_reason"],
            "action": rule["action"],
        }
        self.dangerous = bool(rule.get("dangerous_goods"))
        rate = Fraction(Decimal(str(rule["sampling_rate"])))
        self.everything = rate >= 1
        # draw < rate  <=>  integer draw < ceil(rate * 2**bits)
        bits = 32 if sampling == SAMPLING_SHA256 else 64
        self.bound = -(-(rate.numerator << bits) // rate.denominator)
        self.check = check


class Engine:
    """A rule set compiled for evaluation. Immutable once built; safe to share."""

    def __init__(self, snapshots: Sequence[dict], *, sampling: int = SAMPLING_BLAKE2B):
        if sampling not in SAMPLING_ALGORITHMS:
            raise ValueError(f"unknown sampling algorithm {sampling!r}")
        self.sampling = sampling
        ordered = sorted(snapshots, key=lambda r: (r["priority"], r["id"]))
        self.rules: list[_Rule] = []
        self._by_prefix: dict[str, list[int]] = {}
        self._by_country: dict[str, list[int]] = {}
        self._by_rating: dict[str, list[int]] = {}
        self._by_enterprise: dict[int, list[int]] = {}
        self._by_bl: dict[str, list[int]] = {}
        self._always: list[int] = []
        for position, rule in enumerate(ordered):
            index, keys, skip = self._index_of(rule)
            self.rules.append(_Rule(position, rule, sampling, _compile_check(rule, skip)))
            if index is None:
                self._always.append(position)
            for key in keys:
                index.setdefault(key, []).append(position)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix})

    def _index_of(self, rule: dict):
        """The index a rule is filed under (its most selective criterion), the keys, and the
        name of the criterion the index already guarantees."""
        if rule["watched_bl_numbers"]:
            # Snapshots keep them upper-case (`rules.rule_snapshot`).
            return self._by_bl, set(rule["watched_bl_numbers"]), "bl"
        if rule["watched_enterprises"]:
            return self._by_enterprise, set(rule["watched_enterprises"]), "enterprise"
        if rule["hs_prefix"]:
            return self._by_prefix, {rule["hs_prefix"]}, "hs"
        if rule["origin_countries"]:
            return self._by_country, set(rule["origin_countries"]), "country"
        if rule["credit_ratings"]:
            return self._by_rating, set(rule["credit_ratings"]), "rating"
        return None, (), None

    # ------------------------------------------------------------ evaluation

    def candidates(self, c) -> list[int]:
        """Positions (priority order) of the rules whose indexed criterion the consignment
        meets: a superset of the rules that match it."""
        found = set(self._always)
        if self._by_prefix:
            get = self._by_prefix.get
            for code in c.hs_codes:
                for length in self._prefix_lengths:
                    hit = get(code[:length])
                    if hit:
                        found.update(hit)
        if self._by_country:
            get = self._by_country.get
            for country in c.origin_countries:
                hit = get(country)
                if hit:
                    found.update(hit)
        if self._by_rating:
            found.update(self._by_rating.get(c.credit_rating, ()))
        if self._by_enterprise:
            found.update(self._by_enterprise.get(c.enterprise_id, ()))
        if self._by_bl:
            found.update(self._by_bl.get(c.bl_number.upper(), ()))
        return sorted(found)

    def matching(self, c) -> list[_Rule]:
        """The rules whose criteria all hold for the consignment, in priority order."""
        rules = self.rules
        return [rules[p] for p in self.candidates(c) if rules[p].check(c)]

    def evaluate(self, c, seed: str) -> Decided:
        """For each container (unit) of one consignment: the outcome and every rule that hit."""
        return self._decide(c, self.matching(c), seed)

    def evaluate_many(self, consignments: Iterable, seed: str | Sequence[str]) -> list[Decided]:
        """`evaluate` for a batch: one seed for all, or one seed per consignment."""
        if isinstance(seed, str):
            return [self._decide(c, self.matching(c), seed) for c in consignments]
        return [
            self._decide(c, self.matching(c), s) for c, s in zip(consignments, seed, strict=True)
        ]

    def _decide(self, c, matching: list[_Rule], seed: str) -> Decided:
        containers = c.containers
        if not matching:
            return {number: (Outcome.RELEASE, []) for number in containers}
        if all(rule.everything and not rule.dangerous for rule in matching):
            # Every container meets the same rules: decide once.
            outcome = OUTCOME_STRENGTH[min(rule.rank for rule in matching)]
            return {number: (outcome, [rule.hit for rule in matching]) for number in containers}
        dangerous = c.dangerous_containers
        blake = self.sampling == SAMPLING_BLAKE2B
        decided = {}
        for number in containers:
            hits = []
            rank = _RELEASE_RANK
            for rule in matching:
                if rule.dangerous and number not in dangerous:
                    continue
                if not rule.everything:
                    key = f"{seed}:{rule.id}:{number}".encode()
                    if blake:
                        draw = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
                    else:
                        draw = int(hashlib.sha256(key).hexdigest()[:8], 16)
                    if draw >= rule.bound:
                        continue
                hits.append(rule.hit)
                if rule.rank < rank:
                    rank = rule.rank
            decided[number] = (OUTCOME_STRENGTH[rank], hits)
        return decided


def _compile_check(rule: dict, skip: str | None):
    """One Python expression over the consignment `c` for every criterion the rule sets,
    except the one its index guarantees. Values are bound as names, never spliced as text."""
    names: dict[str, Any] = {}
    terms: list[str] = []

    def bind(value) -> str:
        name = f"v{len(names)}"
        names[name] = value
        return name

    if rule.get("valid_from"):
        terms.append(f"{bind(date.fromisoformat(rule['valid_from']))} <= c.filed_on")
    if rule.get("valid_until"):
        terms.append(f"c.filed_on <= {bind(date.fromisoformat(rule['valid_until']))}")
    if rule["hs_prefix"] and skip != "hs":
        terms.append(f"any(code.startswith({bind(rule['hs_prefix'])}) for code in c.hs_codes)")
    if rule["origin_countries"] and skip != "country":
        terms.append(
            f"not {bind(frozenset(rule['origin_countries']))}.isdisjoint(c.origin_countries)"
        )
    if rule["credit_ratings"] and skip != "rating":
        terms.append(f"c.credit_rating in {bind(frozenset(rule['credit_ratings']))}")
    if rule["watched_enterprises"] and skip != "enterprise":
        terms.append(f"c.enterprise_id in {bind(frozenset(rule['watched_enterprises']))}")
    if rule["watched_bl_numbers"] and skip != "bl":
        watched = frozenset(rule["watched_bl_numbers"])
        terms.append(f"c.bl_number.upper() in {bind(watched)}")
    if rule.get("summary_declarations"):
        terms.append("c.is_summary")
    low, high = rule.get("value_per_kg_min"), rule.get("value_per_kg_max")
    if low is not None or high is not None:
        outside = []
        if low is not None:
            outside.append(f"c.value_per_kg < {bind(Decimal(low))}")
        if high is not None:
            outside.append(f"c.value_per_kg > {bind(Decimal(high))}")
        terms.append(f"(c.value_per_kg is not None and ({' or '.join(outside)}))")
    for key, criterion in _CRITERIA.items():
        value = rule.get(key)
        if value in (None, "", [], (), {}, False):
            continue
        prepared = criterion.prepare(value) if criterion.prepare else value
        terms.append(f"{bind(criterion.check)}({bind(prepared)}, c)")
    if not terms:
        return _always_true
    source = f"lambda c: {' and '.join(terms)}"
    return eval(source, {"__builtins__": {"any": any}, **names})  # noqa: S307 - our own terms


def _always_true(c) -> bool:
    return True


# ---------------------------------------------------------------- compiled once per version

_cache: dict[tuple[int, int], Engine] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def compile_rules(snapshots: Sequence[dict], *, sampling: int = SAMPLING_BLAKE2B) -> Engine:
    """Compile rule snapshots that belong to no stored version (a dry run, a test, a bench)."""
    return Engine(snapshots, sampling=sampling)


def compile_rule_set(version, *, sampling: int | None = None) -> Engine:
    """The compiled engine of a `RuleSetVersion` (or None: no rules), built once per process.

    `sampling` overrides the version's algorithm: a decision re-assessed under a newer
    version keeps drawing with the seed, and so the algorithm, it was first drawn with.
    Versions are immutable, so the cache is keyed by the version's id and the algorithm.
    """
    if version is None:
        return _EMPTY
    key = (version.pk, sampling or version.sampling)
    engine = _cache.get(key)
    if engine is None:
        engine = _remember(key, Engine(version.rules, sampling=key[1]))
    return engine


def engine_for_version(version_id: int | None, *, sampling: int | None = None) -> Engine:
    """Like `compile_rule_set`, reading the version's rules only when not yet compiled: what
    a path that holds only the version's id calls (no rules JSON carried per row)."""
    if version_id is None:
        return _EMPTY
    if sampling is not None and (version_id, sampling) in _cache:
        return _cache[(version_id, sampling)]
    from inspection.models import RuleSetVersion

    version = RuleSetVersion.objects.defer("rules").get(pk=version_id)
    key = (version_id, sampling or version.sampling)
    engine = _cache.get(key)
    if engine is None:
        rules = RuleSetVersion.objects.values_list("rules", flat=True).get(pk=version_id)
        engine = _remember(key, Engine(rules, sampling=key[1]))
    return engine


def _remember(key: tuple[int, int], engine: Engine) -> Engine:
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        return _cache.setdefault(key, engine)


_EMPTY = Engine([])
