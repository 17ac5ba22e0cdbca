from celery import shared_task


@shared_task
def notifications_make_task() -> None:
    from notifications import services

    services.notifications_make()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def notifications_deliver_task(first_event_id: int, last_event_id: int) -> None:
    from notifications import services

    services.notifications_deliver(first_event_id=first_event_id, last_event_id=last_event_id)


@shared_task
def notifications_sweep_task() -> None:
    """E-mails and SMS whose delivery task was lost or gave up (idempotent)."""
    from notifications import services

    services.notifications_deliver()
