"""What the platform keeps only for a while: idempotency records (a retry comes within
minutes; a week is generous) and sent outbox rows (port/outbox.py). Each app purges its own
(inspection: webhook deliveries)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from port.models import IdempotencyRecord


def idempotency_records_purge(*, now=None) -> int:
    """Delete idempotency records older than IDEMPOTENCY_RETENTION_DAYS; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.IDEMPOTENCY_RETENTION_DAYS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def outbox_sent_purge(*, now=None) -> int:
    """Delete outbox rows sent more than OUTBOX_RETENTION_HOURS ago; return how many."""
    from port import outbox

    return outbox.purge_sent(now=now)
