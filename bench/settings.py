"""The bench's servers: Portwise's settings, with the bare DRF create beside the API."""

from port.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
