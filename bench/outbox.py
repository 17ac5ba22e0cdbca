"""`outbox`: from a committed outbox row to its message on the broker, through a real relay
process (`manage.py outbox_relay`) woken by LISTEN/NOTIFY.

Rows are committed one at a time, 20 ms apart (a steady trickle: the relay is idle between
them, so each latency includes its wake-up), and the latency of each is `sent_at -
created_at` as PostgreSQL's clock sees both. Peer in the same run: the relay's poll interval
(POLL_SECONDS), which is what a row would wait on average half of without NOTIFY.
"""

import statistics
import subprocess
import sys
import time

from bench.intake import ROOT, RUNS, _env
from port import outbox
from port.models import OutboxMessage

ROWS = 200
TASK = "port.tasks.outbox_sent_purge_task"  # harmless if a worker ever runs it


def run(measure) -> dict:
    env = _env()
    relay = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), "outbox_relay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    runs = []
    try:
        probe = outbox.enqueue(TASK)  # the relay is up and has drained once
        deadline = time.monotonic() + 120
        while OutboxMessage.objects.get(pk=probe.pk).sent_at is None:
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.1)
        time.sleep(1)
        for _ in range(RUNS):
            first = OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
            for _ in range(ROWS):
                outbox.enqueue(TASK)  # autocommit: committed at once
                time.sleep(0.02)
            deadline = time.monotonic() + 60
            rows = OutboxMessage.objects.filter(id__gt=first)
            while rows.filter(sent_at__isnull=True).exists():
                assert time.monotonic() < deadline, "rows not sent within 60 s"
                time.sleep(0.05)
            latencies = sorted(
                (sent - created).total_seconds() * 1000
                for created, sent in rows.values_list("created_at", "sent_at")
            )
            runs.append(
                {
                    "p50_ms": statistics.median(latencies),
                    "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
                    "max_ms": latencies[-1],
                }
            )
    finally:
        relay.terminate()
        relay.wait(timeout=20)
    p50 = [r["p50_ms"] for r in runs]
    return {
        "rows_per_run": ROWS,
        "commit_to_broker_p50_ms": {
            "median": statistics.median(p50),
            "min": min(p50),
            "max": max(p50),
        },
        "p95_ms_per_run": [round(r["p95_ms"], 1) for r in runs],
        "max_ms_per_run": [round(r["max_ms"], 1) for r in runs],
        "peer_poll_interval_ms": outbox.POLL_SECONDS * 1000,
        "runs": runs,
    }
