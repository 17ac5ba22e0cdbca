"""Settings of the benchmark's web server: the project's, with a psycopg connection pool.

Under ASGI each request runs its sync view on a fresh thread, and the default settings'
persistent connections (CONN_MAX_AGE = 60) are per thread: at 50 requests a second they
piled up to PostgreSQL's max_connections (shared/volume.md saw the same). A pool of ten,
as volume.md advises for production, bounds them.
"""

from port.settings import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
    "min_size": 2,
    "max_size": 10,
    "timeout": 10,
}
