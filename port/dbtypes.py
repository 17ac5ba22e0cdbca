"""Reading dates and times PostgreSQL holds but Python cannot: a year before 1 (BC), after
9999, or infinity. psycopg refuses such a value with DataError, so one bad row made every
page listing it answer 500. Input is bounded now (port.limits), and migration
port.0007 moves rows written before that; this is the last guard: such a value reads as
the nearest moment Python can hold (year 1 or 9999), visibly wrong but never a crash.
"""

import datetime

import psycopg
from django.db.backends.postgresql import psycopg_any
from psycopg.types.datetime import DateLoader

# A day from each end, so a conversion to any time zone stays representable.
EARLIEST = datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
LATEST = datetime.datetime(9999, 12, 30, tzinfo=datetime.UTC)


def _nearest(data) -> str:
    text = bytes(data).decode("ascii", "replace")
    return "early" if text.endswith("BC") or text == "-infinity" else "late"


class LenientDateLoader(DateLoader):
    def load(self, data):
        try:
            return super().load(data)
        except psycopg.DataError:
            moment = EARLIEST if _nearest(data) == "early" else LATEST
            return moment.date()


def install() -> None:
    """Make Django's timestamptz loader, and psycopg's date loader, lenient (once)."""
    base = psycopg_any.BaseTzLoader
    if getattr(base, "lenient", False):
        return
    strict_load = base.load

    def load(self, data):
        try:
            return strict_load(self, data)
        except psycopg.DataError:
            moment = EARLIEST if _nearest(data) == "early" else LATEST
            return (
                moment.astimezone(self.timezone) if self.timezone else moment.replace(tzinfo=None)
            )

    base.load = load
    base.lenient = True
    psycopg.adapters.register_loader("date", LenientDateLoader)
