"""The process-local fan-out (port/fanout.py), on the real Redis of the tests: frames published
as `port.live` publishes them reach every local socket of the group; a socket whose send
has to wait holds up no other socket and gets its frames in order."""

import asyncio

from port import fanout, live


def _frame(group: str, seq: int) -> str:
    return f'{{"type":"live.events","stream":"{group}","seq":{seq},"events":[]}}'


class Recorder:
    """An ASGI send that records what it is given; while `gate` is clear it waits (a socket
    whose buffer is full)."""

    def __init__(self):
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, message):
        await self.gate.wait()
        self.sent.append(message["text"])


async def _until(condition, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_frame_reaches_every_local_socket_of_its_group_once(demo):
    group = live.organisation_group(demo.importer_org.pk)
    other = live.organisation_group(demo.exporter_org.pk)

    async def scenario():
        hub = fanout.fanout()
        mine, also_mine, theirs = Recorder(), Recorder(), Recorder()
        sockets = [fanout.Socket(s) for s in (mine, also_mine, theirs)]
        await hub.join(group, sockets[0])
        await hub.join(group, sockets[1])
        await hub.join(other, sockets[2])
        [seq] = await asyncio.to_thread(live.publish_frames, {group: [{"type": "x"}]})
        await _until(lambda: mine.sent and also_mine.sent)
        await asyncio.sleep(0.2)
        for socket, joined in zip(sockets, (group, group, other), strict=True):
            await hub.leave(joined, socket)
        return seq, mine.sent, also_mine.sent, theirs.sent, hub.members, hub._pubsub

    seq, mine, also_mine, theirs, members, pubsub = asyncio.run(scenario())
    frame = f'{{"type":"live.events","stream":"{group}","seq":{seq},"events":[{{"type":"x"}}]}}'
    assert mine == [frame]
    assert also_mine == [frame]
    assert theirs == []
    assert members == {}  # the last socket gone, the loop's subscription is closed
    assert pubsub is None


def test_a_socket_whose_send_waits_holds_up_no_other_and_keeps_its_order():
    async def scenario():
        slow, fast = Recorder(), Recorder()
        slow.gate.clear()
        slow_socket, fast_socket = fanout.Socket(slow), fanout.Socket(fast)
        for seq in (1, 2, 3):
            message = {"type": "websocket.send", "text": _frame("org.1", seq)}
            slow_socket.push("org.1", message)
            fast_socket.push("org.1", message)
        fast_at_once = list(fast.sent)
        slow_before = list(slow.sent)
        slow.gate.set()
        await _until(lambda: len(slow.sent) == 3)
        return fast_at_once, slow_before, slow.sent

    fast_at_once, slow_before, slow_after = asyncio.run(scenario())
    frames = [_frame("org.1", seq) for seq in (1, 2, 3)]
    assert fast_at_once == frames  # written in the same step, without a task
    assert slow_before == []
    assert slow_after == frames


def test_a_send_that_fails_drops_what_waited_behind_it_and_the_socket_is_not_stuck():
    class Closed(Exception):
        pass

    async def scenario():
        sent = []
        gate = asyncio.Event()

        async def send(message):
            await gate.wait()
            if message["text"] == "bad":
                raise Closed
            sent.append(message["text"])

        socket = fanout.Socket(send)
        socket.push("org.1", {"type": "websocket.send", "text": "bad"})
        socket.push("org.1", {"type": "websocket.send", "text": "queued behind it"})
        gate.set()
        await asyncio.sleep(0.05)
        socket.push("org.1", {"type": "websocket.send", "text": "later"})
        return sent

    assert asyncio.run(scenario()) == ["later"]


def test_a_socket_that_does_not_read_keeps_each_groups_newest_frame_and_sees_the_gap():
    async def scenario():
        stuck = Recorder()
        stuck.gate.clear()
        socket = fanout.Socket(stuck)
        socket.push("org.1", {"type": "websocket.send", "text": _frame("org.1", 1)})
        for seq in range(2, fanout.BACKLOG_MAX + 10):
            for group in ("org.1", "user.7"):
                socket.push(group, {"type": "websocket.send", "text": _frame(group, seq)})
        stuck.gate.set()
        await _until(lambda: len(stuck.sent) >= 3)
        await asyncio.sleep(0.05)
        return stuck.sent

    last = fanout.BACKLOG_MAX + 9
    sent = asyncio.run(scenario())
    assert len(sent) <= fanout.BACKLOG_MAX + 1
    assert sent[0] == _frame("org.1", 1)  # the send that was waiting
    assert sent[-2:] == [_frame("org.1", last), _frame("user.7", last)]
