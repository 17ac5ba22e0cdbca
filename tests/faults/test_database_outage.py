"""PostgreSQL stops under a running Portwise: the API answers a JSON 503 with Retry-After,
pages a short 503 page in the reader's language, and once PostgreSQL is back the same
server process serves again, with nothing restarted."""

import re
import time
import uuid

import requests

from tests.conftest import filing
from tests.faults.conftest import token_for

API = "/api/v1/declarations/"


def sign_in(base: str, username: str, language: str = "en") -> requests.Session:
    session = requests.Session()
    session.cookies.set("django_language", language)
    page = session.get(f"{base}/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/login/",
        data={"username": username, "password": "portwise-demo", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]
    assert "sessionid" in session.cookies
    return session


def assert_json_503(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Retry-After"]) > 0
    assert "database" in response.json()["detail"]


def test_while_postgresql_is_down_every_answer_is_a_503_and_then_it_serves_again(database, web):
    token = token_for(web, "importer")
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    port_call = database.query("SELECT id FROM port_portcall WHERE voyage = '062E'")[0][0]
    english, chinese = sign_in(web, "importer", "en"), sign_in(web, "importer", "zh-hans")
    assert api.get(f"{web}{API}", timeout=10).status_code == 200
    assert english.get(f"{web}/port-calls/", timeout=10).status_code == 200

    database.stop()
    try:
        # the API, signed in and not, reading and filing: JSON 503s, never a 500 or HTML
        assert_json_503(api.get(f"{web}{API}", timeout=30))
        body = filing(port_call, bl_number="OUTAGE0000001")
        key = {"Idempotency-Key": f"outage-{uuid.uuid4()}"}
        assert_json_503(api.post(f"{web}{API}", json=body, headers=key, timeout=30))
        anonymous = requests.get(f"{web}/api/v1/port-calls/", timeout=30)  # needs no query
        assert anonymous.status_code == 401
        assert anonymous.json()["detail"]
        assert_json_503(
            requests.post(
                f"{web}/api/v1/auth/token/",
                data={"username": "importer", "password": "portwise-demo"},
                timeout=30,
            )
        )
        # pages: the short page in the reader's language, in the site's style
        page = english.get(f"{web}/port-calls/", timeout=30)
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Back in a moment" in page.text
        assert "/static/css/portwise" in page.text
        assert "Traceback" not in page.text
        assert int(page.headers["Retry-After"]) > 0
        page = chinese.get(f"{web}/port-calls/", timeout=30)
        assert page.status_code == 503
        assert "稍后即可恢复" in page.text
        # the health endpoints say so too
        assert requests.get(f"{web}/readyz", timeout=30).status_code == 503
        assert requests.get(f"{web}/healthz", timeout=30).json()["database"].startswith("error")
        assert requests.get(f"{web}/livez", timeout=30).status_code == 200
    finally:
        database.start()

    # Back: the same server process files and serves, at the first try.
    started = time.monotonic()
    response = api.post(f"{web}{API}", json=body, headers=key, timeout=30)
    assert response.status_code == 201, response.text[:500]
    assert time.monotonic() - started < 10
    assert english.get(f"{web}/port-calls/", timeout=10).status_code == 200
    assert chinese.get(f"{web}/port-calls/", timeout=10).status_code == 200
    assert requests.get(f"{web}/readyz", timeout=10).status_code == 200
    filed = database.query(
        "SELECT count(*) FROM declarations_declaration WHERE bl_number = 'OUTAGE0000001'"
    )
    assert filed == [(1,)]  # the refused attempt wrote nothing; the retry wrote it once
