"""API clients get JSON errors, always: never Django's HTML error pages, and never its DEBUG
pages (a traceback with the settings). Outside every middleware but the observability
ones, so it sees every response whichever layer made it (the URL resolver's 404, a 500
from any middleware or view).

A body larger than the API accepts is refused with a JSON 413 before anything reads it.
Responses that DRF rendered (JSON, the browsable API, EDIFACT) and JSON answers from other
layers (the 503 of an outage) pass unchanged. docs/api-limits.md.
"""

import logging
from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from port import limits

API_PREFIX = "/api/"
logger = logging.getLogger(__name__)


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(status: int, detail: str = "", **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail or HTTPStatus(status).phrase}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class BothModes:
    """A middleware that runs sync under WSGI and async under ASGI (`call`, `__acall__`).

    Under ASGI, Django hops from the event loop to a thread and back around every
    middleware that is sync only: with one of them above async ones, each request took
    three hand-offs between threads, each waiting for the GIL under load (docs/performance.md).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.call(request)

    def call(self, request):
        raise NotImplementedError

    async def __acall__(self, request):
        raise NotImplementedError


class ReleaseRequestMiddleware(BothModes):
    """Once the answer has been sent (the response closed), empties the request and DRF's view.

    Both sit in reference cycles that Django, DRF and browser middleware make on every
    request (the messages storage, htmx's details and the CSP nonce point back at the
    request; DRF's request, view and response at each other), so without this every
    request's objects wait for the garbage collector: about a hundred a request, and the
    collections that freed them were a tenth of the web process's CPU under load
    (docs/performance.md, session 12). Outermost, so it sees the response that is sent.
    """

    def call(self, request):
        response = self.get_response(request)
        _release_on_close(request, response)
        return response

    async def __acall__(self, request):
        response = await self.get_response(request)
        _release_on_close(request, response)
        return response


def _release_on_close(request, response) -> None:
    drf = getattr(response, "renderer_context", None) or {}  # DRF's view, request, response

    def empty() -> None:
        for part in (drf.get("view"), drf.get("request")):
            if part is not None:
                part.__dict__.clear()
        drf.clear()
        request.__dict__.clear()

    def last() -> None:
        # Django's own closer, after this one, closes the request's files: empty it after
        # that (HttpResponse.close() runs the closers added while it runs them, then drops them).
        response._resource_closers.append(empty)

    response._resource_closers.append(last)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware, async under ASGI as well (WhiteNoise's own is sync only)."""

    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:  # DEBUG only: looks the file up on disk
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's, but a JSON answer of the API gets one fixed policy that allows nothing
    (it is data, never a page): building the site's policy for every answer was 4 % of a
    filing's CPU in the web process. Pages (the API's docs too) keep the site's policy."""

    JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"

    def process_response(self, request, response):
        if is_api(request) and response.get("Content-Type", "").startswith("application/json"):
            response.headers.setdefault(HEADER, self.JSON_POLICY)
            return response
        return super().process_response(request, response)


class ApiErrorsMiddleware(BothModes):
    def call(self, request):
        if not is_api(request):
            return self.get_response(request)
        if _content_length(request) > limits.MAX_REQUEST_BYTES:
            return _too_large(limits.MAX_REQUEST_BYTES)
        return _json_errors(self.get_response(request))

    async def __acall__(self, request):
        if not is_api(request):
            return await self.get_response(request)
        if _content_length(request) > limits.MAX_REQUEST_BYTES:
            return _too_large(limits.MAX_REQUEST_BYTES)
        return _json_errors(await self.get_response(request))

    def process_exception(self, request, exception):
        # Django reports a body past DATA_UPLOAD_MAX_MEMORY_SIZE as a 400 page; it is a 413.
        if is_api(request) and isinstance(exception, RequestDataTooBig):
            return _too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None


def _json_errors(response):
    if response.status_code < 400 or _is_deliberate(response):
        return response
    return json_error(response.status_code, **_kept_headers(response))


def _too_large(limit: int) -> JsonResponse:
    megabytes = limit // (1024 * 1024)
    return json_error(413, f"The request body is larger than {megabytes} MB (docs/api-limits.md).")


def _is_deliberate(response) -> bool:
    """Rendered by DRF (it chose the format), or JSON already."""
    if hasattr(response, "accepted_renderer"):
        return True
    content_type = response.get("Content-Type", "")
    return "json" in content_type


def _kept_headers(response) -> dict:
    """Headers a client needs to act on the error (405's Allow, 503's Retry-After)."""
    return {
        name.replace("-", "_"): response[name]
        for name in ("Allow", "Retry-After", "WWW-Authenticate")
        if response.has_header(name)
    }


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
