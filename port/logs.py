"""No password, token or identity document number reaches a log line.

`install()` (from PortConfig.ready, so in web, worker, beat and commands alike) wraps the
log record factory: every record of every logger (Django, Celery, uvicorn's access log,
ours) has its message, and its traceback if any, redacted as it is created, before any
handler or formatter sees it. docs/security.md.

Redacted: the value after a sensitive key (password, secret, token, authorization,
document or ID number, passport) in `key=value`, `key: value` and JSON forms; an API
token after "Token "; a Chinese resident identity number (18 characters with a valid
birth date and check digit, so an 18-digit declaration number stays readable), of which
only the last four characters are kept.
"""

from __future__ import annotations

import logging
import re
import traceback

from stdnum.cn import ric

MASK = "[redacted]"
SENSITIVE_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|authorization|cookie|sessionid|csrftoken"
    r"|document[_ ]number|id[_ ]number|identity[_ ]number|passport(?:[_ ]number)?"
)
KEY_VALUE = re.compile(
    rf"""(?P<key>["']?\b(?:{SENSITIVE_KEYS})\b["']?\s*[=:]\s*)(?P<quote>["']?)(?P<value>[^"'\s&,;}}]+)""",
    re.IGNORECASE,
)
API_TOKEN = re.compile(r"\b(Token|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
# 6 digits of region, 8 of birth date, 3 of sequence, a check digit or X.
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    text = API_TOKEN.sub(lambda m: f"{m[1]} {MASK}", text)
    text = KEY_VALUE.sub(lambda m: f"{m['key']}{m['quote']}{MASK}", text)
    return RESIDENT_ID.sub(_mask_resident_id, text)


def _mask_resident_id(match: re.Match) -> str:
    number = match[1]
    if not ric.is_valid(number):
        return number
    return "*" * (len(number) - 4) + number[-4:]


def install() -> None:
    """Redact every log record as it is made (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "portwise_redacts", False):
        return

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            trace = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(trace)
        return record

    make_record.portwise_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
