"""The client's address and scheme behind the proxy, for the WSGI server (granian).

uvicorn rewrites them itself (`--proxy-headers --forwarded-allow-ips`); granian does not,
so the WSGI application does what uvicorn's ProxyHeadersMiddleware does, with the same
setting: FORWARDED_ALLOW_IPS, addresses or networks separated by commas ("*" for any),
127.0.0.1 by default. From a trusted peer, X-Forwarded-Proto gives the scheme and
X-Forwarded-For the client: the rightmost address that is not itself a trusted proxy. From
any other peer both headers are dropped, so that nobody can claim to be another address
(the sign-in throttle counts by address) or to have come over HTTPS.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> list[Network] | None:
    """The networks FORWARDED_ALLOW_IPS names; None for "*" (every peer)."""
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    if "*" in entries:
        return None
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _trusted(address: str, networks: list[Network] | None) -> bool:
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(forwarded_for: str, networks: list[Network] | None) -> str | None:
    """The rightmost address of X-Forwarded-For that is not a trusted proxy (the leftmost
    when every one is)."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else None


class ProxyHeaders:
    """WSGI middleware: REMOTE_ADDR and wsgi.url_scheme from a trusted proxy's headers."""

    def __init__(self, app: Callable, allow: str | None = None) -> None:
        self.app = app
        self.networks = trusted_networks(
            allow if allow is not None else os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if _trusted(environ.get("REMOTE_ADDR", ""), self.networks):
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            client = client_address(environ.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
            if client:
                environ["REMOTE_ADDR"] = client
        else:
            environ.pop("HTTP_X_FORWARDED_PROTO", None)
            environ.pop("HTTP_X_FORWARDED_FOR", None)
        return self.app(environ, start_response)
