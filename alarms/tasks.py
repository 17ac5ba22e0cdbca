from celery import shared_task


@shared_task
def alarms_escalate_task() -> None:
    from alarms import services

    services.alarms_escalate()
