"""What operators watch: Prometheus metrics, a request id in every log line (carried into
the Celery tasks a request queues), JSON logs, and an optional error-tracking hook.

Metrics (served at /metrics, which the proxy keeps off the Internet):
- ``portwise_http_requests_total{method,route,status}`` and
  ``portwise_http_request_seconds{method,route}``: every request, by URL pattern;
- ``portwise_task_seconds{task,queue}`` and ``portwise_task_failures_total{task,queue}``;
- ``portwise_queue_depth{queue}`` and ``portwise_outbox_pending`` /
  ``portwise_outbox_oldest_seconds``: read at scrape time;
- ``portwise_websocket_connections``: open /ws/live/ sockets.
With several processes per host (uvicorn workers, Celery's prefork pool), set
PROMETHEUS_MULTIPROC_DIR to an empty folder shared by them; /metrics then adds them up.
"""

import logging
import os
import time
import uuid
from contextvars import ContextVar

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from port.middleware import BothModes

request_id: ContextVar[str] = ContextVar("request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"

HTTP_REQUESTS = Counter(
    "portwise_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "portwise_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_SECONDS = Histogram(
    "portwise_task_seconds",
    "Time a Celery task ran",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
TASK_FAILURES = Counter(
    "portwise_task_failures_total", "Celery tasks that failed", ["task", "queue"]
)
WEBSOCKETS = Gauge(
    "portwise_websocket_connections", "Open /ws/live/ connections", multiprocess_mode="livesum"
)


# --- requests ------------------------------------------------------------------------------


class RequestIdMiddleware(BothModes):
    """Takes the proxy's X-Request-ID (or makes one), puts it on every log line of the
    request and on the response."""

    def call(self, request):
        value, token = _request_id_begin(request)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = value
        return response

    async def __acall__(self, request):
        value, token = _request_id_begin(request)
        try:
            response = await self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = value
        return response


def _request_id_begin(request):
    given = request.headers.get(REQUEST_ID_HEADER, "")
    value = given if 8 <= len(given) <= 64 and given.isascii() else uuid.uuid4().hex
    return value, request_id.set(value)


class MetricsMiddleware(BothModes):
    def call(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        _observe(request, response, started)
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        _observe(request, response, started)
        return response


def _observe(request, response, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = f"/{match.route}" if match is not None and match.route else "unmatched"
    HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (the request's, or the task's that it queued)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


# --- tasks ---------------------------------------------------------------------------------


def connect_celery_signals() -> None:
    from celery import signals

    started: dict[str, float] = {}

    @signals.before_task_publish.connect(weak=False)
    def _carry_request_id(headers=None, **kwargs):
        if headers is not None and request_id.get() != "-":
            headers.setdefault("request_id", request_id.get())

    @signals.task_prerun.connect(weak=False)
    def _start(task_id=None, task=None, **kwargs):
        started[task_id] = time.perf_counter()
        request_id.set(getattr(task.request, "request_id", None) or f"task-{task_id[:12]}")

    @signals.task_postrun.connect(weak=False)
    def _finish(task_id=None, task=None, state=None, **kwargs):
        began = started.pop(task_id, None)
        queue = (task.request.delivery_info or {}).get("routing_key") or "-"
        if began is not None:
            TASK_SECONDS.labels(task.name, queue).observe(time.perf_counter() - began)
        if state == "FAILURE":
            TASK_FAILURES.labels(task.name, queue).inc()
        request_id.set("-")


# --- scrape-time figures and the endpoint ----------------------------------------------------


class BacklogCollector:
    """Queue depths and the outbox backlog, read when Prometheus scrapes."""

    def collect(self):
        from port import health

        depth = GaugeMetricFamily("portwise_queue_depth", "Messages waiting", labels=["queue"])
        for queue, count in health._queue_depths().items():
            if isinstance(count, int):
                depth.add_metric([queue], count)
        yield depth
        backlog = health._outbox_lag()
        if isinstance(backlog.get("pending"), int):
            yield GaugeMetricFamily(
                "portwise_outbox_pending", "Outbox rows not yet sent", value=backlog["pending"]
            )
            yield GaugeMetricFamily(
                "portwise_outbox_oldest_seconds",
                "Age of the oldest unsent outbox row",
                value=backlog.get("oldest_seconds") or 0,
            )


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


_backlog = BacklogCollector()


@never_cache
@require_GET
def metrics(request):
    registry = _registry()
    body = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(_backlog)
    return HttpResponse(body + generate_latest(extra), content_type=CONTENT_TYPE_LATEST)
