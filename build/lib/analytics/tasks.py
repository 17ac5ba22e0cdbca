from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def rollups_consume_task() -> None:
    from analytics import services  # tasks are entry points; the service does the work

    # Bounded: a beat tick folds in at most this many batches, the next tick goes on.
    for _ in range(20):
        if not services.rollups_consume():
            break
