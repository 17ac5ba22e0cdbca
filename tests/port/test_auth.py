"""Issue 12, brute force: sign-ins are throttled per account and address (django-axes,
port/auth.py); API tokens expire, are new at each sign-in and die at sign-out."""

from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PASSWORD = "portwise-demo"
TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/declarations/"
# A refused or missing token answers 401 with the Token challenge (the token scheme comes
# first in DEFAULT_AUTHENTICATION_CLASSES).
ATTACKER = "203.0.113.7"
USER_AT_HOME = "198.51.100.20"


def sign_in_page(client, username, password, address):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def token_for(username, password=PASSWORD, address=USER_AT_HOME):
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def test_100_wrong_passwords_on_the_login_page_are_locked_out(demo, client):
    answers = [
        sign_in_page(client, "importer", f"guess-{n}", ATTACKER).status_code for n in range(100)
    ]

    assert answers[:4] == [200] * 4  # the form again, with its error
    assert set(answers[4:]) == {429}
    locked = sign_in_page(client, "importer", PASSWORD, ATTACKER)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_locked_account_still_signs_in_from_another_address(demo, client):
    for n in range(100):
        sign_in_page(client, "importer", f"guess-{n}", ATTACKER)

    page = sign_in_page(client, "importer", PASSWORD, USER_AT_HOME)
    api = token_for("importer", address=USER_AT_HOME)

    assert page.status_code == 302
    assert api.status_code == 200


def test_100_wrong_passwords_on_the_token_endpoint_get_json_429(demo):
    answers = [token_for("importer", f"guess-{n}", ATTACKER) for n in range(100)]

    assert [a.status_code for a in answers[:4]] == [400] * 4
    assert {a.status_code for a in answers[4:]} == {429}
    assert answers[-1].json()["code"] == "locked_out"
    assert answers[-1]["Retry-After"] == "900"
    assert token_for("importer", PASSWORD, ATTACKER).status_code == 429
    assert token_for("importer", PASSWORD, USER_AT_HOME).status_code == 200


def test_an_address_guessing_many_accounts_is_locked_for_all_of_them(demo, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 25
    for n in range(25):  # one or two guesses per account: under the per-account limit
        token_for(["importer", "exporter", "broker", "officer", "agent"][n % 5], f"g{n}", ATTACKER)

    assert token_for("terminal", PASSWORD, ATTACKER).status_code == 429
    assert token_for("terminal", PASSWORD, USER_AT_HOME).status_code == 200


def test_a_token_answer_says_when_it_expires_and_each_sign_in_rotates_it(demo):
    first = token_for("importer").json()
    second = token_for("importer").json()

    assert set(first) == {"token", "expires"}
    assert first["token"] != second["token"]
    assert Token.objects.filter(user=demo.importer).count() == 1
    old, new = APIClient(), APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    new.credentials(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert old.get(ME).status_code == 401
    assert new.get(ME).status_code == 200


def test_an_expired_token_is_refused(demo, settings):
    answer = token_for("importer").json()
    Token.objects.filter(key=answer["token"]).update(
        created=Token.objects.get(key=answer["token"]).created
        - timedelta(seconds=settings.API_TOKEN_LIFETIME + 1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer['token']}")

    response = client.get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "expired" in response.json()["detail"]


def test_api_logout_revokes_the_token(demo):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for('importer').json()['token']}")

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(ME).status_code == 401
    assert Token.objects.filter(user=demo.importer).exists() is False


@pytest.mark.parametrize("logout", ["/logout/", "/api/v1/auth/logout/"])
def test_signing_out_of_the_site_revokes_the_token(demo, client, logout):
    key = token_for("importer").json()["token"]
    sign_in_page(client, "importer", PASSWORD, USER_AT_HOME)

    assert client.post(logout).status_code in {204, 302}

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(ME).status_code == 401
    assert client.get("/declarations/").status_code == 302  # the session is gone too
