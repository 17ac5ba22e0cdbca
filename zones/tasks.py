from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=240)
def reconcile_task() -> dict:
    from zones import reconcile  # tasks are entry points; the module does the work

    return reconcile.reconcile()  # idempotent: an alarm per discrepancy, raised once


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=600)
def zone_upload_process_task(upload_id: int) -> None:
    from zones.services import uploads

    uploads.zone_upload_process(upload_id=upload_id)  # resumes where the last commit left it


@shared_task(acks_late=True, time_limit=240)
def gate_pass_expire_task() -> int:
    from zones import services

    return services.gate_pass_expire_due()  # idempotent: only open passes past their time
