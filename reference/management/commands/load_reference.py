"""Load an edition of a reference dataset, or daily exchange rates, from the publisher's file.

    manage.py load_reference hs HS2028.csv --name "HS 2028" --effective-from 2028-01-01
    manage.py load_reference tariff cn-tariff-2027.xlsx --name "CN tariff 2027" \
        --effective-from 2027-01-01 --source "..." --licence "..."
    manage.py load_reference rates eurofxref-hist.zip [--since 2026-01-01]
    manage.py load_reference unlocode shipped      # the UN/LOCODE edition shipped as a file
    manage.py load_reference list

Prints what was read, skipped and what changed against the edition before.
"""

import datetime
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from port.errors import InvalidInput
from reference import formats, queries, services

DATASETS = [*formats.READERS, "rates", "list"]


class Command(BaseCommand):
    help = (
        "Load a dated edition of reference data (HS, tariff, CAS, UN numbers, UN/LOCODE) or rates."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", choices=DATASETS)
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--name", help="The edition's name, e.g. 'HS 2028'.")
        parser.add_argument("--effective-from", type=datetime.date.fromisoformat)
        parser.add_argument("--source", default="")
        parser.add_argument("--licence", default="")
        parser.add_argument(
            "--sample",
            action="store_true",
            help="The file is a sample: codes missing from it are not refused.",
        )
        parser.add_argument(
            "--since", type=datetime.date.fromisoformat, help="rates: from this day"
        )

    def handle(self, *args, dataset, file, **options):
        if dataset == "list":
            return self._list()
        if dataset == "unlocode" and str(file) == "shipped":
            edition = services.unlocode_load_shipped()
            if options["verbosity"]:
                self.stdout.write(
                    f"{edition.name}: {edition.rows} places, from {edition.effective_from}"
                )
            return None
        if file is None or not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            if dataset == "rates":
                read = formats.read_ecb_rates(file, since=options["since"])
                loaded = services.rates_load(
                    rows=read.rows, source=options["source"] or f"ECB ({file.name})"
                )
                report = {"rates": loaded.__dict__, "skipped": read.skipped}
            else:
                if not options["name"] or not options["effective_from"]:
                    raise CommandError("An edition needs --name and --effective-from.")
                read = formats.READERS[dataset](file)
                edition = services.edition_load(
                    dataset=dataset,
                    name=options["name"],
                    effective_from=options["effective_from"],
                    rows=read.rows,
                    source=options["source"] or file.name,
                    licence=options["licence"],
                    complete=not options["sample"],
                )
                report = {
                    "edition": edition.name,
                    "effective_from": edition.effective_from,
                    "rows_read": len(read.rows),
                    "rows_skipped": len(read.skipped),
                    "skipped": read.skipped,
                    "changes": edition.changes,
                }
        except formats.Unreadable as error:
            raise CommandError(str(error)) from None
        except InvalidInput as error:
            raise CommandError(json.dumps(error.errors, ensure_ascii=False)) from None
        self.stdout.write(json.dumps(report, indent=2, default=str, ensure_ascii=False))

    def _list(self):
        queries.clear_cache()
        for dataset in formats.READERS:
            for edition in queries.editions(dataset):
                kind = "shipped" if edition.pk is None else "loaded"
                sample = "" if edition.complete else ", sample"
                self.stdout.write(
                    f"{dataset:11} {edition.name:34} from {edition.effective_from} ({kind}{sample})"
                )
