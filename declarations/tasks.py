from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def declaration_assess_task(declaration_id: int) -> None:
    from declarations import services  # tasks are entry points; the service does the work

    services.declaration_assess(declaration_id=declaration_id)


@shared_task
def declaration_requeue_stuck_task() -> None:
    from declarations import services

    services.declaration_requeue_stuck()
