"""Beat sweepers: queue a task again for rows a lost task left behind (a worker killed
before it acknowledged, Redis restarted). The task must be idempotent."""

from functools import partial

from django.db import transaction


def requeue(ids: list[int], task) -> list[int]:
    """Queue `task` for each id, after the caller's transaction commits; returns the ids."""
    for pk in ids:
        transaction.on_commit(partial(task.delay, pk))
    return ids
