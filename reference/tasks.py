from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=600)
def unlocode_shipped_import_task() -> int:
    """Load the UN/LOCODE edition shipped with the code (`make run` queues it at start, so the
    web serves at once while the worker loads 116,000 places). Idempotent: a no-op once loaded."""
    from reference import services

    return services.unlocode_load_shipped().rows
