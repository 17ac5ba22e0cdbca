"""A database that does not answer is a 503 at every depth where the first query runs, with
DEBUG on or off; never a 500 or a traceback. (tests/faults/test_database_outage.py stops a
real PostgreSQL under a real server.)"""

import contextlib

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import path
from rest_framework.authtoken.models import Token

from tests.conftest import filing


@contextlib.contextmanager
def database_down():
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=1)  # nothing listens there
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(demo):
    return Token.objects.get_or_create(user=demo.importer)[0].key


@pytest.mark.parametrize("debug", [False, True])
def test_the_api_answers_json_503_with_retry_after(demo, client, token, debug):
    port_call = demo.port_call.pk
    with override_settings(DEBUG=debug), database_down():
        read = client.get("/api/v1/declarations/", HTTP_AUTHORIZATION=f"Token {token}")
        filed = client.post(
            "/api/v1/declarations/",
            filing(port_call),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
            HTTP_IDEMPOTENCY_KEY="outage-1",
        )
    for response in (read, filed):
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        assert response["Retry-After"] == "5"
        assert "database is not answering" in response.json()["detail"]


@pytest.mark.parametrize("debug", [False, True])
def test_a_session_on_the_api_fails_in_the_middleware_and_is_still_a_json_503(demo, client, debug):
    client.force_login(demo.importer)
    with override_settings(DEBUG=debug), database_down():
        response = client.get("/api/v1/declarations/")
    assert response.status_code == 503
    assert response.json()["detail"]


@pytest.mark.parametrize(("language", "title"), [("en", "Back in a moment"), ("zh-hans", "稍后")])
def test_pages_get_a_short_503_page_in_the_readers_language(demo, client, language, title):
    client.force_login(demo.importer)
    client.cookies["django_language"] = language
    with override_settings(DEBUG=True), database_down():
        response = client.get("/port-calls/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert title in page
    assert "Traceback" not in page
    assert "portwise.css" in page


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken)]


@override_settings(ROOT_URLCONF=__name__)
def test_other_errors_stay_500s(demo, client):
    """Only an outage becomes a 503: a bug is still a bug."""
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
