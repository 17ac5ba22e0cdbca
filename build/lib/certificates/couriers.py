"""Courier adapters: how a mailed certificate's progress reaches the platform.

A real adapter calls the courier's API; `SimulatedCourier` stands in for the demo and
reports the next state each time it is asked.
"""

import secrets
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from certificates.models import Mailing

S = Mailing.Status
# The order a courier reports the states it is responsible for.
COURIER_STATES = [S.IN_LOCKER, S.COLLECTED, S.IN_TRANSIT, S.DELIVERED]


class Courier(Protocol):
    def book(self, mailing: Mailing) -> str:
        """Book the pickup at the locker; returns the tracking number."""

    def current_status(self, mailing: Mailing) -> str:
        """The state the courier reports for a booked mailing."""


class SimulatedCourier:
    """A courier that moves one state on each time it is asked, for the demo and tests."""

    # Seconds between the simulated courier's reports.
    step_seconds = 5

    def book(self, mailing: Mailing) -> str:
        return f"SIM{secrets.randbelow(10**9):09d}"

    def current_status(self, mailing: Mailing) -> str:
        index = COURIER_STATES.index(mailing.status) if mailing.status in COURIER_STATES else -1
        return COURIER_STATES[min(index + 1, len(COURIER_STATES) - 1)]


def get_courier() -> Courier:
    path = getattr(settings, "CERTIFICATES_COURIER", "certificates.couriers.SimulatedCourier")
    return import_string(path)()
