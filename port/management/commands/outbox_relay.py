"""`python manage.py outbox_relay`: send the outbox's rows to Celery (port/outbox.py).

Runs until SIGTERM or Ctrl-C; `--once` sends what waits now and exits. Several relays may
run at once (each claims rows with SKIP LOCKED); one is enough for thousands of rows a second.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from port import outbox


class Command(BaseCommand):
    help = "Relay the outbox's rows to the Celery broker (the work queued by committed changes)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what waits now and exit.")
        parser.add_argument("--batch", type=int, default=outbox.BATCH, help="Rows per claim.")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        if options["once"]:
            total = 0
            while sent := outbox.relay_once(options["batch"]):
                total += sent
            self.stdout.write(f"{total} sent")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("outbox relay: running")
        outbox.relay_forever(stop, batch=options["batch"])
        self.stdout.write("outbox relay: stopped")
