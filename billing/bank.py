"""Online bank payment through an adapter (settings.BANK_BACKEND), like SMS and e-mail.

The demo and the tests use the simulated bank: it accepts any charge up to its limit and
answers with a transaction reference at once. A real bank's adapter implements `charge`.
"""

import uuid

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentRefused(Exception):
    """The bank refused the charge (the bill stays unpaid)."""


class SimulatedBank:
    LIMIT_CENTS = 10_000_000_000  # 100 million CNY in one charge

    def charge(self, *, payer: str, amount_cents: int, reference: str) -> str:
        if not 0 < amount_cents <= self.LIMIT_CENTS:
            raise PaymentRefused("amount outside the bank's limits")
        return f"SIMBANK-{uuid.uuid4().hex[:16].upper()}"


def backend():
    return import_string(getattr(settings, "BANK_BACKEND", "billing.bank.SimulatedBank"))()
