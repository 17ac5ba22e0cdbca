"""The WSGI server's client address and scheme behind the proxy (port/proxy_headers.py),
as uvicorn's --proxy-headers --forwarded-allow-ips gives them to the ASGI server."""

import pytest

from port.proxy_headers import ProxyHeaders, client_address, trusted_networks


def _seen(allow: str, **environ) -> dict:
    seen = {}

    def app(env, start_response):
        seen.update(env)
        return [b""]

    ProxyHeaders(app, allow=allow)({"wsgi.url_scheme": "http", **environ}, None)
    return seen


def test_from_a_trusted_proxy_the_client_and_scheme_are_its_headers():
    seen = _seen(
        "172.31.250.0/24",
        REMOTE_ADDR="172.31.250.7",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"


def test_from_any_other_peer_the_headers_are_dropped():
    seen = _seen(
        "172.31.250.0/24",
        REMOTE_ADDR="198.51.100.4",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert seen["REMOTE_ADDR"] == "198.51.100.4"
    assert seen["wsgi.url_scheme"] == "http"
    assert "HTTP_X_FORWARDED_FOR" not in seen
    assert "HTTP_X_FORWARDED_PROTO" not in seen


def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy():
    networks = trusted_networks("10.0.0.0/8, 127.0.0.1")
    # A client may send its own X-Forwarded-For: only what the proxies appended counts.
    assert client_address("1.2.3.4, 203.0.113.9, 10.1.2.3", networks) == "203.0.113.9"
    assert client_address("10.0.0.5, 10.1.2.3", networks) == "10.0.0.5"
    assert client_address("", networks) is None
    assert client_address("not-an-address, 10.1.2.3", networks) == "not-an-address"


def test_star_trusts_every_peer_and_a_scheme_other_than_http_is_ignored():
    seen = _seen(
        "*",
        REMOTE_ADDR="198.51.100.4",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_FORWARDED_PROTO="javascript",
    )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "http"


def test_a_malformed_setting_fails_at_start():
    with pytest.raises(ValueError, match="10.0.0.0/33"):
        trusted_networks("10.0.0.0/33")
