"""The embedded servers' helpers, in scratch data directories.

None of these touch the servers the test run itself uses: every server here lives in
pytest's tmp_path.
"""

import io
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest
from django.core.management import call_command

from port import embedded
from port.embedded import base, postgresql
from port.management.commands.run import port_problem


@pytest.fixture(autouse=True)
def _outside_home(tmp_path_factory, monkeypatch):
    """As root, servers whose data folder the system user cannot enter keep their files in
    PG_OUTSIDE_ROOT: here a scratch folder every user can enter, removed afterwards."""
    outside = tmp_path_factory.mktemp("outside")
    for folder in [outside, *outside.parents]:
        if folder == Path(tempfile.gettempdir()):
            break
        folder.chmod(folder.stat().st_mode | 0o001)  # pytest's own scratch folders only
    monkeypatch.setattr(postgresql, "PG_OUTSIDE_ROOT", outside)


def test_redis_url_with_db_keeps_unix_socket_urls_whole():
    url = embedded.redis_url_with_db("unix:///a/b/redis.sock", 9)
    assert url == "unix:///a/b/redis.sock?db=9"
    assert embedded.redis_url_with_db(url, 3) == "unix:///a/b/redis.sock?db=3"
    assert embedded.celery_url(url) == "redis+socket:///a/b/redis.sock?virtual_host=9"
    assert embedded.redis_url_with_db("redis://h:6379/0", 9) == "redis://h:6379/9"
    assert embedded.redis_url_with_db("redis://:pw@h:6379", 2) == "redis://:pw@h:6379/2"


def test_an_embedded_redis_url_survives_every_rewrite_and_carries_tasks(tmp_path):
    """The test run's rewrite (db number), the Celery form and the channel prefix all reach
    the same embedded server: a message published through kombu comes back."""
    import redis
    from kombu import Connection

    server = embedded.EmbeddedRedis(tmp_path)
    server.acquire()
    try:
        url = embedded.redis_url_with_db(server.url(), 9)
        redis.Redis.from_url(url).set("prefix:probe", "1")
        assert redis.Redis.from_url(server.url(), db=9).get("prefix:probe") == b"1"
        with Connection(embedded.celery_url(url)) as conn:
            queue = conn.SimpleQueue("probe")
            queue.put({"task": "hello"})
            assert queue.get(timeout=5).payload == {"task": "hello"}
            queue.close()
            assert (
                conn.transport_cls in {"redis+socket", "redis"}
                or "redis" in str(type(conn.transport)).lower()
            )
    finally:
        server.release()


def test_a_second_redis_never_starts_on_the_same_folder(tmp_path):
    first = embedded.EmbeddedRedis(tmp_path)
    first.acquire()
    try:
        pid = first._pid().pid
        first.pidfile.unlink()  # as a restart race left it: no pid file, server alive
        second = embedded.EmbeddedRedis(tmp_path)
        second.start()  # finds the instance lock held and waits for that server instead
        servers = [  # redis-server runs in its data folder (`dir`)
            p
            for p in psutil.process_iter(["name", "cwd"])
            if "redis" in (p.info["name"] or "") and p.info["cwd"] == str(first.dir)
        ]
        assert [p.pid for p in servers] == [pid]
    finally:
        psutil.Process(pid).terminate()
        psutil.Process(pid).wait(10)


def test_as_root_a_data_folder_behind_a_private_folder_works_and_changes_no_permissions(
    tmp_path,
):
    if os.geteuid() != 0:
        pytest.skip("only root runs postgres as another user")
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    before = {folder: folder.stat().st_mode for folder in [private, *private.parents]}
    server = embedded.EmbeddedPostgres(private / "project" / ".data")
    server.acquire()
    try:
        server.ensure_database("probe")
        import psycopg

        with psycopg.connect(server.url("probe")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert postgresql.PG_OUTSIDE_ROOT in server.pgdata.parents
    finally:
        server.release()
    assert {folder: folder.stat().st_mode for folder in before} == before


def test_as_root_binaries_behind_a_private_folder_are_copied_out_and_run(tmp_path, monkeypatch):
    """A checkout inside root's 0700 home: the system user can reach neither the data nor
    the binaries in .venv; a copy with the wheel's layout (its bundled libraries found by a
    relative RPATH) runs outside."""
    if os.geteuid() != 0:
        pytest.skip("only root runs postgres as another user")
    import shutil

    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    package = postgresql._pg_bin().parent.parent  # site-packages/pgserver
    site = private / "site-packages"
    shutil.copytree(package / "pginstall", site / "pgserver" / "pginstall", symlinks=True)
    shutil.copytree(package.parent / "pgserver.libs", site / "pgserver.libs", symlinks=True)
    monkeypatch.setattr(postgresql, "_pg_bin", lambda: site / "pgserver" / "pginstall" / "bin")
    server = embedded.EmbeddedPostgres(private / "project" / ".data")
    server.acquire()
    try:
        server.ensure_database("probe")
        assert postgresql.PG_OUTSIDE_ROOT in server.binaries().parents
    finally:
        server.release()


def test_celery_url_converts_unix_socket_urls():
    assert embedded.celery_url("unix:///a/b/redis.sock") == "redis+socket:///a/b/redis.sock"
    assert (
        embedded.celery_url("unix:///a/redis.sock?db=2")
        == "redis+socket:///a/redis.sock?virtual_host=2"
    )


def test_celery_url_leaves_tcp_urls_alone():
    assert embedded.celery_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert embedded.celery_url("rediss://h:6380/1") == "rediss://h:6380/1"


def test_environment_urls_win(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    assert embedded.database_url() == "postgresql://u@db:5432/x"
    assert embedded.redis_url() == "redis://cache:6379/0"


def test_socket_paths_fall_back_to_a_short_directory_when_too_long():
    deep = Path("/tmp", "d" * 120)
    path = embedded.EmbeddedRedis(deep).socket_path
    assert len(str(path)) <= embedded.MAX_SOCKET_PATH
    assert path.parent == embedded.short_socket_dir(deep.resolve())
    assert embedded.EmbeddedPostgres(deep).socket_dir.parent == path.parent
    shallow = embedded.EmbeddedRedis(Path("/tmp/pw"))
    assert shallow.socket_path == Path("/tmp/pw/redis/redis.sock")


def test_database_url_points_at_the_socket_directory(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path)
    url = server.url("portwise")
    assert url == f"postgresql://postgres@{str(server.pgdata).replace('/', '%2F')}/portwise"
    assert server.pgdata.name == "pg"


def test_dead_and_recycled_pids_are_pruned(tmp_path):
    handles = base._Handles(tmp_path / "users.json")
    dead = subprocess.Popen(["true"])  # noqa: S607
    dead.wait()
    me = psutil.Process(os.getpid())
    (tmp_path / "users.json").write_text(
        f"[[{dead.pid}, 1.0], [{os.getpid()}, {me.create_time() - 100}]]"  # recycled: wrong start
    )
    assert handles.live() == []
    handles.add(os.getpid())
    assert [int(pid) for pid, _ in handles.live()] == [os.getpid()]
    assert handles.remove(os.getpid()) == []


def test_a_stale_postmaster_pid_of_another_process_is_dropped(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path)
    server.pgdata.mkdir(parents=True)
    lines = [str(os.getpid()), str(server.pgdata), "0", "5432", str(server.pgdata), "", "0 0"]
    (server.pgdata / "postmaster.pid").write_text("\n".join([*lines, "ready"]) + "\n")
    assert not server.is_running()
    assert not (server.pgdata / "postmaster.pid").exists()


def test_a_half_made_postgres_directory_gives_a_clear_error(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path)
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "stray.txt").write_text("not a database")
    with pytest.raises(embedded.EmbeddedServerError, match="not a PostgreSQL data directory"):
        server.acquire()


def test_a_broken_postgres_data_directory_names_the_directory_and_the_log(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path)
    server._prepare_root()
    server.pgdata.mkdir(mode=0o700)
    (server.pgdata / "PG_VERSION").write_text("16\n")  # initdb cut short: no config files
    for path in (server.pgdata, server.pgdata / "PG_VERSION"):
        server._chown(path)
    with pytest.raises(embedded.EmbeddedServerError) as error:
        server.acquire()
    message = str(error.value)
    assert "did not start" in message
    assert str(server.pgdata) in message
    assert str(server.log) in message
    assert "\n" not in message
    assert server._acquired_by is None


def test_a_data_directory_owned_by_someone_else_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory away")
    server = embedded.EmbeddedPostgres(tmp_path)
    server._prepare_root()
    server.pgdata.mkdir(mode=0o700)
    (server.pgdata / "PG_VERSION").write_text("16\n")
    os.chown(server.pgdata, 12345, 12345)  # nobody we run as
    with pytest.raises(embedded.EmbeddedServerError, match="belongs to uid 12345"):
        server.acquire()


def test_redis_starts_keeps_its_data_and_stops_with_its_last_user(tmp_path):
    import redis

    server = embedded.EmbeddedRedis(tmp_path)
    server.acquire()
    try:
        client = redis.Redis.from_url(server.url())
        client.set("greeting", "hello")
        pid = server._pid().pid
    finally:
        server.release()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not server.is_running()

    again = embedded.EmbeddedRedis(tmp_path)
    again.acquire()
    try:
        assert redis.Redis.from_url(again.url()).get("greeting") == b"hello"
    finally:
        again.release()


def test_a_stale_redis_pid_file_is_ignored(tmp_path):
    server = embedded.EmbeddedRedis(tmp_path)
    server.dir.mkdir(parents=True)
    server.pidfile.write_text(f"{os.getpid()}\n")  # alive, but not redis
    assert not server.is_running()


def test_a_redis_that_cannot_start_gives_a_clear_error(tmp_path):
    server = embedded.EmbeddedRedis(tmp_path)
    server.dir.mkdir(parents=True)
    (server.dir / "appendonly.aof").write_text("this is not an append-only file\n")
    with pytest.raises(embedded.EmbeddedServerError) as error:
        server.acquire()
    assert str(server.dir) in str(error.value)
    assert str(server.log) in str(error.value)


def test_port_problem_reports_a_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "already in use" in port_problem("127.0.0.1", port)
    assert port_problem("127.0.0.1", port) is None


def test_run_stops_at_once_when_the_port_is_taken(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("HOST", "127.0.0.1")
        monkeypatch.setenv("PORT", str(busy.getsockname()[1]))
        stderr = io.StringIO()
        with pytest.raises(SystemExit) as exit_:
            call_command("run", stderr=stderr, stdout=io.StringIO())
    assert exit_.value.code == 1
    assert "already in use" in stderr.getvalue()
    assert "Traceback" not in stderr.getvalue()
