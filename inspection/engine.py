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

# Per container: (outcome, rules hit). The verdicts are shared between containers and
# calls: read them, never change them.
Decided = dict[str, tuple[str, list[dict]]]


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

    __slots__ = (
        "position",
        "bit",
        "id",
        "rank",
        "hit",
        "dangerous",
        "everything",
        "bound",
        "prefix",
    )

    def __init__(self, position: int, rule: dict, sampling: int):
        self.position = position
        self.bit = 1 << position
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
        # draw < rate  <=>  integer draw < ceil(rate * 2**bits); BLAKE2b draws compare as
        # 8 big-endian bytes, which order as the integers do.
        bits = 32 if sampling == SAMPLING_SHA256 else 64
        bound = -(-(rate.numerator << bits) // rate.denominator)
        self.bound = (
            bound if sampling == SAMPLING_SHA256 or self.everything else bound.to_bytes(8, "big")
        )
        self.prefix = f":{rule['id']}:"


class _Outcomes:
    """What a set of matching rules decides, worked out once per distinct set: the rules
    that hit every container (`fixed`), those that hit only dangerous-goods containers
    (`dangerous`), and the sampled ones, drawn container by container."""

    __slots__ = ("rules", "uniform", "verdict", "fixed", "dangerous", "sampled")

    def __init__(self, rules: list[_Rule]):
        self.rules = rules
        self.fixed = sum(r.bit for r in rules if r.everything and not r.dangerous)
        self.dangerous = sum(r.bit for r in rules if r.everything and r.dangerous)
        self.sampled = [r for r in rules if not r.everything]
        self.uniform = not self.dangerous and not self.sampled
        fixed = [r for r in rules if r.bit & self.fixed]
        self.verdict = (
            OUTCOME_STRENGTH[min((r.rank for r in fixed), default=_RELEASE_RANK)],
            [r.hit for r in fixed],
        )


class Engine:
    """A rule set compiled for evaluation. Safe to share between threads (its caches only
    ever gain entries that any thread would compute alike).

    Each criterion becomes a bitmask over the rules (bit i: the rule at priority position
    i): the rules it lets through for the consignment's value, or'ed with the rules that do
    not set it. A consignment's matching rules are the AND of its criteria's masks; the
    masks of commodity codes and of days are cached, and so is what each distinct set of
    matching rules decides.
    """

    def __init__(self, snapshots: Sequence[dict], *, sampling: int = SAMPLING_BLAKE2B):
        if sampling not in SAMPLING_ALGORITHMS:
            raise ValueError(f"unknown sampling algorithm {sampling!r}")
        self.sampling = sampling
        ordered = sorted(snapshots, key=lambda r: (r["priority"], r["id"]))
        self.rules = [_Rule(position, rule, sampling) for position, rule in enumerate(ordered)]
        everyone = (1 << len(ordered)) - 1
        self._prefix: dict[str, int] = {}
        self._country: dict[str, int] = {}
        self._rating: dict[str, int] = {}
        self._enterprise: dict[int, int] = {}
        self._bl: dict[str, int] = {}
        self._summary_only = 0
        self._ranges: dict[tuple, int] = {}  # (low, high) -> rules with that value range
        self._windows: dict[tuple, int] = {}  # (from, until) -> rules valid in that window
        self._extras: list[tuple[int, Callable, Any]] = []  # (bit, check, prepared value)
        free = {"hs": everyone, "country": everyone, "rating": everyone, "enterprise": everyone}
        free |= {"bl": everyone, "value": everyone, "day": everyone}
        for position, rule in enumerate(ordered):
            bit = 1 << position
            if rule["hs_prefix"]:
                self._add(self._prefix, [rule["hs_prefix"]], bit)
                free["hs"] &= ~bit
            for name, index, values in (
                ("country", self._country, rule["origin_countries"]),
                ("rating", self._rating, rule["credit_ratings"]),
                ("enterprise", self._enterprise, rule["watched_enterprises"]),
                # Snapshots keep B/L numbers upper-case (`rules.rule_snapshot`).
                ("bl", self._bl, rule["watched_bl_numbers"]),
            ):
                if values:
                    self._add(index, values, bit)
                    free[name] &= ~bit
            if rule.get("summary_declarations"):
                self._summary_only |= bit
            low, high = rule.get("value_per_kg_min"), rule.get("value_per_kg_max")
            if low is not None or high is not None:
                key = (_decimal(low), _decimal(high))
                self._ranges[key] = self._ranges.get(key, 0) | bit
                free["value"] &= ~bit
            if rule.get("valid_from") or rule.get("valid_until"):
                key = (_day(rule.get("valid_from")), _day(rule.get("valid_until")))
                self._windows[key] = self._windows.get(key, 0) | bit
                free["day"] &= ~bit
            for key, criterion in _CRITERIA.items():
                value = rule.get(key)
                if value not in (None, "", [], (), {}, False):
                    prepared = criterion.prepare(value) if criterion.prepare else value
                    self._extras.append((bit, criterion.check, prepared))
        self._free = free
        self._everyone = everyone
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._codes: dict[str, int] = {}
        self._days: dict[date, int] = {}
        self._decided: dict[int, _Outcomes] = {}
        self._hashers: dict[str, list] = {}
        self._verdicts: dict[int, tuple[str, list[dict]]] = {}
        self._dangerous_mask = sum(1 << r.position for r in self.rules if r.dangerous)

    @staticmethod
    def _add(index: dict, keys, bit: int) -> None:
        for key in keys:
            index[key] = index.get(key, 0) | bit

    # ------------------------------------------------------------ evaluation

    def _code(self, code: str) -> int:
        """The rules whose commodity prefix the code starts with."""
        mask = 0
        get = self._prefix.get
        for length in self._prefix_lengths:
            mask |= get(code[:length], 0)
        self._codes[code] = mask
        return mask

    def _day(self, day: date) -> int:
        """The rules valid on the day (and those with no validity window)."""
        mask = self._free["day"]
        for (start, until), rules in self._windows.items():
            if (start is None or start <= day) and (until is None or day <= until):
                mask |= rules
        self._days[day] = mask
        return mask

    def matching_mask(self, c) -> int:
        """The rules whose criteria all hold for the consignment, as a bitmask."""
        free = self._free
        mask = free["hs"]
        codes = self._codes
        for code in c.hs_codes:
            found = codes.get(code)
            mask |= self._code(code) if found is None else found
        if not mask:
            return 0
        if self._country:
            allowed = free["country"]
            for country in c.origin_countries:
                allowed |= self._country.get(country, 0)
            mask &= allowed
        if self._rating:
            mask &= free["rating"] | self._rating.get(c.credit_rating, 0)
        if self._enterprise:
            mask &= free["enterprise"] | self._enterprise.get(c.enterprise_id, 0)
        if self._bl:
            mask &= free["bl"] | self._bl.get(c.bl_number.upper(), 0)
        if self._summary_only and not c.is_summary:
            mask &= ~self._summary_only
        if self._ranges and mask:
            allowed = free["value"]
            value = c.value_per_kg
            if value is not None:  # without a net weight there is nothing to compare
                for (low, high), rules in self._ranges.items():
                    if (low is not None and value < low) or (high is not None and value > high):
                        allowed |= rules
            mask &= allowed
        if self._windows and mask:
            day = c.filed_on
            found = self._days.get(day)
            mask &= self._day(day) if found is None else found
        if self._extras and mask:
            for bit, check, prepared in self._extras:
                if mask & bit and not check(prepared, c):
                    mask &= ~bit
        return mask

    def matching(self, c) -> list[_Rule]:
        """The rules whose criteria all hold for the consignment, in priority order."""
        return self._outcomes(self.matching_mask(c)).rules

    def _outcomes(self, mask: int) -> _Outcomes:
        found = self._decided.get(mask)
        if found is None:
            rules = self.rules
            found = _Outcomes([rules[p] for p in range(mask.bit_length()) if mask >> p & 1])
            if len(self._decided) < 100_000:
                self._decided[mask] = found
        return found

    def evaluate(self, c, seed: str) -> Decided:
        """For each container (unit) of one consignment: the outcome and every rule that hit."""
        return self._decide(c, self.matching_mask(c), seed)

    def evaluate_many(self, consignments: Iterable, seed: str | Sequence[str]) -> list[Decided]:
        """`evaluate` for a batch: one seed for all, or one seed per consignment."""
        decide, mask_of = self._decide, self.matching_mask
        if isinstance(seed, str):
            return [decide(c, mask_of(c), seed) for c in consignments]
        return [decide(c, mask_of(c), s) for c, s in zip(consignments, seed, strict=True)]

    def _decide(self, c, mask: int, seed: str) -> Decided:
        if not mask:
            return dict.fromkeys(c.containers, _RELEASED)
        decided = self._decided.get(mask) or self._outcomes(mask)
        if decided.uniform:
            return dict.fromkeys(c.containers, decided.verdict)
        dangerous = c.dangerous_containers
        sampled = decided.sampled
        blake = self.sampling == SAMPLING_BLAKE2B
        if sampled and blake:
            hashers = self._hashers.get(seed) or self._seeded(seed)
        verdicts = self._verdicts
        result = {}
        for number in c.containers:
            chosen = decided.fixed
            if number in dangerous:
                chosen |= decided.dangerous
            if sampled:
                encoded = number.encode()
                for rule in sampled:
                    if rule.dangerous and number not in dangerous:
                        continue
                    if blake:
                        hasher = hashers[rule.position].copy()
                        hasher.update(encoded)
                        if hasher.digest() >= rule.bound:
                            continue
                    elif _sha256_draw(seed, rule, number) >= rule.bound:
                        continue
                    chosen |= rule.bit
            result[number] = verdicts.get(chosen) or self._verdict(chosen)
        return result

    def _verdict(self, chosen: int) -> tuple[str, list[dict]]:
        """The outcome and the hits of a set of rules that hit a container."""
        hits = [rule for rule in self.rules if chosen & rule.bit]
        verdict = (
            OUTCOME_STRENGTH[min((rule.rank for rule in hits), default=_RELEASE_RANK)],
            [rule.hit for rule in hits],
        )
        if len(self._verdicts) < 100_000:
            self._verdicts[chosen] = verdict
        return verdict

    def _seeded(self, seed: str) -> list:
        """Per rule, BLAKE2b fed with "seed:rule:": a container's draw copies it and adds
        the container number (the same digest as hashing the whole key at once)."""
        hashers = [
            hashlib.blake2b(f"{seed}{rule.prefix}".encode(), digest_size=8) for rule in self.rules
        ]
        if len(self._hashers) < 64:
            self._hashers[seed] = hashers
        return hashers


_RELEASED = (Outcome.RELEASE, [])


def _sha256_draw(seed: str, rule: _Rule, number: str) -> int:
    return int(hashlib.sha256(f"{seed}{rule.prefix}{number}".encode()).hexdigest()[:8], 16)


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


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
    """Like `compile_rule_set`, reading the version's rules (one query) only when not yet
    compiled: what a path that holds only the version's id calls, so that no rules JSON is
    carried per row."""
    if version_id is None:
        return _EMPTY
    if sampling is not None and (version_id, sampling) in _cache:
        return _cache[(version_id, sampling)]
    from inspection.models import RuleSetVersion

    rules, own = RuleSetVersion.objects.values_list("rules", "sampling").get(pk=version_id)
    key = (version_id, sampling or own)
    return _cache.get(key) or _remember(key, Engine(rules, sampling=key[1]))


def _remember(key: tuple[int, int], engine: Engine) -> Engine:
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        return _cache.setdefault(key, engine)


_EMPTY = Engine([])
