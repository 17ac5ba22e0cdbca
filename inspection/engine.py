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
from bisect import bisect_left
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
_OUTCOME_VALUES = [outcome.value for outcome in OUTCOME_STRENGTH]

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
        "draw",
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
        self.draw = (position, self.bound, self.bit)


class _Outcomes:
    """What a set of matching rules decides, worked out once per distinct set: the rules
    that hit every container (`fixed`), those that hit every dangerous-goods container
    (`dangerous`), and the sampled ones, drawn container by container: for every container
    (`drawn`) or only for dangerous-goods containers (`drawn_dangerous`), each as
    (position, bound, bit)."""

    __slots__ = ("rules", "uniform", "verdict", "fixed", "dangerous", "drawn", "drawn_dangerous")

    def __init__(self, rules: list[_Rule]):
        self.rules = rules
        fixed = dangerous = 0
        drawn, drawn_dangerous, hits = [], [], []
        for rule in rules:
            if rule.everything:
                if rule.dangerous:
                    dangerous |= rule.bit
                else:
                    fixed |= rule.bit
                    hits.append(rule)
            elif rule.dangerous:
                drawn_dangerous.append(rule.draw)
            else:
                drawn.append(rule.draw)
        self.fixed, self.dangerous = fixed, dangerous
        self.drawn, self.drawn_dangerous = tuple(drawn), tuple(drawn_dangerous)
        self.uniform = not dangerous and not drawn and not drawn_dangerous
        self.verdict = _verdict_of(hits)


def _verdict_of(hits: list[_Rule]) -> tuple[str, list[dict]]:
    """The outcome (its plain value) and the hits of the rules that hit a container (in
    priority order)."""
    return (
        _OUTCOME_VALUES[min((rule.rank for rule in hits), default=_RELEASE_RANK)],
        [rule.hit for rule in hits],
    )


def _positions(mask: int):
    """The positions of the bits set in `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


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
        self._values: dict[Decimal, int] = {}
        self._decided: dict[int, _Outcomes] = {}
        self._hashers: dict[str, list] = {}
        self._verdicts: dict[int, tuple[str, list[dict]]] = {}
        self._dangerous_mask = sum(1 << r.position for r in self.rules if r.dangerous)
        self._compile_ranges()
        self.matching_mask = self._matcher()

    @staticmethod
    def _add(index: dict, keys, bit: int) -> None:
        for key in keys:
            index[key] = index.get(key, 0) | bit

    def _compile_ranges(self) -> None:
        """Value-per-kg ranges as segments of the number line: the bounds of every range,
        sorted, cut it into values below, at, between and above them, and within a segment
        every range says the same. A value finds its segment by bisection (exact Decimal
        comparisons), and the mask of each segment is worked out once here."""
        self._points = points = sorted({v for key in self._ranges for v in key if v is not None})
        samples: list[Decimal | Fraction] = []
        for i, point in enumerate(points):
            if i == 0:
                samples.append(point - 1)
            else:
                samples.append((Fraction(points[i - 1]) + Fraction(point)) / 2)
            samples.append(point)
        if points:
            samples.append(points[-1] + 1)
        self._segments = [self._range_mask(value) for value in samples]

    def _range_mask(self, value) -> int:
        """The rules the value per kg lets through: those without a range, and those whose
        range the value is outside of."""
        allowed = self._free["value"]
        for (low, high), rules in self._ranges.items():
            if (low is not None and value < low) or (high is not None and value > high):
                allowed |= rules
        return allowed

    # ------------------------------------------------------------ evaluation

    def _code(self, code: str) -> int:
        """The rules whose commodity prefix the code starts with."""
        mask = 0
        get = self._prefix.get
        for length in self._prefix_lengths:
            mask |= get(code[:length], 0)
        if len(self._codes) < 1_000_000:
            self._codes[code] = mask
        return mask

    def _day(self, day: date) -> int:
        """The rules valid on the day (and those with no validity window)."""
        mask = self._free["day"]
        for (start, until), rules in self._windows.items():
            if (start is None or start <= day) and (until is None or day <= until):
                mask |= rules
        if len(self._days) < 100_000:
            self._days[day] = mask
        return mask

    def _value(self, value: Decimal) -> int:
        """The rules a value per kg lets through (`_compile_ranges`)."""
        points = self._points
        i = bisect_left(points, value)
        mask = self._segments[2 * i + 1 if i < len(points) and points[i] == value else 2 * i]
        if len(self._values) < 100_000:
            self._values[value] = mask
        return mask

    def _matcher(self) -> Callable[[Any], int]:
        """`matching_mask(consignment)`: the rules whose criteria all hold for the
        consignment, as a bitmask. A closure over the indexes, so that a call reads locals
        only, and skips the criteria no rule of this set uses."""
        free = self._free
        no_hs, codes, code = free["hs"], self._codes, self._code
        country, no_country = self._country, free["country"]
        rating, no_rating = self._rating, free["rating"]
        enterprise, no_enterprise = self._enterprise, free["enterprise"]
        bl, no_bl = self._bl, free["bl"]
        summary_only, not_summary_only = self._summary_only, ~self._summary_only
        ranges, no_value, value_mask = bool(self._ranges), free["value"], self._value
        values = self._values
        windows, days, day_mask = bool(self._windows), self._days, self._day
        extras = self._extras

        def matching_mask(c) -> int:
            mask = no_hs
            for hs_code in c.hs_codes:
                found = codes.get(hs_code)
                mask |= code(hs_code) if found is None else found
            if not mask:
                return 0
            if country:
                allowed = no_country
                for origin in c.origin_countries:
                    allowed |= country.get(origin, 0)
                mask &= allowed
            if rating:
                mask &= no_rating | rating.get(c.credit_rating, 0)
            if enterprise:
                mask &= no_enterprise | enterprise.get(c.enterprise_id, 0)
            if bl:
                mask &= no_bl | bl.get(c.bl_number.upper(), 0)
            if summary_only and not c.is_summary:
                mask &= not_summary_only
            if ranges and mask:
                value = c.value_per_kg
                if value is None:  # without a net weight there is nothing to compare
                    mask &= no_value
                else:
                    found = values.get(value)
                    mask &= value_mask(value) if found is None else found
            if windows and mask:
                day = c.filed_on
                found = days.get(day)
                mask &= day_mask(day) if found is None else found
            if extras and mask:
                for bit, check, prepared in extras:
                    if mask & bit and not check(prepared, c):
                        mask &= ~bit
            return mask

        return matching_mask

    def matching(self, c) -> list[_Rule]:
        """The rules whose criteria all hold for the consignment, in priority order."""
        return self._outcomes(self.matching_mask(c)).rules

    def _outcomes(self, mask: int) -> _Outcomes:
        found = self._decided.get(mask)
        if found is None:
            rules = self.rules
            found = _Outcomes([rules[p] for p in _positions(mask)])
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
        containers = c.containers
        if not mask:
            return dict.fromkeys(containers, _RELEASED)
        decided = self._decided.get(mask) or self._outcomes(mask)
        if decided.uniform:
            return dict.fromkeys(containers, decided.verdict)
        dangerous = c.dangerous_containers
        drawn = decided.drawn
        if not drawn and dangerous.isdisjoint(containers):
            return dict.fromkeys(containers, decided.verdict)
        blake = self.sampling == SAMPLING_BLAKE2B
        states = (self._hashers.get(seed) or self._seeded(seed)) if blake else None
        fixed, verdict, verdicts = decided.fixed, decided.verdict, self._verdicts
        result = {}
        for number in containers:
            chosen, draws = fixed, drawn
            if number in dangerous:
                chosen |= decided.dangerous
                draws = drawn + decided.drawn_dangerous
            if draws:
                if blake:
                    encoded = number.encode()
                    for position, bound, bit in draws:
                        state = states[position].copy()
                        state.update(encoded)
                        if state.digest() < bound:
                            chosen |= bit
                else:
                    for position, bound, bit in draws:
                        if _sha256_draw(seed, self.rules[position], number) < bound:
                            chosen |= bit
            if chosen == fixed:
                result[number] = verdict
            else:
                result[number] = verdicts.get(chosen) or self._verdict(chosen)
        return result

    def _verdict(self, chosen: int) -> tuple[str, list[dict]]:
        """The outcome and the hits of a set of rules that hit a container."""
        rules = self.rules
        verdict = _verdict_of([rules[p] for p in _positions(chosen)])
        if len(self._verdicts) < 100_000:
            self._verdicts[chosen] = verdict
        return verdict

    def _seeded(self, seed: str) -> list:
        """Per sampled rule, BLAKE2b fed with "seed:rule:": a container's draw copies it and
        adds the container number (the same digest as hashing the whole key at once)."""
        hashers = [
            None
            if rule.everything
            else hashlib.blake2b(f"{seed}{rule.prefix}".encode(), digest_size=8)
            for rule in self.rules
        ]
        if len(self._hashers) < 64:
            self._hashers[seed] = hashers
        return hashers


_RELEASED = (Outcome.RELEASE.value, [])


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
