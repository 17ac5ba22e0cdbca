"""`python manage.py run`: all of Portwise as one supervised group of processes.

Checks the HTTP port is free, migrates, collects static files and loads the demo data,
then runs the web server (uvicorn: HTTP and WebSockets), a Celery worker and Celery beat
as child processes of a supervisor (port/supervisor.py), each line of their output
prefixed with the child's name. A child that dies is restarted with a back-off while the
others carry on (the web server keeps serving while the worker comes back); after repeated
deaths soon after starting, the supervisor gives up, stops the group and exits non-zero.
Ctrl-C or SIGTERM stops every child cleanly (SIGTERM, then SIGKILL after a timeout). The
embedded PostgreSQL and Redis, if used, stop when the last process using them exits:
normally this one.
"""

from __future__ import annotations

import errno
import http.client
import os
import signal
import socket
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import connections, transaction

from port import embedded, fanout, outbox
from port.celery import all_queues
from port.management.commands.seed_demo import DEMO_PASSWORD, USERS
from port.supervisor import Child, GaveUp, Supervisor

DEMO_USERNAMES = [*USERS, "admin"]
STOP_TIMEOUT = 10  # seconds a child gets between SIGTERM and SIGKILL
HEALTH_GRACE = 30  # seconds the web server may answer /healthz with an error before we say so


def port_problem(host: str, port: int) -> str | None:
    """None if the web server can listen on host:port, else a one-line reason why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"Cannot listen on {host}:{port}: {exc.strerror}. Set HOST to a local address."
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} on {host} is already in use (is Portwise already running?). "
                    f"Stop whatever uses it, or pick another port: PORT={port + 1} make run"
                )
            return f"Cannot listen on {host}:{port}: {exc.strerror}. Set HOST or PORT."
    return None


def display_url(host: str, port: int) -> str:
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - only shown, not bound
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class Command(BaseCommand):
    help = "Run Portwise: web (HTTP + WebSockets), Celery worker and beat, supervised together."
    requires_system_checks = []  # migrate runs them, after the port check

    def add_arguments(self, parser):
        parser.add_argument(
            "--simulate",
            action="store_true",
            help="Also run `manage.py simulate` to generate live port traffic "
            "(`make run` does, unless SIMULATE=0).",
        )

    def handle(self, *args, **options):
        host = os.environ.get("HOST", "127.0.0.1")
        try:
            port = int(os.environ.get("PORT", "8000"))
        except ValueError:
            self._fail(f"PORT must be a number, not {os.environ['PORT']!r}.")
        problem = port_problem(host, port)
        if problem:
            self._fail(problem)

        self._out_lock = threading.Lock()
        self._stopping = threading.Event()
        self._describe_servers()
        self._prepare()

        self._simulate = options["simulate"]
        self._supervisor = Supervisor(
            self._children(host, port, simulate=self._simulate),
            cwd=settings.BASE_DIR,
            say=self._say,
            warn=self.stderr.write,
            out_lock=self._out_lock,
            stop_timeout=STOP_TIMEOUT,
            colour=self.stdout.isatty(),
        )
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._supervisor.start_all()
            gave_up = self._supervise(host, port)
        finally:
            self._supervisor.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if gave_up is not None:
            self._fail(f"Portwise stopped because {gave_up.child.name} kept dying (see above).")
        self._say("Portwise stopped.")

    # --- steps ---------------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(1)

    def _say(self, message: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(message))

    def _describe_servers(self) -> None:
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            self._say("Using the PostgreSQL and Redis from DATABASE_URL and REDIS_URL.")
        else:
            self._say(f"Using the embedded servers; data in {embedded.DATA_DIR}")

    def _prepare(self) -> None:
        self._say("Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        self._say("Collecting static files…")
        call_command("collectstatic", interactive=False, verbosity=0)
        self._say("Loading the demo data…")
        call_command("seed_demo")
        # Day-one reference data: the whole UN/LOCODE, shipped as UNECE's file, loaded by the
        # worker (once) while the web already serves; until then places are checked by format.
        with transaction.atomic():
            outbox.enqueue("reference.tasks.unlocode_shipped_import_task")
        connections.close_all()  # the children open their own

    def _children(self, host: str, port: int, *, simulate: bool) -> list[Child]:
        embedded.DATA_DIR.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        children = [
            Child(
                "web",
                [python, "-m", "uvicorn", "port.asgi:application"]
                + ["--host", host, "--port", str(port), "--lifespan", "off"]
                + fanout.UVICORN_WEBSOCKET_OPTIONS,
            ),
            Child(
                "worker",
                [python, "-m", "celery", "-A", "port", "worker", "-l", "info"]
                + ["--concurrency", "2", "--queues", ",".join(all_queues())],
            ),
            # Sends the outbox's rows (the work committed changes queued) to the broker.
            Child("relay", [python, str(settings.BASE_DIR / "manage.py"), "outbox_relay"]),
            Child(
                "beat",
                [python, "-m", "celery", "-A", "port", "beat", "-l", "info"]
                + ["--schedule", str(embedded.DATA_DIR / "celerybeat-schedule")],
            ),
        ]
        if simulate:
            if "simulate" in get_commands():
                manage = str(settings.BASE_DIR / "manage.py")
                children.append(Child("simulate", [python, manage, "simulate"]))
            else:
                self.stderr.write("--simulate ignored: there is no `simulate` command yet.")
        return children

    def _on_signal(self, signum, frame) -> None:
        if self._stopping.is_set():
            self._supervisor.force = True  # a second Ctrl-C: no more waiting
        self._stopping.set()

    def _supervise(self, host: str, port: int) -> GaveUp | None:
        """Restart dead children until a signal comes or the supervisor gives up on one;
        announce the URL once all is healthy.

        If the web server answers but /healthz stays unhealthy for HEALTH_GRACE seconds,
        announce anyway and say so.
        """
        announced = False
        first_answer = None
        while not self._stopping.is_set():
            gave_up = self._supervisor.check()
            if gave_up is not None:
                return gave_up
            if not announced:
                status = self._health(host, port)
                if status is not None and first_answer is None:
                    first_answer = time.monotonic()
                if status == 200:
                    announced = True
                    self._announce(host, port, healthy=True)
                elif first_answer is not None and time.monotonic() - first_answer > HEALTH_GRACE:
                    announced = True
                    self._announce(host, port, healthy=False)
            self._stopping.wait(1 if first_answer else 0.3)
        return None

    def _health(self, host: str, port: int) -> int | None:
        """The HTTP status of /healthz, or None while the web server does not answer."""
        connect_host = "127.0.0.1" if host in {"", "0.0.0.0"} else host  # noqa: S104
        connection = http.client.HTTPConnection(connect_host, port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def _announce(self, host: str, port: int, *, healthy: bool) -> None:
        url = display_url(host, port)
        lines = [
            "",
            f"Portwise is running at {url}"
            + ("" if healthy else f" (but {url}healthz reports a problem: see above)"),
            "A living port: the simulator moves vessels, filings and inspections "
            "(`SIMULATE=0 make run` for a still port)."
            if self._simulate
            else "A still port: nothing moves unless you do (`make run` simulates traffic).",
            f"Demo logins, all with the password {DEMO_PASSWORD}:",
            "  " + ", ".join(DEMO_USERNAMES),
            "Press Ctrl-C to stop.",
            "",
        ]
        with self._out_lock:
            for line in lines:
                self.stdout.write(self.style.SUCCESS(line) if line else line)
            self.stdout.flush()
