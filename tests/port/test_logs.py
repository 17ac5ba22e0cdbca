"""Issue 12, personal data: no password, token or identity number in any log line."""

import logging

import pytest

from port.logs import redact

RESIDENT_ID = "11010519491231002X"  # the standard's own example number


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("password=hunter2&next=/", "password=[redacted]&next=/"),
        (
            '{"password": "s3cret", "username": "bob"}',
            '{"password": "[redacted]", "username": "bob"}',
        ),
        ("document_number: E12345678", "document_number: [redacted]"),
        ("Authorization: Token 0123456789abcdef", "Authorization: [redacted] [redacted]"),
        (f"crew member {RESIDENT_ID} boarded", "crew member **************002X boarded"),
        ("declaration 531620261000000123 filed", "declaration 531620261000000123 filed"),
    ],
)
def test_redact_hides_secrets_and_id_numbers_but_keeps_declaration_numbers(line, expected):
    assert redact(line) == expected


def test_every_logger_redacts_as_the_record_is_made(caplog):
    caplog.set_level(logging.INFO)

    logging.getLogger("uvicorn.access").info('"POST /login/?password=%s HTTP/1.1" 200', "hunter2")
    try:
        raise ValueError(f"bad person {RESIDENT_ID}")
    except ValueError:
        logging.getLogger("celery.app.trace").exception("Task failed for %s", RESIDENT_ID)

    assert "hunter2" not in caplog.text
    assert RESIDENT_ID not in caplog.text
    assert RESIDENT_ID not in "".join(r.exc_text or "" for r in caplog.records)
    assert "**************002X" in caplog.text


def test_a_failed_sign_in_logs_neither_the_password_nor_the_token(demo, client, caplog):
    caplog.set_level(logging.DEBUG)

    client.post("/login/", {"username": "importer", "password": "wrong-hunter2"})
    answer = client.post(
        "/api/v1/auth/token/", {"username": "importer", "password": "portwise-demo"}
    )

    assert "wrong-hunter2" not in caplog.text
    assert "portwise-demo" not in caplog.text
    assert answer.json()["token"] not in caplog.text
