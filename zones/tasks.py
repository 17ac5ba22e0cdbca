from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=240)
def reconcile_task() -> dict:
    from zones import reconcile  # tasks are entry points; the module does the work

    return reconcile.reconcile()  # idempotent: an alarm per discrepancy, raised once
