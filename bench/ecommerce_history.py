"""E-commerce with ten million lists stored: the enterprise's list page, the board and the
sorting line (`python -m bench ecommerce_history`).

Two databases of their own, kept between runs (built by `bench.ecommerce_history_build`):
the history (BENCH_EC_HISTORY_DB, default `pw_ec_history`, BENCH_EC_HISTORY_LISTS lists,
default 10,000,000) and its peer, the same world with BENCH_EC_SMALL_LISTS lists (default
20,000; `<history>_small`). RUNS rounds; in each, each database in turn is served by a
real uvicorn (bench.ecommerce's) and this process times, over HTTP, REQUESTS sequential
requests of each page (redirects not followed: a login page would not count): p50, p95
and p99 per run; the median, min and max over the runs:

- the declaring enterprise's list page (alice's enterprise files one list in five: 2 M at
  10 M) as HTML, by default, filtered (refused lists: 5 %; held: 0.1 %), a deep page (100,000 lists
  down, reached by its `before` cursor), and the htmx body it re-fetches; an officer's
  list page (all lists); the export list page (one list in ten is an export), by default,
  for one destination, and an officer's;
- its API list (`/api/v1/ecommerce/lists/`, cursor-paginated), default, filtered, deep;
- the "Double 11" board: its page, the htmx body it polls every 10 s and on each live
  message, and its API;
- the sorting line's answer at 200 scans/s open loop for BENCH_EC_SORTING_SECONDS
  (bench.ecommerce's runner, with its straight-to-PostgreSQL floor beside it).
"""

import base64
import os
import statistics
import time

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from bench import ecommerce as ec_bench
from bench.dashboard import kept_database
from bench.ecommerce_history_build import ensure_history

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
REQUESTS = int(os.environ.get("BENCH_EC_HISTORY_REQUESTS", "40"))
LISTS = int(os.environ.get("BENCH_EC_HISTORY_LISTS", "10000000"))
SMALL = int(os.environ.get("BENCH_EC_SMALL_LISTS", "20000"))
DEEP = 100_000  # lists down the enterprise's list, for the deep page


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def _one_run(session: requests.Session, url: str, headers: dict | None) -> dict:
    samples = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        session.get(url, headers=headers, timeout=120, allow_redirects=False)
        samples.append((time.perf_counter() - began) * 1000)
    return {
        key: percentile(samples, q)
        for key, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
    }


def _check(session: requests.Session, url: str, headers: dict | None) -> None:
    response = session.get(url, headers=headers, timeout=120, allow_redirects=False)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")


def _spreads(runs: list[dict]) -> dict:
    return {key: _spread([r[key] for r in runs]) for key in runs[0]}


def _sign_in(base: str, username: str) -> str:
    """Sign in through the login form, as a browser does; the session cookie."""
    import re

    page = requests.get(f"{base}/login/", timeout=30)
    csrf = page.cookies.get(settings.CSRF_COOKIE_NAME)
    field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = requests.post(
        f"{base}/login/",
        data={"username": username, "password": "bench-portwise", "csrfmiddlewaretoken": field},
        headers={"Cookie": f"{settings.CSRF_COOKIE_NAME}={csrf}", "Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    session = answer.cookies.get(settings.SESSION_COOKIE_NAME)
    if answer.status_code != 302 or not session:
        raise RuntimeError(f"sign-in of {username}: {answer.status_code}")
    return f"{settings.SESSION_COOKIE_NAME}={session}"


def _deep_id(declarant_name: str) -> int:
    """The id DEEP lists down the declarant's list (newest first): the deep page's cursor."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.id FROM ecommerce_inventorylist l JOIN port_organisation o "
            "ON o.id = l.declarant_id WHERE o.name = %s ORDER BY l.id DESC OFFSET %s LIMIT 1",
            [declarant_name, DEEP],
        )
        row = cursor.fetchone()
    if row is None:  # a small database: half way down
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) / 2 FROM ecommerce_inventorylist")
            return cursor.fetchone()[0]
    return row[0]


def _open(name: str, total: int) -> dict:
    """Build (or find) one database and log its users in (a session each)."""
    with kept_database(name):
        build = ensure_history(total)
        deep = _deep_id("Nansha Declaring Services")
    htmx = {"HX-Request": "true"}
    cursor = base64.b64encode(f"p={deep}".encode()).decode()
    return {
        "name": name,
        "total": total,
        "build": build,
        "waybills": [f"HW{i}" for i in range(max(1, total - 2_000_000), total, 397)][:5000],
        "pages": {
            "list_page": ("html", "/ecommerce/lists/", None),
            "list_page_refused": ("html", "/ecommerce/lists/?status=refused", None),
            "list_page_held": ("html", "/ecommerce/lists/?status=held", None),
            "list_page_deep": ("html", f"/ecommerce/lists/?before={deep}", None),
            "list_body_htmx": ("html", "/ecommerce/lists/", htmx),
            "list_page_officer": ("officer", "/ecommerce/lists/", None),
            # Export lists are one in ten: alice's 200,000 at 10 M; one destination in five.
            "export_page": ("html", "/ecommerce/exports/", None),
            "export_page_destination": ("html", "/ecommerce/exports/?destination=JP", None),
            "export_page_officer": ("officer", "/ecommerce/exports/", None),
            "api_lists": ("api", "/api/v1/ecommerce/lists/", None),
            "api_lists_refused": ("api", "/api/v1/ecommerce/lists/?status=refused", None),
            "api_lists_deep": ("api", f"/api/v1/ecommerce/lists/?cursor={cursor}", None),
            "board_page": ("officer", "/ecommerce/board/", None),
            "board_body_htmx": ("officer", "/ecommerce/board/", htmx),
            "api_board": ("officer", "/api/v1/ecommerce/board/", None),
        },
    }


def _one_server_run(side: dict, seconds: int) -> dict:
    """Serve one database, time each page once (REQUESTS requests) and the sorting line once."""
    # Both databases share this worktree's Redis: what a server cached of the other (its
    # users, tokens, the board's scan minutes) must not be read as this one's.
    cache.clear()
    with kept_database(side["name"]):
        server, base = ec_bench._serve()
        try:
            sessions = {kind: requests.Session() for kind in ("html", "officer", "api")}
            # Sessions only (the API takes them too): a sign-in for a token, made in the
            # same round, ended alice's session (302 to the login page) in this bench.
            sessions["html"].headers["Cookie"] = _sign_in(base, "alice")
            sessions["api"].headers["Cookie"] = sessions["html"].headers["Cookie"]
            sessions["officer"].headers["Cookie"] = _sign_in(base, "officer1")
            done = {}
            for key, (kind, path, headers) in side["pages"].items():
                _check(sessions[kind], base + path, headers)
                done[key] = _one_run(sessions[kind], base + path, headers)
            operator = ec_bench._token(base, "site")  # after the pages: another user
            done["sorting"] = ec_bench._sorting_run(base, operator, side["waybills"], seconds)
        finally:
            server.terminate()
            server.wait(timeout=20)
    return done


def _measure(sides: list[dict]) -> dict:
    """RUNS rounds; in each, every database in turn (its own server), so both meet the
    same load."""
    seconds = int(os.environ.get("BENCH_EC_SORTING_SECONDS", "15"))
    rounds: dict = {side["name"]: [] for side in sides}
    for _ in range(RUNS):
        for side in sides:
            rounds[side["name"]].append(_one_server_run(side, seconds))
    figures = {}
    for side in sides:
        done = rounds[side["name"]]
        figures[side["name"]] = {"lists": side["total"], "build": side["build"]}
        for key in side["pages"]:
            figures[side["name"]][key] = _spreads([r[key] for r in done])
        sorting = [r["sorting"] for r in done]
        figures[side["name"]]["sorting_at_200_per_s"] = {
            "runs": sorting,
            **ec_bench._summary(sorting),
        }
    return figures


def run(measure) -> dict:
    big = os.environ.get("BENCH_EC_HISTORY_DB", "pw_ec_history")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    before = [round(x, 1) for x in os.getloadavg()]
    measured = _measure([_open(f"{big}_small", SMALL), _open(big, LISTS)])
    return {
        "started_utc": started,
        "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_average_before": before,
        "runs": RUNS,
        "requests_per_run": REQUESTS,
        "small": measured[f"{big}_small"],
        "history": measured[big],
        "target": {"list_page_p95_ms": 100, "board_p95_ms": 50, "sorting_p99_ms": 5},
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
