"""What both embedded servers share: their errors, the list of processes using a server
(under a file lock), and the lifecycle: start on first use, stop when the last user leaves."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import fasteners
import psutil

START_TIMEOUT = 60  # seconds
STOP_TIMEOUT = 30
MAX_SOCKET_PATH = 100  # AF_UNIX allows 107 bytes; keep a margin


class EmbeddedServerError(Exception):
    """An embedded server could not be started or reached.

    The message is one human-readable paragraph: what went wrong, where the data
    directory and log file are, and what to do about it.
    """


def short_socket_dir(data_dir: Path) -> Path:
    """A short per-data-dir directory under /tmp, for when data_dir is too deep for a socket."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"portwise-{digest}"


def _fits_socket(path: Path) -> bool:
    return len(os.fsencode(str(path))) <= MAX_SOCKET_PATH


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, lines: int = 3, since: int = 0) -> str:
    """The last few meaningful lines a log file got after offset `since`, as one line."""
    try:
        with path.open("rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and "overcommit" not in line  # redis' usual warning, never the cause
    ]
    return " | ".join(kept[-lines:])


def _process(pid: int) -> psutil.Process | None:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _is_root() -> bool:
    return os.geteuid() == 0


class _Handles:
    """Pids of the processes using one server, kept in a JSON file.

    Each entry is ``[pid, create_time]`` so a recycled pid is not mistaken for a user.
    Callers hold the server's lock.
    """

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[list[float]]:
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [e for e in entries if isinstance(e, list) and len(e) == 2]

    def _write(self, entries: list[list[float]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries))
        tmp.replace(self.path)

    @staticmethod
    def _alive(entry: list[float]) -> bool:
        proc = _process(int(entry[0]))
        if proc is None:
            return False
        try:
            return abs(proc.create_time() - entry[1]) < 1.0
        except psutil.Error:
            return False

    def live(self) -> list[list[float]]:
        return [e for e in self._read() if self._alive(e)]

    def add(self, pid: int) -> None:
        entries = [e for e in self.live() if int(e[0]) != pid]
        entries.append([pid, psutil.Process(pid).create_time()])
        self._write(entries)

    def remove(self, pid: int) -> list[list[float]]:
        """Remove pid (and dead pids); return the entries left."""
        entries = [e for e in self.live() if int(e[0]) != pid]
        self._write(entries)
        return entries


class _EmbeddedServer:
    """Common lifecycle: a lock, a list of user pids, start on first use, stop on last exit."""

    name = ""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.run_dir = self.data_dir / "run"
        self.log_dir = self.data_dir / "logs"
        self.lock_path = self.run_dir / f"{self.name}.lock"
        self.handles = _Handles(self.run_dir / f"{self.name}.users.json")
        self._acquired_by: int | None = None

    # subclasses implement these (called with the lock held)
    def is_running(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _lock(self) -> fasteners.InterProcessLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(
                f"Cannot create the embedded {self.name} directories under {self.data_dir} "
                f"({exc.strerror}). Check that the directory is writable by this user, or set "
                f"PORTWISE_DATA_DIR to a directory that is."
            ) from None
        return fasteners.InterProcessLock(str(self.lock_path))

    def acquire(self) -> None:
        """Make sure the server runs and count this process as one of its users."""
        pid = os.getpid()
        if self._acquired_by == pid:
            return
        with self._lock():
            if not self.is_running():
                self.start()
            self.handles.add(pid)
        self._acquired_by = pid
        atexit.register(self.release)

    def release(self) -> None:
        """Stop counting this process; stop the server when no live user remains."""
        if self._acquired_by != os.getpid():  # not acquired, or a forked child
            return
        self._acquired_by = None
        try:
            with self._lock():
                if not self.handles.remove(os.getpid()) and self.is_running():
                    self.stop()
        except Exception as exc:  # at exit: report, never raise
            print(f"portwise: could not stop the embedded {self.name}: {exc}", file=sys.stderr)
