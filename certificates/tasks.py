from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def mailing_advance_task(mailing_id: int) -> None:
    from certificates import mailings  # tasks are entry points; the service does the work

    mailings.mailing_advance(mailing_id=mailing_id)


@shared_task
def mailings_advance_due_task() -> None:
    from certificates import mailings

    mailings.mailings_advance_due()
