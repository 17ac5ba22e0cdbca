from celery import shared_task


@shared_task
def partitions_ensure_task() -> None:
    """Every partitioned table (the timeline, the sorting line's scans) has its months."""
    from port import partitions

    partitions.partitions_ensure()


@shared_task
def idempotency_records_purge_task() -> None:
    from port import retention

    retention.idempotency_records_purge()


@shared_task
def outbox_sent_purge_task() -> None:
    from port import retention

    retention.outbox_sent_purge()
