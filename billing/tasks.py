from celery import shared_task


@shared_task
def bills_make_task() -> None:
    from billing import services

    services.bills_make()


@shared_task
def bills_overdue_sweep_task() -> None:
    from billing import services

    services.bills_overdue_sweep()
