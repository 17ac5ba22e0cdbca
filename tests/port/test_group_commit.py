"""Group commit: single writes that arrive while one of their key is being written go in the
next batch together; claims keep two writes of the same thing apart; errors stay per batch."""

import threading
import time

import pytest

from port.group_commit import GroupCommit


class Recorder:
    """A write that records its batches and, for the first, waits until released."""

    def __init__(self, fail_on=None):
        self.batches = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(5)
        if self.fail_on in items:
            raise RuntimeError("the database went away")
        return [f"filed {item}" for item in items]


def run_in_threads(group, calls):
    """Start `group.run(**call)` for each call in its own thread; their outcomes by item."""
    outcomes = {}

    def run(call):
        try:
            outcomes[call["item"]] = group.run(**call)
        except RuntimeError as error:
            outcomes[call["item"]] = error

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    return threads, outcomes


def queued(group, count, timeout=5):
    deadline = time.monotonic() + timeout
    while len(group._pending) < count:
        assert time.monotonic() < deadline, "the writes never queued"
        time.sleep(0.005)


def finish(threads):
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def test_writes_that_arrive_while_one_is_written_go_together_in_the_next_batch():
    write = Recorder()
    group = GroupCommit(write)
    first, first_outcome = run_in_threads(group, [{"key": "u1", "item": "a"}])
    assert write.started.wait(5)  # "a" alone: nobody was writing, so it did not wait

    rest, outcomes = run_in_threads(group, [{"key": "u1", "item": i} for i in "bcd"])
    queued(group, 3)
    write.release.set()
    finish(first + rest)

    assert write.batches[0] == ["a"]
    assert sorted(write.batches[1]) == ["b", "c", "d"]
    assert first_outcome == {"a": "filed a"}
    assert outcomes == {i: f"filed {i}" for i in "bcd"}  # each its own answer
    assert (group.batches, group.items) == (2, 4)


def test_two_writes_claiming_the_same_container_never_share_a_batch():
    write = Recorder()
    group = GroupCommit(write)
    first, _ = run_in_threads(group, [{"key": "u1", "item": "a"}])
    assert write.started.wait(5)
    calls = [
        {"key": "u1", "item": "b", "claims": {"MSCU1234565"}},
        {"key": "u1", "item": "c", "claims": {"MSCU1234565", "TGHU0000011"}},
        {"key": "u1", "item": "d", "claims": {"TGHU0000029"}},
    ]
    rest, outcomes = run_in_threads(group, calls)
    queued(group, 3)
    write.release.set()
    finish(first + rest)

    for batch in write.batches:
        assert not ({"b", "c"} <= set(batch))
    assert outcomes == {i: f"filed {i}" for i in "bcd"}
    assert group.items == 4


def test_another_key_does_not_wait_for_a_batch_being_written():
    write = Recorder()
    group = GroupCommit(write)
    first, _ = run_in_threads(group, [{"key": "u1", "item": "a"}])
    assert write.started.wait(5)

    assert group.run(key="u2", item="z") == "filed z"  # while u1's batch is still open

    write.release.set()
    finish(first)


def test_a_batch_that_fails_fails_each_of_its_writes_and_no_other():
    write = Recorder(fail_on="c")
    group = GroupCommit(write)
    first, first_outcome = run_in_threads(group, [{"key": "u1", "item": "a"}])
    assert write.started.wait(5)
    rest, outcomes = run_in_threads(group, [{"key": "u1", "item": i} for i in "bc"])
    queued(group, 2)
    write.release.set()
    finish(first + rest)

    assert first_outcome == {"a": "filed a"}
    assert all(isinstance(outcomes[i], RuntimeError) for i in "bc")
    assert group.run(key="u1", item="e") == "filed e"  # the next batch writes again


@pytest.mark.django_db
def test_inside_a_transaction_a_write_goes_alone_and_at_once():
    write = Recorder()
    write.release.set()
    group = GroupCommit(write)
    from django.db import transaction

    with transaction.atomic():
        assert group.run(key="u1", item="a") == "filed a"
    assert group.batches == 0  # not through the queue: the caller's transaction decides
