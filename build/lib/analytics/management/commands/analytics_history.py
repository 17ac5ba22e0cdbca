"""`manage.py analytics_history --events 2000000`: a long history for the scale demo."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from analytics import history


class Command(BaseCommand):
    help = (
        "Add synthetic past declarations and their timeline events (with COPY) until the timeline "
        "holds at least --events events, then rebuild the rollups. Running it again adds only what "
        "is missing. For a demo or benchmark database on a quiet port."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--events", type=int, default=1_000_000, help="Events the timeline should hold."
        )
        parser.add_argument(
            "--days", type=int, default=180, help="How far back the history reaches."
        )
        parser.add_argument(
            "--batch", type=int, default=60_000, help="Events per COPY transaction."
        )

    def handle(self, *args, events: int, days: int, batch: int, **options) -> None:
        if events < 1 or days < 1 or batch < 6:
            raise CommandError(
                "--events, --days and --batch must be positive (--batch at least 6)."
            )
        call_command("seed_demo", verbosity=0)
        started = time.monotonic()

        def progress(total: int) -> None:
            if options["verbosity"]:
                self.stdout.write(f"  {total:,} events ({time.monotonic() - started:.0f} s)")

        added = history.build(events=events, days=days, batch=batch, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {added:,} events in {time.monotonic() - started:.0f} s; rollups rebuilt."
            )
        )
