from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def decisions_make_for_port_call_task(port_call_id: int, actor_id: int | None = None) -> None:
    """Assess a vessel call's open declarations in one pass; a second run changes nothing,
    which is what makes acks_late safe."""
    from inspection import services  # tasks are entry points; the service does the work

    services.decisions_make_for_port_call(port_call_id=port_call_id, actor_id=actor_id)


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


@shared_task
def webhook_deliveries_purge_task() -> None:
    from inspection import diversion

    diversion.webhook_deliveries_purge()
