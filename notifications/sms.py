"""SMS through an adapter (settings.SMS_BACKEND), as e-mail goes through Django's backends.

The demo and the tests use the console adapter: it logs the message with the number masked
and keeps the last messages in memory for tests. A real gateway implements `send`.
"""

import logging
from collections import deque

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway refused or could not be reached; the delivery is retried."""


def mask(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "****"


class ConsoleSms:
    outbox: deque = deque(maxlen=100)

    def send(self, *, to: str, text: str) -> None:
        self.outbox.append({"to": to, "text": text})
        logger.info("SMS to %s: %s", mask(to), text)


def backend():
    return import_string(getattr(settings, "SMS_BACKEND", "notifications.sms.ConsoleSms"))()
