"""The intake bench's servers: the bench server's settings (a connection pool), with the
bare DRF create beside the API (bench/urls.py)."""

from bench.server_settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
