"""`manage.py simulate`: live traffic for the demo port until stopped (Ctrl-C or SIGTERM)."""

import random
import signal
import time

from django.core.management.base import BaseCommand, CommandError

from analytics import simulation

BASE_INTERVAL = 3.0  # seconds between two steps at speed 1


class Command(BaseCommand):
    help = "Drive the demo port with live traffic through the normal services, until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--speed", type=float, default=1.0, help="How many times faster than normal (1)."
        )
        parser.add_argument(
            "--duration", type=float, default=0, help="Stop after this many seconds (0: run on)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, to replay the same traffic."
        )

    def handle(self, *args, speed: float, duration: float, seed: int | None, **options) -> None:
        if speed <= 0:
            raise CommandError("--speed must be above 0.")
        if duration < 0:
            raise CommandError("--duration must be 0 or more.")
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        rng = random.Random(seed)  # noqa: S311 - demo traffic, not security
        interval = BASE_INTERVAL / speed
        started = time.monotonic()
        steps = 0
        self.stdout.write(f"Simulating port traffic, a step every {interval:.2f} s. Ctrl-C stops.")
        try:
            while not self.stopping and not (duration and time.monotonic() - started >= duration):
                line = simulation.tick(rng)
                steps += 1
                if line and options["verbosity"]:
                    self.stdout.write(line)
                self._sleep(interval, started, duration)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(self.style.SUCCESS(f"Simulation stopped after {steps} steps."))

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _sleep(self, interval: float, started: float, duration: float) -> None:
        """Sleep in short slices, so a signal or the end of the run stops it at once."""
        until = time.monotonic() + interval
        if duration:
            until = min(until, started + duration)
        while not self.stopping and time.monotonic() < until:
            time.sleep(min(0.1, until - time.monotonic()) if until > time.monotonic() else 0)
