"""Schemathesis over the whole OpenAPI schema, as every demo role: 0 server errors and 0
responses that contradict the schema (docs/api-limits.md). `.ci/run` runs it after the tests.

    python scripts/schemathesis_api.py [--examples N] [--roles importer,officer]

It makes its own database (DATABASE_URL's name + "_schemathesis", dropped afterwards),
migrates it, loads the demo port, serves the real ASGI application with uvicorn on a free
loopback port, and runs `st run` once per role with that role's token. Traffic goes to
127.0.0.1 only. Each run is bounded: N examples per operation (3 by default), a fixed
seed, no shrinking; the exit code is non-zero when any role found a failure.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from json import loads
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ROLES = [
    "importer",
    "exporter",
    "broker",
    "officer",
    "expert",
    "xiangyu",
    "terminal",
    "maritime",
    "border",
    "portauth",
    "agent",
    "admin",
]
PASSWORD = "portwise-demo"  # noqa: S105 the demo logins' published password
# Signing out revokes the role's token mid-run; the token endpoint is exercised by the tests.
EXCLUDED_PATHS = ["/api/v1/auth/logout/", "/api/v1/auth/token/"]
CHECKS = "not_a_server_error,response_schema_conformance"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=3, help="per operation and role")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--parallel", type=int, default=3, help="roles run at once")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    env = _environment()
    database_url = env["DATABASE_URL"]
    _recreate_database(database_url)
    try:
        _manage(env, "migrate", "--verbosity", "0")
        _manage(env, "seed_demo")
        return _run(env, args)
    finally:
        if not args.keep_database:
            _drop_database(database_url)


def _run(env: dict, args) -> int:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "port.asgi:application", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_for(f"{base}/api/schema/", server)
        roles = args.roles.split(",")
        tokens = {role: _token(base, role) for role in roles}
        failed = []
        # Three roles at a time: the server mostly waits on PostgreSQL, and CI has 2 cores.
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            runs = {
                pool.submit(_schemathesis, env, base, tokens[r], args.examples, r): r for r in roles
            }
            for run in as_completed(runs):
                code, seconds = run.result()
                print(f"== {runs[run]}: exit {code} in {seconds:.0f} s", flush=True)
                if code != 0:
                    failed.append(runs[run])
        print("Schemathesis:", f"failures as {', '.join(failed)}" if failed else "no failures")
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=20)


def _schemathesis(env: dict, base: str, token: str, examples: int, role: str):
    """(exit code, seconds) of one role's run; its report goes to the output at the end."""
    started = time.monotonic()
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base}/api/schema/",
        "--header",
        f"Authorization: Token {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--phases",
        "examples,fuzzing",
        "--seed",
        "20261204",
        "--no-shrink",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--workers",
        "1",
        "--no-color",
        "--warnings",
        "off",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    hooks = {**env, "SCHEMATHESIS_HOOKS": "scripts.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=hooks, check=False, capture_output=True, text=True
    )
    print(f"\n######## {role} ########\n{done.stdout}{done.stderr}", flush=True)
    return done.returncode, time.monotonic() - started


def _environment() -> dict:
    """This run's own database, Redis database, Celery queue and channel prefix."""
    from port import embedded

    run = uuid.uuid4().hex[:8]
    parts = urlsplit(os.environ.get("DATABASE_URL") or embedded.database_url())
    name = parts.path.lstrip("/") or "portwise"
    redis = urlsplit(os.environ.get("REDIS_URL") or embedded.redis_url())
    return {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}_schemathesis")),
        "REDIS_URL": urlunsplit(redis._replace(path="/8"))
        if redis.scheme.startswith("redis")
        else urlunsplit(redis),
        "CELERY_QUEUE": f"schemathesis-{run}",
        "CHANNELS_PREFIX": f"schemathesis{run}",
        "DEBUG": "true",
        "PYTHONPATH": str(ROOT),
    }


def _recreate_database(url: str) -> None:
    _drop_database(url)
    _admin(url, "CREATE DATABASE {}")


def _drop_database(url: str) -> None:
    _admin(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def _admin(url: str, statement: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as db:
        db.execute(sql.SQL(statement).format(sql.Identifier(name)))


def _manage(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _token(base: str, username: str) -> str:
    body = urlencode({"username": username, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/token/", data=body)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 loopback only
        return loads(response.read())["token"]


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 loopback only
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("uvicorn did not answer within 60 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
