"""Celery tasks of calculations: thin wrappers that take an id and call a service.

Both route to the calculations queue (the kind's `calculations.*` route, apps.jobs.registry) and are
published by name (`apps.jobs.services.jobs_publish`), so services never import this module.
Retries, acks and time limits are the one job task policy (`apps.jobs.tasks`).
"""

from celery import shared_task

from apps.calculations.services import CALCULATION_JOB, calculation_run, calculation_sweep
from apps.jobs.tasks import job_task


@job_task(kind=CALCULATION_JOB)
def calculation_run_task(calculation_id: int, *, resume: bool) -> None:
    calculation_run(calculation_id=calculation_id, resume=resume)


@shared_task(name="calculations.sweep", acks_late=True)
def calculations_sweep_task() -> dict[str, int]:
    # Counts land in the result backend: a cheap audit trail of what each sweep repaired.
    return calculation_sweep()
