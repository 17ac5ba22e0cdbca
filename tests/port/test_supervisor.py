"""`manage.py run`'s supervisor: a dead child comes back while the others keep serving; a
child that keeps dying is given up on, loudly, and then everything stops."""

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
import pytest

from port.supervisor import Child, RestartPolicy, Supervisor
from tests.conftest import ROOT, _subprocess_env

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local
            return response.status == 200
    except OSError:
        return False


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s")


class Watched:
    """A supervisor checked every 50 ms in a thread, as `run` does each second."""

    def __init__(self, children, policy):
        self.log = io.StringIO()
        self.supervisor = Supervisor(
            children,
            cwd=ROOT,
            say=lambda line: self.log.write(line + "\n"),
            warn=lambda line: self.log.write(line + "\n"),
            out=io.StringIO(),
            policy=policy,
            stop_timeout=5,
        )
        self.gave_up = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._done.is_set() and self.gave_up is None:
            self.gave_up = self.supervisor.check()
            time.sleep(0.05)

    def __enter__(self):
        self.supervisor.start_all()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=5)
        self.supervisor.stop()


def test_the_back_off_doubles_up_to_its_ceiling():
    policy = RestartPolicy(first_delay=1, max_delay=30)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_killed_child_comes_back_while_the_web_server_keeps_answering():
    port = free_port()
    web = Child("web", [sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port)])
    worker = Child("worker", SLEEPER)
    url = f"http://127.0.0.1:{port}/"
    with Watched([web, worker], RestartPolicy(first_delay=0.2)) as watched:
        wait_for(lambda: answers(url), 10, "the web server did not answer")
        web_pid, worker_pid = web.proc.pid, worker.proc.pid
        os.kill(worker_pid, signal.SIGKILL)
        failures = 0
        deadline = time.monotonic() + 10
        while worker.restarts == 0 or not worker.running():
            failures += not answers(url)
            assert time.monotonic() < deadline, "the worker was not restarted within 10 s"
            time.sleep(0.02)
        assert failures == 0
        assert worker.proc.pid != worker_pid
        assert web.proc.pid == web_pid  # nobody touched the web server
        assert answers(url)
        assert watched.gave_up is None
    log = watched.log.getvalue()
    assert "worker stopped unexpectedly (killed by SIGKILL)" in log
    assert "worker restarted (restart 1" in log
    assert not web.running()  # stop() still stops everyone
    assert not worker.running()


def test_a_child_that_keeps_dying_is_given_up_on_loudly():
    crasher = Child("beat", [sys.executable, "-c", "import sys; print('no config'); sys.exit(3)"])
    other = Child("worker", SLEEPER)
    policy = RestartPolicy(first_delay=0.05, give_up_after=4)
    with Watched([crasher, other], policy) as watched:
        wait_for(lambda: watched.gave_up, 10, "the supervisor did not give up")
        assert other.running()  # the caller decides to stop the rest
    assert watched.gave_up.child is crasher
    assert crasher.restarts == 3
    assert "beat died 4 times in a row" in watched.gave_up.message
    assert "exit code 3" in watched.gave_up.message
    assert not other.running()


def test_a_child_that_lived_long_starts_its_back_off_afresh():
    child = Child("worker", SLEEPER)
    policy = RestartPolicy(first_delay=0.05, stable_after=0.5, give_up_after=2)
    with Watched([child], policy) as watched:
        for restarts in (1, 2, 3):  # each death after a healthy life: never given up
            time.sleep(0.7)
            child.proc.kill()
            wait_for(lambda n=restarts: child.restarts == n and child.running(), 5, "no restart")
        assert watched.gave_up is None


def test_the_children_of_a_dead_child_die_with_it():
    """A worker's pool processes must not outlive it (they would take tasks as orphans)."""
    spawner = [
        sys.executable,
        "-c",
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        "time.sleep(600)",
    ]
    child = Child("worker", spawner)
    with Watched([child], RestartPolicy(first_delay=5)):
        grandchild = wait_for(
            lambda: psutil.Process(child.proc.pid).children(), 10, "no grandchild"
        )[0]
        child.proc.kill()
        grandchild.wait(timeout=5)  # raises psutil.TimeoutExpired if it lived on


# --- the real `manage.py run` ------------------------------------------------------------


def _children_named(run: subprocess.Popen, word: str) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(run.pid).children():
        try:
            if word in process.cmdline():
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.mark.slow
def test_make_run_restarts_a_killed_worker_and_gives_up_on_one_that_keeps_dying(
    transactional_db, tmp_path
):
    port = free_port()
    env = {**_subprocess_env(), "HOST": "127.0.0.1", "PORT": str(port)}
    env["PORTWISE_DATA_DIR"] = str(tmp_path)  # the beat schedule
    run = subprocess.Popen(
        [sys.executable, "manage.py", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stdout), daemon=True)
    reader.start()
    livez = f"http://127.0.0.1:{port}/livez"
    try:
        try:
            wait_for(lambda: answers(livez), 180, "make run's web server did not answer")
        except BaseException:
            print("".join(lines)[-5000:])  # what `make run` said, in the test's report
            raise
        (worker,) = wait_for(lambda: _children_named(run, "worker"), 30, "no worker")
        web_pid = _children_named(run, "port.asgi:application")[0].pid

        worker.kill()
        failures, started = 0, time.monotonic()
        while True:
            failures += not answers(livez)
            back = [p for p in _children_named(run, "worker") if p.pid != worker.pid]
            if back:
                break
            assert time.monotonic() - started < 30, "the worker did not come back in 30 s"
            time.sleep(0.1)
        assert failures == 0, "the web server stopped answering while the worker restarted"
        assert run.poll() is None
        assert _children_named(run, "port.asgi:application")[0].pid == web_pid

        # Now it dies again and again, each time soon after it starts: run gives up.
        while run.poll() is None and time.monotonic() - started < 120:
            for process in _children_named(run, "worker"):
                process.kill()
            time.sleep(0.2)
        assert run.wait(timeout=30) == 1
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=30)
        reader.join(timeout=5)
    output = "".join(lines)
    assert "worker stopped unexpectedly (killed by SIGKILL)" in output
    assert "worker restarted (restart 1" in output
    assert "worker died 5 times in a row" in output
    assert "Portwise stopped because worker kept dying" in output
    assert "Traceback" not in output.split("worker died 5 times")[1]
    assert not answers(livez)  # and everything stopped
