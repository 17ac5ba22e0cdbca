"""API errors are JSON, always: deeply nested or oversized bodies, unknown paths, wrong
methods and server errors, with DEBUG on or off; a DEBUG page never reaches an API client."""

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from port import limits
from port.urls import urlpatterns as site_urls

NESTED = b"[" * 100_000 + b"]" * 100_000


@api_view(["POST"])
@permission_classes([AllowAny])
def _broken(request):
    raise RuntimeError("SECRET_KEY=do-not-show")


urlpatterns = [path("api/v1/test-broken/", _broken), *site_urls]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/declarations/",
        "/api/v1/declarations/batch/",
        "/api/v1/port-calls/",
        "/api/v1/vessel-filings/",
        "/api/v1/certificates/",
        "/api/v1/auth/token/",
    ],
)
def test_deeply_nested_json_is_a_400_on_every_endpoint(demo, api_for, path):
    response = api_for(demo.importer).generic("POST", path, NESTED, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "nests deeper than 32 levels" in response.json()["detail"]


def test_json_nested_within_the_limit_is_read(demo, api_for):
    body = b'{"items": ' + b"[" * 30 + b"]" * 30 + b', "s": "[[[[{{{{"}'

    response = api_for(demo.importer).generic(
        "POST", "/api/v1/declarations/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" not in response.json()  # field errors: the body was parsed


def test_a_json_body_over_the_limit_is_a_json_413(demo, api_for):
    body = b'{"bl_number": "' + b"x" * (limits.MAX_JSON_BYTES + 1) + b'"}'

    response = api_for(demo.importer).generic(
        "POST", "/api/v1/declarations/", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than 5 MB (docs/api-limits.md)."
    }


def test_a_request_over_the_upload_limit_is_refused_before_it_is_read(demo, client):
    client.force_login(demo.importer)

    response = client.generic(
        "POST",
        "/api/v1/declaration-uploads/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(limits.MAX_REQUEST_BYTES + 1),
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_paths_and_methods_answer_json(demo, api_for, settings, debug):
    settings.DEBUG = debug
    api = api_for(demo.importer)

    missing = api.get("/api/v1/no-such-thing/", HTTP_ACCEPT="text/html")
    wrong_method = api.delete("/api/v1/port-calls/")

    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    assert wrong_method.status_code == 405
    assert wrong_method["Content-Type"] == "application/json"


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("accept", ["text/html", "application/json", "*/*"])
def test_a_server_error_on_the_api_is_json_without_a_traceback(client, debug, accept):
    client.raise_request_exception = False

    with override_settings(ROOT_URLCONF=__name__, DEBUG=debug):
        response = client.post("/api/v1/test-broken/", {}, HTTP_ACCEPT=accept)

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert b"SECRET_KEY" not in response.content


def test_pages_keep_their_html_errors(demo, client):
    client.force_login(demo.importer)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_cusdec_over_the_edifact_limit_is_a_413(demo, api_for):
    from port import uploads

    body = b"UNH+1+CUSDEC:D:96B:UN'" + b"FTX+AAA+++x'" * (uploads.max_bytes("edifact") // 12)

    response = api_for(demo.importer).generic(
        "POST", "/api/v1/declarations/cusdec/", body, content_type="application/edifact"
    )

    assert response.status_code == 413


@pytest.mark.django_db
def test_under_asgi_the_middleware_runs_async_and_api_errors_stay_json(demo):
    """Every middleware is async-capable, so Django runs the chain on the event loop and
    hops to a thread only for the view; the JSON errors and request ids are the same."""
    from asgiref.sync import async_to_sync
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.test import AsyncClient
    from django.utils.module_loading import import_string

    assert all(import_string(m).async_capable for m in settings.MIDDLEWARE)
    handler = ASGIHandler()
    assert handler._middleware_chain is not None

    async def call():
        client = AsyncClient()
        return (
            await client.get("/api/v1/nothing-here/"),
            await client.get("/static/nothing.css"),
            await client.get("/healthz"),
        )

    missing, static, health = async_to_sync(call)()
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert len(missing["X-Request-ID"]) == 32
    assert static.status_code == 404
    assert health.status_code in (200, 503)
