"""While PostgreSQL does not answer, every request gets a 503 that says so, never a 500.

An outage shows itself as an OperationalError or InterfaceError (Django's or psycopg's,
including the connection pool's PoolTimeout when every connection is busy) wherever the
first query runs: in a view, in the session or authentication middleware, in a template.
The API answers a JSON 503 with Retry-After; pages get a short page of their own in the
site's style, rendered without touching the database (no user, no navigation).

Three catchers, one answer:
- DRF views: `port.api.exception_handler` returns :func:`api_response`.
- other views: :class:`DatabaseOutageMiddleware.process_exception`.
- middleware and anything else Django turns into a 500 itself: the `got_request_exception`
  signal marks the request, and the middleware swaps the 500 (or the DEBUG page) for ours.
Nothing is retried here: the client retries after Retry-After, and the next request gets a
fresh connection (the pool checks each one it hands out; port/settings.py).
"""

import logging
import sys

import psycopg
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from port.middleware import BothModes, is_api, json_error

RETRY_AFTER_SECONDS = 5
ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
_MARK = "_portwise_database_outage"
logger = logging.getLogger(__name__)


def is_outage(error: BaseException | None) -> bool:
    return isinstance(error, ERRORS)


def api_detail() -> str:
    return _(
        "The database is not answering; try again in a few seconds (a retry with the same "
        "Idempotency-Key never files twice)."
    )


def response_for(request, error: BaseException):
    logger.warning(
        "Database unavailable: %s on %s %s: %s",
        error.__class__.__name__,
        request.method,
        request.path,
        str(error).strip().splitlines()[0] if str(error).strip() else "",
    )
    if is_api(request):
        return json_error(503, api_detail(), Retry_After=str(RETRY_AFTER_SECONDS))
    from django.http import HttpResponse

    page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware(BothModes):
    """Just inside ApiErrorsMiddleware: sees what every layer below it raised. Sync under
    WSGI, async under ASGI (port.middleware.BothModes)."""

    def call(self, request):
        return _answer(request, self.get_response(request))

    async def __acall__(self, request):
        return _answer(request, await self.get_response(request))

    def process_exception(self, request, exception):
        if is_outage(exception):
            return response_for(request, exception)
        return None


def _answer(request, response):
    error = getattr(request, _MARK, None)
    if error is not None and response.status_code >= 500:
        return response_for(request, error)
    return response


@receiver(got_request_exception)
def _mark_outage(sender, request=None, **kwargs):
    """Django is about to answer a 500 for an error raised outside a view: if the database
    was the cause, remember it for the middleware above."""
    error = sys.exc_info()[1]
    if request is not None and is_outage(error):
        setattr(request, _MARK, error)
