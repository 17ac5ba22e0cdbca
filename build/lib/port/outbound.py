"""Requests Portwise sends to addresses its users give it (terminals' webhooks), safely.

A URL is checked when it is registered (`check_url`, a field-level 400) and again at
every delivery (`post`): the host name is resolved once, every address it resolves to
must be a public one, and the connection goes to that checked address (with the name in
the Host header and, for https, in SNI and the certificate check). So a name that later
resolves to 127.0.0.1 (DNS rebinding) gets nowhere, and no redirect is followed.

Refused: private, loopback, link-local (169.254.169.254, the cloud metadata service),
shared (100.64/10), multicast, reserved and unspecified addresses, IPv4 and IPv6, with
IPv4 addresses hidden in IPv6 ones (::ffff:127.0.0.1, 64:ff9b::/96 NAT64, 2002::/16 6to4)
judged as what they hide. settings.WEBHOOK_ALLOWED_HOSTS lets an on-premise terminal in:
its entries are host names (any address they resolve to is allowed) or networks in CIDR
notation (addresses inside them are allowed). docs/security.md.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The destination is not one Portwise sends to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the connection goes to


def check_url(url: str) -> Target:
    """Check a URL for registration; raises ValidationError naming why it is refused."""
    try:
        return resolve(url)
    except Refused as refused:
        raise ValidationError(str(refused), code="destination") from None


def resolve(url: str) -> Target:
    """Parse and resolve an http(s) URL to one checked address. Raises Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(_("Enter the http(s) address that receives the webhook.")) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Refused(_("Enter the http(s) address that receives the webhook."))
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(_("The host %(host)s cannot be found.") % {"host": host}) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    allowed = _allowed_host(host)
    for address in addresses:
        if not allowed and not is_public(address) and not _in_allowed_network(address):
            raise Refused(
                _(
                    "%(host)s is a private, loopback, link-local or reserved address; "
                    "webhooks go to public addresses only."
                )
                % {"host": host}
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def is_public(address: IPAddress) -> bool:
    """A unicast address on the public internet (what it hides, for IPv4-in-IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST to a checked address of the URL; returns the HTTP status.

    Raises Refused for a destination that is not allowed (before any connection), and
    OSError or http.client.HTTPException when the request fails.
    """
    target = resolve(url)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, timeout=timeout)
    connection.address = target.address
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    address = ""

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    address = ""

    def __init__(self, host, port, *, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _allow_list() -> list[str]:
    return [entry.strip().lower() for entry in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", [])]


def _allowed_host(host: str) -> bool:
    return host.lower().rstrip(".") in _allow_list()


def _in_allowed_network(address: IPAddress) -> bool:
    for entry in _allow_list():
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue  # a host name
        if address.version == network.version and address in network:
            return True
    return False
