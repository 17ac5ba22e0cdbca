"""Live pushes at volume: 1,000 WebSocket clients on /ws/live/ of a real ASGI server.

Two uvicorn processes serve /ws/live/ on the bench database; 1,000 sockets of one
enterprise's users connect (each joins its organisation's group). Events are committed
through the real path (`live.publish_on_commit` inside a transaction, published by its
on-commit callback: one numbered frame per group) and each carries the time just before
its commit. Per event: commit to the first and to the last socket; per run the p50, p95
and p99 of commit to the last socket.

- steady: EVENTS_STEADY (20) events at EVENTS_PER_S (1 a second), each its own transaction.
- burst: EVENTS_BURST (100) transactions as fast as one thread commits them; then the sockets
  are drained, and every (socket, event) that did not arrive is counted as missed, and as
  gap-detected when a later frame of that socket carries a number past it (the page
  re-fetches), silent otherwise.
- peer: as many sockets again, on `/ws/peer/` of the same server processes
  (bench/live_asgi.py): channels' own path, a consumer per socket with a channel of its own
  on channels-redis's RedisPubSubChannelLayer; the same frames sent with a bare `group_send`
  (no transaction, no number), at the same rate.

Each figure is the median of BENCH_RUNS (3) runs with min and max.
"""

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager

import uvloop
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from websockets.exceptions import ConnectionClosed

from bench import intake
from bench.live_asgi import PEER_GROUP
from port import live
from port.models import User

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SOCKETS = int(os.environ.get("BENCH_LIVE_SOCKETS", "1000"))
EVENTS_STEADY = int(os.environ.get("BENCH_LIVE_EVENTS", "20"))
EVENTS_PER_S = float(os.environ.get("BENCH_LIVE_RATE", "1"))
EVENTS_BURST = int(os.environ.get("BENCH_LIVE_BURST", "100"))
WEB_PROCESSES = 2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(values: list[float], digits: int = 1) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


class Sockets:
    """The 1,000 clients, on an event loop in a thread of their own: each keeps the time and
    text of every frame it receives, and opens them only after the run."""

    def __init__(self, port: int, cookie: str, count: int, path: str = "/ws/live/"):
        self.url = f"ws://127.0.0.1:{port}{path}"
        self.headers = {"Cookie": cookie, "Origin": "http://127.0.0.1"}
        self.count = count
        self.received: list[list[tuple[float, str]]] = [[] for _ in range(count)]
        self.joined: list[dict] = [{} for _ in range(count)]
        # uvloop, as the server's: the client's own loop is part of every figure, and one
        # Python process stands in for 2,000 browsers.
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list = []
        self.sockets: list = []

    def open(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open_all(), self.loop).result(timeout=600)

    async def _open_all(self) -> None:
        ready = [asyncio.Event() for _ in range(self.count)]
        gate = asyncio.Semaphore(50)
        self.tasks = [
            asyncio.ensure_future(self._socket(i, ready[i], gate)) for i in range(self.count)
        ]
        await asyncio.gather(*(r.wait() for r in ready))

    async def _socket(self, index: int, ready: asyncio.Event, gate) -> None:
        from websockets.asyncio.client import connect

        async with gate:
            socket = await connect(
                self.url, additional_headers=self.headers, max_queue=None, open_timeout=120
            )
            self.joined[index] = json.loads(await socket.recv())
        ready.set()
        self.sockets.append(socket)
        frames = self.received[index]
        with contextlib.suppress(ConnectionClosed):
            async for text in socket:
                frames.append((time.time(), text))

    def reset(self) -> None:
        for frames in self.received:
            frames.clear()

    def wait_for(self, stream: str, events: int, timeout: float) -> None:
        """Until every socket has `events` events of `stream` (or the timeout)."""
        deadline = time.monotonic() + timeout
        needle = f'"stream":"{stream}"'
        while time.monotonic() < deadline:
            if all(
                sum(needle in text for _t, text in frames) >= events for frames in self.received
            ):
                return
            time.sleep(0.5)

    def close(self) -> None:
        async def close_all():
            await asyncio.gather(*(socket.close() for socket in self.sockets))
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=120)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _latencies(sockets: Sockets, stream: str) -> dict:
    """Per event: the commit time it carries, its arrivals; per socket: numbers seen."""
    arrivals: dict[int, list[float]] = {}
    committed: dict[int, float] = {}
    for frames in sockets.received:
        for at, text in frames:
            frame = json.loads(text)
            if frame.get("stream") != stream:
                continue
            for event in frame["events"]:
                committed[event["n"]] = event["t"]
                arrivals.setdefault(event["n"], []).append(at)
    last = [(max(a) - committed[n]) * 1000 for n, a in arrivals.items()]
    first = [(min(a) - committed[n]) * 1000 for n, a in arrivals.items()]
    return {
        "events": len(arrivals),
        "p50_ms": percentile(last, 0.5),
        "p95_ms": percentile(last, 0.95),
        "p99_ms": percentile(last, 0.99),
        "first_socket_p50_ms": percentile(first, 0.5),
    }


def _losses(sockets: Sockets, stream: str, expected: set[int]) -> dict:
    """Events that did not reach a socket: gap-detected when that socket later saw a frame
    numbered past the lost one, silent otherwise."""
    missed = detected = 0
    for frames in sockets.received:
        seen: dict[int, int] = {}  # event n -> frame seq
        for _at, text in frames:
            frame = json.loads(text)
            if frame.get("stream") == stream:
                for event in frame["events"]:
                    seen[event["n"]] = frame["seq"]
        lost = expected - seen.keys()
        missed += len(lost)
        # Frames are numbered in commit order, one event each: a lost event's number lies
        # below the last number this socket saw exactly when a later one arrived.
        detected += sum(1 for n in lost if n < max(seen, default=-1))
    return {"missed": missed, "gap_detected": detected, "silent": missed - detected}


def _commit(group: str, n: int) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # a real transaction, committed
        live.publish_on_commit(
            groups=[group], event={"type": "bench.tick", "n": n, "t": time.time()}
        )


def _peer_send(group: str, n: int) -> None:
    frame = json.dumps(
        {
            "type": "live.events",
            "stream": "peer",
            "seq": n,
            "events": [{"type": "bench.tick", "n": n, "t": time.time()}],
        },
        separators=(",", ":"),
    )
    async_to_sync(get_channel_layer().group_send)(group, {"type": "live.frame", "frame": frame})


def _paced(send, group: str, count: int, rate: float, first: int) -> set[int]:
    sent = set()
    started = time.monotonic()
    for i in range(count):
        delay = started + i / rate - time.monotonic() if rate else 0
        if delay > 0:
            time.sleep(delay)
        send(group, first + i)
        sent.add(first + i)
    return sent


@contextmanager
def _server(env: dict, port: int):
    argv = intake._web_argv("asgi", port)
    argv[argv.index("port.asgi:application")] = "bench.live_asgi:application"
    argv[argv.index("--workers") + 1] = str(WEB_PROCESSES)
    child = subprocess.Popen(argv, cwd=intake.ROOT, env=env)  # noqa: S603
    try:
        intake._wait_for(port)
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def run(measure) -> dict:
    if not User.objects.filter(username="importer").exists():
        call_command("seed_demo", certificates=False, verbosity=0)
    importer = User.objects.get(username="importer")
    organisation_id = importer.memberships.values_list("organisation_id", flat=True).first()
    group = live.organisation_group(organisation_id)
    env, port = intake._env(), intake._free_port()
    client = Client()
    with override_settings(SECRET_KEY=env["SECRET_KEY"]):  # the server's key signs sessions
        client.force_login(importer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    layers = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {
                **settings.CHANNEL_LAYERS["default"]["CONFIG"],
                "prefix": env["CHANNELS_PREFIX"],
            },
        }
    }
    steady, burst, peer = [], [], []
    with override_settings(CHANNEL_LAYERS=layers), _server(env, port):
        channel_layers.backends.clear()
        sockets = Sockets(port, cookie, SOCKETS)
        started = time.monotonic()
        sockets.open()
        connect_s = time.monotonic() - started
        peers = Sockets(port, cookie, SOCKETS, path="/ws/peer/")
        peers.open()
        assert all(group in j["streams"] for j in sockets.joined), sockets.joined[0]
        n = 0
        for _ in range(RUNS):
            peers.reset()
            _paced(_peer_send, PEER_GROUP, EVENTS_STEADY, EVENTS_PER_S, n)
            n += EVENTS_STEADY
            peers.wait_for("peer", EVENTS_STEADY, timeout=60)
            peer.append(_latencies(peers, "peer"))

            sockets.reset()
            sent = _paced(_commit, group, EVENTS_STEADY, EVENTS_PER_S, n)
            n += EVENTS_STEADY
            sockets.wait_for(group, EVENTS_STEADY, timeout=60)
            steady.append({**_latencies(sockets, group), **_losses(sockets, group, sent)})

            sockets.reset()
            sent = _paced(_commit, group, EVENTS_BURST, 0, n)
            n += EVENTS_BURST
            sockets.wait_for(group, EVENTS_BURST, timeout=180)
            burst.append({**_latencies(sockets, group), **_losses(sockets, group, sent)})
        sockets.close()
        peers.close()

    def summarise(runs: list[dict]) -> dict:
        out = {k: _summary([r[k] for r in runs]) for k in runs[0] if k.endswith("_ms")}
        for key in ("events", "missed", "gap_detected", "silent"):
            if key in runs[0]:
                out[key] = [r[key] for r in runs]
        return out

    return {
        "sockets": SOCKETS,
        "web_processes": WEB_PROCESSES,
        "connect_all_s": round(connect_s, 1),
        "steady_events_per_run": EVENTS_STEADY,
        "steady_events_per_s": EVENTS_PER_S,
        "burst_events_per_run": EVENTS_BURST,
        "runs": RUNS,
        "steady": summarise(steady),
        "burst": summarise(burst),
        "peer_pubsub_group_send": summarise(peer),
        "ratio_p95_to_peer": round(
            statistics.median(r["p95_ms"] for r in steady)
            / statistics.median(r["p95_ms"] for r in peer),
            2,
        ),
        "target": {"p95_ms": 100, "silent": 0},
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
