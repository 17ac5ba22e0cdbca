from celery import shared_task


@shared_task(name="inspection.assess_declarations", acks_late=True, reject_on_worker_lost=True)
def assess_declarations_task(declaration_ids: list[int], actor_id: int | None = None) -> dict:
    """Assess a batch of declarations (one filing, a batch of filings): what filings queue
    by this name through the outbox. Idempotent, which is what makes acks_late safe."""
    from inspection import assessment  # tasks are entry points; the service does the work

    return assessment.assess_declarations(declaration_ids=declaration_ids, actor_id=actor_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def decisions_make_for_port_call_task(port_call_id: int, actor_id: int | None = None) -> dict:
    """Assess a vessel call's open declarations in one pass; a second run changes nothing."""
    from inspection import assessment

    return assessment.assess_port_call(port_call_id=port_call_id, actor_id=actor_id)


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
