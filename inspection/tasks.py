from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def webhook_deliver_task(delivery_id: int) -> None:
    from inspection import diversion  # tasks are entry points; the service does the work

    diversion.webhook_deliver(delivery_id=delivery_id)


@shared_task
def webhook_sweep_task() -> None:
    """Send every pending delivery that is due: the ones a lost task or a restart left."""
    from inspection import diversion

    for delivery_id in diversion.webhook_deliveries_due():
        webhook_deliver_task.delay(delivery_id)
