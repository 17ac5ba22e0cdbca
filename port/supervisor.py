"""A small process supervisor: start children, restart the ones that die, stop them all.

`manage.py run` (port/management/commands/run.py) runs web, worker, beat and the rest as
children of one :class:`Supervisor`. Each line a child writes is copied to our output with
the child's name in front. A child that dies is restarted after a back-off that doubles
with each death that came soon after its start (1 s, 2 s, 4 s ... up to 30 s); one that
ran for a while before dying starts the count afresh. After :attr:`RestartPolicy.give_up_after`
fast deaths in a row the supervisor gives up on it and says so: the caller then stops the
rest. Nothing else stops while a child is down: the web server keeps serving while the
worker restarts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COLOURS = ["36", "33", "35", "32", "34", "31"]

# The child runs through this launcher so it gets SIGTERM when the supervisor dies, even
# by SIGKILL (PR_SET_PDEATHSIG, Linux), without a preexec_fn: the supervisor forks while its
# output threads run, and code run between fork and exec in a threaded process can deadlock.
# If the supervisor died before the launcher got there, the launcher does not start at all.
_LAUNCHER = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0  # seconds before the first restart
    max_delay: float = 30.0  # the back-off doubles up to this
    stable_after: float = 30.0  # a child that lived this long died after a healthy life
    give_up_after: int = 5  # fast deaths in a row before the supervisor gives up

    def delay(self, fast_deaths: int) -> float:
        """Seconds to wait before restarting a child that died `fast_deaths` times running."""
        return min(self.first_delay * 2 ** max(fast_deaths - 1, 0), self.max_delay)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = field(default=None, repr=False)
    started_at: float = 0.0
    fast_deaths: int = 0  # deaths in a row, each soon after a start
    restarts: int = 0
    restart_at: float | None = None  # when a dead child is due to start again
    last_exit: int | None = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class GaveUp:
    child: Child
    message: str


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Runs `children`; call :meth:`check` regularly, :meth:`stop` at the end.

    `say` and `warn` write a supervisor's line (to stdout and stderr); `out` is where the
    children's lines go, under `out_lock` (shared with whoever else writes there).
    """

    def __init__(
        self,
        children: list[Child],
        *,
        cwd: Path,
        say: Callable[[str], None],
        warn: Callable[[str], None],
        out=None,
        out_lock: threading.Lock | None = None,
        policy: RestartPolicy | None = None,
        stop_timeout: float = 10,
        colour: bool = False,
    ):
        self.children = children
        self.cwd = cwd
        self.say = say
        self.warn = warn
        self.out = out or sys.stdout
        self.out_lock = out_lock or threading.Lock()
        self.policy = policy or RestartPolicy()
        self.stop_timeout = stop_timeout
        self.colour = colour
        self.force = False  # set by a second Ctrl-C: stop without waiting
        self._width = max(len(c.name) for c in children)

    # --- starting ------------------------------------------------------------------------

    def start_all(self) -> None:
        for child in self.children:
            self._spawn(child)
        for child in self.children:  # output threads once every child has forked
            self._start_pump(child)

    def _spawn(self, child: Child) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *child.argv]
        child.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,  # Ctrl-C reaches only the supervisor, which stops children in order
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _start_pump(self, child: Child) -> None:
        index = self.children.index(child)
        child.pump = threading.Thread(
            target=self._pump,
            args=(child.proc, child.name, COLOURS[index % len(COLOURS)]),
            daemon=True,
            name=f"pump-{child.name}",
        )
        child.pump.start()

    def _pump(self, proc: subprocess.Popen, name: str, colour: str) -> None:
        """Copy one process's output to ours, each line prefixed with its name."""
        prefix = f"{name:<{self._width}} | "
        if self.colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        for raw in iter(proc.stdout.readline, b""):  # type: ignore[union-attr]
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self.out_lock, contextlib.suppress(OSError, ValueError):
                self.out.write(prefix + line + "\n")
                self.out.flush()

    # --- watching ------------------------------------------------------------------------

    def check(self) -> GaveUp | None:
        """Notice deaths, schedule and perform restarts; a GaveUp when a child must not be
        restarted again (the caller stops the rest)."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
                continue
            code = child.proc.poll() if child.proc is not None else None
            if code is None:
                continue
            gave_up = self._died(child, code, now)
            if gave_up is not None:
                return gave_up
        return None

    def _died(self, child: Child, code: int, now: float) -> GaveUp | None:
        self._reap_group(child)
        lived = now - child.started_at
        child.last_exit = code
        if lived < self.policy.stable_after:
            child.fast_deaths += 1
        else:
            child.fast_deaths = 1  # a healthy life: the back-off starts afresh
        how = describe_exit(code)
        if child.fast_deaths >= self.policy.give_up_after:
            message = (
                f"{child.name} died {child.fast_deaths} times in a row, each within "
                f"{self.policy.stable_after:.0f} s of starting (last: {how}); giving up on it "
                f"and stopping all. Its output above says why."
            )
            self.warn(message)
            return GaveUp(child, message)
        delay = self.policy.delay(child.fast_deaths)
        child.restart_at = now + delay
        self.warn(
            f"{child.name} stopped unexpectedly ({how}) after {lived:.1f} s; "
            f"restarting it in {delay:g} s."
        )
        return None

    def _restart(self, child: Child) -> None:
        child.restarts += 1
        if child.pump is not None:
            child.pump.join(timeout=0.5)  # its last lines first
        self._spawn(child)
        self._start_pump(child)
        self.say(f"{child.name} restarted (restart {child.restarts}, pid {child.proc.pid}).")

    def _reap_group(self, child: Child) -> None:
        """A child that died leaves nothing behind: its own children (a worker's pool) go too."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signal.SIGKILL)

    # --- stopping ------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM every running child, wait up to stop_timeout, SIGKILL what is left."""
        started = [c for c in self.children if c.proc is not None]
        if any(c.running() for c in started):
            self.say("Stopping…")
        for child in started:
            if child.running():
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(c.running() for c in started):
            if self.force or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for child in started:
            if child.running():
                self.warn(f"{child.name} did not stop in time; killing it.")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.proc.pid, signal.SIGKILL)  # the child and all it forked
            child.proc.wait()
        for child in started:
            if child.pump is not None:
                child.pump.join(timeout=2)
