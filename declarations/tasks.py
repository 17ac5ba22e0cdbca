from celery import current_app, shared_task

# Assessment belongs to the inspection app; filings queue it by this name (through the
# outbox), so that this app never imports that one.
ASSESS_DECLARATIONS = "inspection.assess_declarations"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def declaration_assess_task(declaration_id: int) -> None:
    """The old name of the assessment task, kept while filings still queue it: runs
    `inspection.assess_declarations` for the one declaration, in this worker."""
    current_app.tasks[ASSESS_DECLARATIONS](declaration_ids=[declaration_id])


@shared_task
def declaration_requeue_stuck_task() -> None:
    from declarations import services

    services.declaration_requeue_stuck()


@shared_task
def declaration_step2_sweep_task() -> None:
    from declarations import two_step

    two_step.declaration_step2_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def erp_upload_process_task(upload_id: int) -> None:
    from declarations import uploads

    uploads.erp_upload_process(upload_id=upload_id)
