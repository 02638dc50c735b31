"""Celery tasks of history imports: thin wrappers around `apps.wells.services`.

`wells.import` takes an import id; it is published by name (`apps.jobs.services`), so the
services never import this module. Retries, acks and time limits are the one job task policy
(`apps.jobs.tasks`).
"""

from celery import shared_task

from apps.jobs.tasks import job_task
from apps.wells import services


@job_task(kind=services.HISTORY_IMPORT_JOB)
def history_import_run_task(import_id: int, *, resume: bool) -> None:
    services.history_import_run(import_id=import_id, resume=resume)


@shared_task(name="wells.sweep", acks_late=True)
def history_imports_sweep_task() -> dict[str, int]:
    return services.history_imports_sweep()
