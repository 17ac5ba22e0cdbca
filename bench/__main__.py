"""`make bench`: run every benchmark on a throw-away database and report medians.

Each benchmark repeats its measurement and reports the median and the spread; figures
are printed and written to bench/results/<name>.json. Nothing here runs in `make test`.
"""

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def measure(run: Callable[[], None], *, repeat: int) -> dict:
    """Run `run` `repeat` times; seconds per run as median, min and max."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": repeat,
    }


def main() -> int:
    from bench import analytics as analytics_bench
    from bench import assessment as assessment_bench
    from bench import burst as burst_bench
    from bench import dashboard as dashboard_bench
    from bench import declarations as declaration_bench
    from bench import ecommerce as ecommerce_bench
    from bench import ecommerce_history as ecommerce_history_bench
    from bench import intake as intake_bench
    from bench import live as live_bench
    from bench import outbox as outbox_bench
    from bench import reference as reference_bench
    from bench import rules as rules_bench
    from bench import zones as zones_bench

    setup_test_environment()
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        benches = {
            "declarations": declaration_bench.run,
            "vessel": declaration_bench.run_vessel,
            "erp_upload": declaration_bench.run_upload,
            "analytics": analytics_bench.run,
            "rules": rules_bench.run,
            "intake_batch": intake_bench.run_batch,
            "intake_load": intake_bench.run_load,
            "assessment": assessment_bench.run,
            "diversion": assessment_bench.run_diversion,
            "zone_gate": zones_bench.run,
            "zone_upload": zones_bench.run_upload,
            "ecommerce": ecommerce_bench.run,
            "reference": reference_bench.run,
            "ecommerce_sorting": ecommerce_bench.run_sorting,
            "ecommerce_history": ecommerce_history_bench.run,
            "live": live_bench.run,
            "dashboard": dashboard_bench.run,
            "burst": burst_bench.run,  # its own private PostgreSQL
            "outbox": outbox_bench.run,
        }
        # `python -m bench analytics` runs one; no names runs them all.
        chosen = sys.argv[1:] or list(benches)
        figures = {name: benches[name](measure) for name in chosen}
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    for name, result in figures.items():
        (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine, **result}, indent=2))
        print(f"\n{name}")
        for key, value in result.items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
