"""`manage.py load_demo_field`: the demo field's wells and their history (apps.wells.demo),
imported through the import service like any file. Does nothing when the field already has
wells, so `scripts/dev` can run it on every start."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.jobs.models import JobStatus
from apps.wells import demo
from apps.wells.models import Well
from apps.wells.services import history_import_create, history_import_run, well_create


class Command(BaseCommand):
    help = "Load the demo field: about a dozen wells with 5-10 years of daily history (deterministic)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--field", default=demo.FIELD)
        parser.add_argument("--wells", type=int, default=demo.WELLS)

    def handle(self, *args: Any, field: str, wells: int, **options: Any) -> None:
        if Well.objects.filter(field__name=field).exists():
            self.stdout.write(f"{field} already has wells; nothing loaded.")
            return
        records = 0
        # One transaction: the imports are run here, and their tasks are only published (and
        # found already finished by a worker) once everything is committed.
        with transaction.atomic():
            for index, spec in enumerate(demo.demo_wells(count=wells)):
                well = well_create(name=spec.name, field=field, notes="Demo well: synthetic history.")
                content = demo.demo_history_csv(spec, index=index)
                accepted = history_import_create(
                    stream=[content], well_id=well.pk, file_name=f"{spec.name}.csv"
                )
                done = history_import_run(import_id=accepted.pk)
                if done is None or done.status != JobStatus.FINISHED:
                    raise CommandError(f"Import of {spec.name} did not finish: {getattr(done, 'error', '')}")
                records += done.records
        self.stdout.write(self.style.SUCCESS(f"Loaded {field}: {wells} wells, {records:,} daily records."))
