"""A small HTTP/1.1 load client on asyncio streams: N keep-alive connections, each sending
its next request as soon as the last answer is in, for a fixed time.

Plain sockets rather than an HTTP library, so that the client takes as little of the
machine's two cores as it can: the servers under test share them.
"""

import asyncio
import json
import statistics
import time
from collections.abc import Callable


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def _connection(host, port, path, headers, bodies, until, latencies, errors, statuses):
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    try:
        while time.monotonic() < until:
            body = next(bodies)
            request = (
                f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            status, _answer = await _response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


async def _response(reader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


def run(
    *,
    host: str,
    port: int,
    path: str,
    headers: dict,
    body_for: Callable[[int], dict],
    clients: int,
    seconds: float,
) -> dict:
    """Drive `clients` connections for `seconds`; requests/s, latency percentiles, errors."""
    serial = iter(range(10**9))
    bodies = (json.dumps(body_for(next(serial))).encode() for _ in iter(int, 1))
    latencies: list[float] = []
    errors: list[int] = []
    statuses: dict[int, int] = {}

    async def main():
        until = time.monotonic() + seconds
        tasks = [
            _connection(host, port, path, headers, bodies, until, latencies, errors, statuses)
            for _ in range(clients)
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)]

    started, cpu_started = time.perf_counter(), time.process_time()
    failures = asyncio.run(main())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "errors": len(errors) + len(failures),
        # the client's own CPU per request: it shares the cores with the servers under test
        "client_cpu_ms": round(1000 * cpu / max(1, len(latencies)), 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connection_failures": [repr(f) for f in failures[:3]],
    }
