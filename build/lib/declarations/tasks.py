from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def declaration_assess_task(declaration_id: int) -> None:
    from declarations import services  # tasks are entry points; the service does the work

    services.declaration_assess(declaration_id=declaration_id)


@shared_task
def declaration_requeue_stuck_task() -> None:
    from declarations import services

    services.declaration_requeue_stuck()


@shared_task
def declaration_step2_sweep_task() -> None:
    from declarations import services

    services.declaration_step2_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def erp_upload_process_task(upload_id: int) -> None:
    from declarations import uploads

    uploads.erp_upload_process(upload_id=upload_id)
