"""Group commit: single writes that arrive together are written in one transaction.

A web process answers several requests at once (threads). When one of them writes (a
declaration filed through the API), the others that arrive meanwhile with the same key (the
same filer) queue behind it instead of each opening a transaction of its own; the next to
go writes all of them at once, through the batch path, and each request is answered with
its own result once that transaction has committed. Nothing waits for company: a request
that finds nobody writing for its key writes at once (alone, or with whatever queued), so
a quiet port sees no delay and a busy one writes in batches that grow with the load
(PostgreSQL's own group commit, one level up).

Two writes that claim the same thing (a container, an idempotency reference) never share a
batch: the later one waits for the next, and so meets the first as a filing of the past,
exactly as it would have alone. A write that fails as a whole (the database gone) fails
every request of its batch with the same error.

Only a caller outside a transaction may be grouped: inside one, its writes must commit or
roll back with the caller's (`GroupCommit.run` writes alone then).
"""

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import connection

# A batch takes at most this many queued writes; the rest go in the next.
BATCH_MAX = 100


@dataclass(eq=False)
class _Slot:
    key: Hashable
    item: Any
    claims: frozenset
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs `write(items) -> results` (one result per item, in order, in one transaction)
    for single items that arrive together with the same key."""

    def __init__(self, write: Callable[[list], list], *, batch_max: int = BATCH_MAX):
        self._write = write
        self._batch_max = batch_max
        self._changed = threading.Condition()
        self._pending: list[_Slot] = []
        self._writing: set[Hashable] = set()  # keys a thread is writing a batch for
        self.batches = 0  # batches written by this process (for tests and the bench)
        self.items = 0

    def run(self, *, key: Hashable, item, claims=frozenset()):
        """Write `item` (alone, or with others of its key that queued meanwhile); its result.

        `claims` names what the item takes that no other item of its batch may (container
        numbers, references). Raises what the batch's write raised.
        """
        if connection.in_atomic_block:  # the caller's transaction decides: write alone
            return self._write([item])[0]
        slot = _Slot(key=key, item=item, claims=frozenset(claims))
        with self._changed:
            self._pending.append(slot)
        while True:
            with self._changed:
                while not slot.done and key in self._writing:
                    self._changed.wait()
                if slot.done:
                    return _outcome(slot)
                # This thread writes the next batch of its key: its own item, unless an
                # older one claims the same container (then that one's, and this again).
                batch = self._take(key)
                self._writing.add(key)
            self._write_batch(key, batch)

    def _write_batch(self, key: Hashable, batch: list[_Slot]) -> None:
        try:
            results = self._write([s.item for s in batch])
        except BaseException as error:
            for s in batch:
                s.error = error
        else:
            for s, result in zip(batch, results, strict=True):
                s.result = result
        with self._changed:
            self._writing.discard(key)
            for s in batch:
                s.done = True
            self.batches += 1
            self.items += len(batch)
            self._changed.notify_all()

    def _take(self, key: Hashable) -> list[_Slot]:
        """The queued items of `key`, oldest first, but none claiming what an earlier one
        of the batch claims (the caller holds the lock; its own slot is queued)."""
        batch, claimed, rest = [], set(), []
        for slot in self._pending:
            if slot.key == key and len(batch) < self._batch_max and claimed.isdisjoint(slot.claims):
                batch.append(slot)
                claimed |= slot.claims
            else:
                rest.append(slot)
        self._pending = rest
        return batch


def _outcome(slot: _Slot):
    if slot.error is not None:
        raise slot.error
    return slot.result
