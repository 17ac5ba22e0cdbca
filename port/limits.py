"""What Portwise accepts: windows for dates and times, bounds for numbers, caps on lists and
uploads. One place for every limit; docs/api-limits.md lists them for filers.

Every entry point (API serializers, forms, the EDIFACT and ERP importers, the services)
checks input against these before any work, so a bad value is a field-level 400 and never
reaches PostgreSQL (where year 1 BC or 1E+30 would fail, or be stored and break every read).
The parsers return None for what is not a value and raise nothing; `*_error` functions return
the message to show, or None.
"""

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

# --- Dates and times --------------------------------------------------------------------------
# Operational dates (ETA, boarding, invoice and departure dates, rule validity): from 2000
# until five years ahead. Nothing a port files is older; a plan further ahead is a typo.
EARLIEST_DATE = datetime.date(2000, 1, 1)
YEARS_AHEAD = 5
# Dates of birth on crew and passenger lists.
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

# --- Lists in one request (real filings stay far below) ---------------------------------------
MAX_GOODS_LINES = 999  # goods items of one declaration (a CUSDEC line number has 3 digits)
MAX_CONTAINERS = 999  # containers of one declaration
MAX_MANIFEST_LINES = 1000  # manifest lines in one API request (a vessel: several requests)
MAX_CREW = 2000  # crew of one vessel filing (the largest cruise ships carry ~2,300)
MAX_PASSENGERS = 10000  # passengers of one vessel filing (the largest carry ~7,600)
MAX_DANGEROUS_GOODS = 5000  # dangerous-goods lines of one vessel filing
MAX_LIST = 1000  # any other list field (HS codes of a rule, items of a certificate)
MAX_BATCH_DECLARATIONS = 500  # declarations in one batch request

# --- Bodies and uploads (the size of each kind of upload as sent: port/uploads.py) ---------
MAX_REQUEST_BYTES = (
    25 * 1024 * 1024
)  # any API request: the largest upload (a 20 MB scan) and its form
MAX_JSON_BYTES = 5 * 1024 * 1024  # a JSON body (999 goods lines and 999 containers: 262 KB)
MAX_JSON_DEPTH = 32  # nesting of a JSON body (a declaration nests 3)
MAX_ERP_UNCOMPRESSED_BYTES = 50 * 1024 * 1024  # an XLSX once unzipped
MAX_ERP_ROWS = 20000  # data rows of an ERP upload


def moment_window(
    now: datetime.datetime | None = None,
) -> tuple[datetime.datetime, datetime.datetime]:
    """The earliest and latest date and time accepted (aware, in the current time zone)."""
    now = now or timezone.now()
    earliest = timezone.make_aware(datetime.datetime.combine(EARLIEST_DATE, datetime.time()))
    return earliest, _years_after(now, YEARS_AHEAD)


def date_window(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    today = today or timezone.localdate()
    return EARLIEST_DATE, _years_after(today, YEARS_AHEAD)


def moment_error(moment: datetime.datetime) -> str | None:
    earliest, latest = moment_window()
    if earliest <= moment <= latest:
        return None
    return _("Enter a date and time between %(earliest)s and %(latest)s.") % {
        "earliest": earliest.date().isoformat(),
        "latest": latest.date().isoformat(),
    }


def date_error(day: datetime.date, *, earliest: datetime.date | None = None) -> str | None:
    low, latest = date_window()
    low = earliest or low
    if low <= day <= latest:
        return None
    return _("Enter a date between %(earliest)s and %(latest)s.") % {
        "earliest": low.isoformat(),
        "latest": latest.isoformat(),
    }


def birth_date_error(day: datetime.date) -> str | None:
    if EARLIEST_BIRTH_DATE <= day <= timezone.localdate():
        return None
    return _("Enter a date of birth between %(earliest)s and today.") % {
        "earliest": EARLIEST_BIRTH_DATE.isoformat()
    }


def validate_moment(value: datetime.datetime) -> None:
    """A validator for DateTimeFields of forms and serializers."""
    if message := moment_error(value):
        raise ValidationError(message, code="out_of_range")


def validate_day(value: datetime.date) -> None:
    """A validator for DateFields of forms and serializers."""
    if message := date_error(value):
        raise ValidationError(message, code="out_of_range")


def parse_moment(value) -> datetime.datetime | None:
    """An aware datetime from an ISO 8601 string (local time when no offset), or None."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = parse_datetime(str(value or "").strip())
        except (ValueError, OverflowError):
            return None
    if moment is not None and timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment)
        except (ValueError, OverflowError):
            return None
    return moment


def parse_day(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return parse_date(str(value or "").strip())
    except (ValueError, OverflowError):
        return None


def _years_after(moment, years: int):
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


# --- Numbers ---------------------------------------------------------------------------------


def parse_decimal(raw) -> Decimal | None:
    """A finite Decimal from text or a number, or None (NaN, Infinity and junk are None)."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def fits(number: Decimal, *, max_digits: int, decimal_places: int) -> bool:
    """Whether a number rounded to `decimal_places` fits a DecimalField of `max_digits`."""
    return abs(number) < Decimal(10) ** (max_digits - decimal_places)


def decimal_error(
    raw,
    *,
    max_digits: int,
    decimal_places: int,
    minimum: Decimal | int = 0,
    above_minimum: bool = False,
    message: str = "",
) -> tuple[Decimal | None, str | None]:
    """(the number as given, None), or (None, what is wrong), for the input of a
    DecimalField(max_digits, decimal_places): finite, at or above `minimum` (above, with
    `above_minimum`) once rounded to the column, and below 10^(max_digits - decimal_places).

    `message` is the field's own words for "not a number in range"; too large a number is
    told its ceiling.
    """
    number = parse_decimal(raw)
    if number is not None and not fits(
        number, max_digits=max_digits, decimal_places=decimal_places
    ):
        ceiling = Decimal(10) ** (max_digits - decimal_places)
        return None, _("Enter a number below %(ceiling)s.") % {"ceiling": f"{ceiling:,}"}
    # PostgreSQL rounds to the column's places: 0.0001 kg is stored as 0.000.
    rounded = None if number is None else round(number, decimal_places)
    if rounded is None or not (rounded > minimum if above_minimum else rounded >= minimum):
        if not message:
            low = _("above %(minimum)s") if above_minimum else _("%(minimum)s or more")
            message = _("Enter a number, %(low)s.") % {"low": low % {"minimum": minimum}}
        return None, message
    return number, None


def list_error(values, *, maximum: int) -> str | None:
    if len(values) <= maximum:
        return None
    return _("At most %(maximum)s entries; %(count)s were sent.") % {
        "maximum": f"{maximum:,}",
        "count": f"{len(values):,}",
    }
