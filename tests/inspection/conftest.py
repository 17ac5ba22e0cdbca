import socket

import pytest


class FakeDns:
    """The outside world's DNS for names under .example; other names resolve as usual.

    `names` maps a name to the addresses it resolves to now; `asked` lists the names
    looked up, in order (a DNS-rebinding test changes the answer between two look-ups).
    """

    def __init__(self, real):
        self.real = real
        self.names: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def getaddrinfo(self, host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example"):
            self.asked.append(host)
            addresses = self.names.get(host, ["93.184.215.14"])
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in addresses
            ]
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def public_dns(monkeypatch):
    """Names under .example resolve to a public address (or to `names`), without traffic."""
    dns = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns
