"""Finished terminal webhooks are kept WEBHOOK_RETENTION_DAYS; pending ones always."""

from datetime import timedelta

from django.utils import timezone

from inspection import diversion
from inspection.models import WebhookDelivery, WebhookEndpoint
from port.models import Organisation


def test_finished_webhook_deliveries_are_purged_after_their_retention(demo, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    terminal = Organisation.objects.get(
        kind=Organisation.Kind.TERMINAL_OPERATOR, name__contains="Haitian"
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=terminal, url="https://t.example/h", secret="s"
    )
    S = WebhookDelivery.Status
    made = {
        (status, age): WebhookDelivery.objects.create(
            endpoint=endpoint, event="e", payload={}, status=status
        )
        for status in (S.DELIVERED, S.FAILED, S.PENDING)
        for age in (1, 31)
    }
    for (_status, age), delivery in made.items():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            updated_at=timezone.now() - timedelta(days=age)
        )

    assert diversion.webhook_deliveries_purge() == 2
    left = set(WebhookDelivery.objects.values_list("status", "pk"))
    assert (S.PENDING, made[(S.PENDING, 31)].pk) in left
    assert len(left) == 4
