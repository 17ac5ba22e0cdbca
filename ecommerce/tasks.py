from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=300)
def batch_decide_task(batch_id: int) -> None:
    from ecommerce import decision  # tasks are entry points; the service does the work

    decision.batch_decide(batch_id=batch_id)


@shared_task
def lists_decide_stuck_task() -> None:
    from ecommerce import decision

    decision.batches_decide_stuck()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def month_summarise_task() -> None:
    from ecommerce import summaries  # the service does the work; a month is summarised once

    summaries.month_summarise_previous()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tax_months_task() -> None:
    from ecommerce import tax_months  # idempotent: a month is issued once, overdue once

    tax_months.tax_months_issue()
    tax_months.tax_months_overdue_sweep()
