from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def port_call_berthed_task(port_call_id: int) -> None:
    """Runs the berthing hooks (the inspection app's diversion planning plugs in there)."""
    from shipping import services  # tasks are entry points; the service does the work

    services.port_call_berthed_hook(port_call_id=port_call_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def edifact_import_run_task(import_id: int) -> None:
    from shipping import edifact_imports

    edifact_imports.edifact_import_run(import_id=import_id)


@shared_task
def edifact_import_requeue_stuck_task() -> None:
    from shipping import edifact_imports

    edifact_imports.edifact_import_requeue_stuck()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dangerous_goods_check_task(port_call_id: int) -> None:
    from shipping import cargo

    cargo.dangerous_goods_check(port_call_id=port_call_id)
