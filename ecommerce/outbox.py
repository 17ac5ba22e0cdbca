"""Work queued by a write, after commit: through port.outbox when it is there (a row in
the same transaction, relayed even if Redis was down), else straight after commit."""

from functools import partial

from django.db import transaction


def enqueue(task_name: str, **kwargs) -> None:
    try:
        from port.outbox import enqueue as outbox_enqueue
    except ImportError:
        from port.celery import app

        transaction.on_commit(partial(app.send_task, task_name, kwargs=kwargs))
        return
    outbox_enqueue(task_name, **kwargs)
