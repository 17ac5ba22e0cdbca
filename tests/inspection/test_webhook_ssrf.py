"""Issue 12, SSRF: a terminal's webhook reaches public addresses only, checked when the
URL is registered and again at each delivery after resolving the name, connecting to the
checked address; an allow-list lets an on-premise terminal in. Traffic stays on loopback."""

import pytest

from inspection import diversion
from inspection.models import WebhookDelivery, WebhookEndpoint
from tests.inspection.test_diversion import receiver  # noqa: F401 - a fixture

WEBHOOK = "/api/v1/diversion/webhook/"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1:8000/",
        "http://2130706433/",
        "http://localhost:6379/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:8000/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://240.0.0.1/",
        "https://metadata.example/",  # a name that resolves to a private address
    ],
)
def test_a_webhook_to_a_private_destination_is_refused_at_registration(
    demo, api_for, public_dns, url
):
    public_dns.names["metadata.example"] = ["169.254.169.254"]

    response = api_for(demo.terminal).post(WEBHOOK, {"url": url}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["url"]
    assert WebhookEndpoint.objects.exists() is False


def test_a_name_with_one_private_address_among_public_ones_is_refused(demo, api_for, public_dns):
    public_dns.names["tos.example"] = ["93.184.215.14", "10.0.0.5"]

    response = api_for(demo.terminal).post(
        WEBHOOK, {"url": "https://tos.example/hook"}, format="json"
    )

    assert response.status_code == 400
    assert WebhookEndpoint.objects.exists() is False


def test_the_allow_list_lets_an_on_premise_terminal_register(demo, api_for, public_dns, settings):
    public_dns.names["tos.haitian.example"] = ["10.20.0.7"]
    settings.WEBHOOK_ALLOWED_HOSTS = ["tos.haitian.example", "192.168.50.0/24"]
    terminal = api_for(demo.terminal)

    by_name = terminal.post(WEBHOOK, {"url": "https://tos.haitian.example/hook"}, format="json")
    by_network = terminal.post(WEBHOOK, {"url": "http://192.168.50.9:8080/"}, format="json")
    outside = terminal.post(WEBHOOK, {"url": "http://192.168.51.9/"}, format="json")

    assert (by_name.status_code, by_network.status_code, outside.status_code) == (200, 200, 400)
    assert WebhookEndpoint.objects.get().url == "http://192.168.50.9:8080/"


def _delivery_to(demo, url: str) -> WebhookDelivery:
    """An endpoint stored as it was before the checks (or whose name changed since)."""
    WebhookEndpoint.objects.create(
        organisation=demo.terminal.memberships.get().organisation, url=url, secret="s3cret"
    )
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"])
    return WebhookDelivery.objects.get()


def test_delivery_to_loopback_is_refused_without_a_connection(demo, receiver, settings):  # noqa: F811
    url, handler = receiver
    settings.WEBHOOK_ALLOWED_HOSTS = []
    delivery = _delivery_to(demo, url)

    delivery = diversion.webhook_deliver(delivery_id=delivery.pk)

    assert handler.received == []
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "public addresses only" in delivery.last_error


def test_dns_rebinding_after_registration_reaches_nothing(
    demo,
    api_for,
    public_dns,
    receiver,  # noqa: F811
    settings,
):
    url, handler = receiver
    settings.WEBHOOK_ALLOWED_HOSTS = []
    port = url.split(":")[2].split("/")[0]
    registered = api_for(demo.terminal).post(
        WEBHOOK, {"url": f"http://tos.example:{port}/portwise"}, format="json"
    )
    assert registered.status_code == 200
    public_dns.names["tos.example"] = ["127.0.0.1"]  # the name now points inside
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"])

    delivery = diversion.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert handler.received == []
    assert "public addresses only" in delivery.last_error


def test_delivery_connects_to_the_address_it_checked(demo, public_dns, receiver, settings):  # noqa: F811
    url, handler = receiver
    port = url.split(":")[2].split("/")[0]
    public_dns.names["tos.example"] = ["127.0.0.1"]
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    handler.failures = 0
    delivery = _delivery_to(demo, f"http://tos.example:{port}/portwise?site=1")

    delivery = diversion.webhook_deliver(delivery_id=delivery.pk)

    assert (delivery.status, delivery.last_error) == ("delivered", "")
    assert public_dns.asked == ["tos.example"]  # resolved once: no second look-up to race
    headers, body = handler.received[0]
    assert headers["Host"] == f"tos.example:{port}"
    assert headers["X-Portwise-Signature"].startswith("sha256=")
    assert b"diversion.instructions_planned" in body
