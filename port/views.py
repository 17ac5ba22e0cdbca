import redis
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from port.models import Organisation
from port.queries import port_call_choices, user_organisation_kinds

K = Organisation.Kind
# Where each kind of organisation starts its day.
HOME_FOR_KIND = {
    K.ENTERPRISE: "declarations:list",
    K.CUSTOMS_BROKER: "declarations:list",
    K.CUSTOMS_OFFICE: "inspection:queue",
    K.TERMINAL_OPERATOR: "inspection:hoisting",
    K.SHIPPING_AGENT: "shipping:filings",
    K.MARITIME_SAFETY: "shipping:filings",
    K.BORDER_CONTROL: "shipping:filings",
    K.PORT_AUTHORITY: "analytics:dashboard",
}


# Who follows where a vessel's containers go: its terminal, customs and the port authority.
DIVERSION_KINDS = {K.TERMINAL_OPERATOR, K.CUSTOMS_OFFICE, K.PORT_AUTHORITY}


@login_required
def home(request):
    for kind in sorted(user_organisation_kinds(request.user)):
        if kind in HOME_FOR_KIND:
            return redirect(HOME_FOR_KIND[kind])
    return redirect("port_calls")


@login_required
def port_calls(request):
    calls = port_call_choices().select_related("berth")
    sees_diversion = bool(user_organisation_kinds(request.user) & DIVERSION_KINDS)
    return render(
        request, "port/port_calls.html", {"calls": calls, "sees_diversion": sees_diversion}
    )


@never_cache
@require_GET
def healthz(request):
    """Database, Redis and a Celery worker; 200 only when all three answer."""
    checks = {"database": _check_database(), "redis": _check_redis(), "celery": _check_celery()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "failing", **checks}, status=200 if healthy else 503
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        return f"error: {error.__class__.__name__}"


def _check_redis() -> str:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()
        return "ok"
    except Exception as error:  # noqa: BLE001
        return f"error: {error.__class__.__name__}"


def _check_celery() -> str:
    from port.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as error:  # noqa: BLE001
        return f"error: {error.__class__.__name__}"
    return "ok" if replies else "error: no worker answered"
