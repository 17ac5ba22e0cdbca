"""Settings of the benchmark's web servers: the project's, connected as in production.

Under ASGI each request runs its sync view on a fresh thread, and persistent connections
(CONN_MAX_AGE = 60) are per thread: at 50 requests a second they piled up to PostgreSQL's
max_connections (shared/volume.md saw the same). port/asgi.py turns on the web's psycopg
pool for that; here it holds two to ten connections. A WSGI server (granian, as the API is
deployed) runs a fixed number of threads, each keeping its persistent connection, as in
production: taking one from a pool and giving it back cost 0.2 ms of CPU a request
(docs/performance.md, session 13). Production renews them every minute (CONN_MAX_AGE);
here they are kept for the whole bench, so that the CPU meter (bench/intake.py), which
reads the backends alive at both ends of a run, does not lose those renewed in between.

Health checks are off in both: PostgreSQL is not restarted during a bench, and a checked
connection costs a `SELECT 1` (or the pool's check) per request that the filing's own
statements (sent on the raw connection) never meet, but the bare DRF create would.
"""

from port.settings import *  # noqa: F403

DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
if "pool" in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["pool"].update(  # noqa: F405
        {"min_size": 2, "max_size": 10, "timeout": 10}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
