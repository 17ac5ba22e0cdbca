"""The embedded PostgreSQL: pgserver's bundled binaries, on a Unix socket in the data
directory, run as a system user of its own when Portwise runs as root."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psutil

from port.embedded.base import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    EmbeddedServerError,
    _EmbeddedServer,
    _fits_socket,
    _is_root,
    _process,
    _size,
    _tail,
    short_socket_dir,
)

# PostgreSQL refuses to run as root; pgserver runs it as this system user (same name, so
# data directories made by pgserver itself keep working).
PG_SYSTEM_USER = "pgserver"
# As root, where the server's files go when the project folder is closed to that user.
PG_OUTSIDE_ROOT = Path(os.environ.get("PORTWISE_PG_OUTSIDE", "/var/lib/portwise"))


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
