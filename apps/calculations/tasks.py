"""Celery tasks: thin wrappers that take an id and call a service.

Both route to the calculations queue (`calculations.*` in CELERY_TASK_ROUTES) and are
published by name (`apps.jobs.services.jobs_publish`), so services never import this module.
The message is acknowledged only after the task returns and is redelivered if the worker
process dies (late acks, reject on worker lost); the claim counts every attempt, so a run
whose worker keeps dying ends `failed` after CALCULATIONS_MAX_ATTEMPTS.
"""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from apps.calculations.services import calculation_run, calculation_sweep


@shared_task(
    bind=True,
    name="calculations.run",
    acks_late=True,
    reject_on_worker_lost=True,
    # The row (status, progress, error, timings) is the result: nothing for the result backend.
    ignore_result=True,
    # PostgreSQL unreachable is not the run's fault: try again later instead of failing it.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=settings.CALCULATIONS_RETRY_BACKOFF,
    retry_backoff_max=settings.CALCULATIONS_RETRY_BACKOFF_MAX,
    max_retries=12,
    soft_time_limit=settings.CALCULATIONS_SOFT_TIME_LIMIT,
    time_limit=settings.CALCULATIONS_TIME_LIMIT,
)
def run_calculation(self, calculation_id: int) -> None:
    # A redelivery (its worker died) or a retry takes over the run its earlier attempt held.
    resume = self.request.retries > 0 or bool((self.request.delivery_info or {}).get("redelivered"))
    calculation_run(calculation_id=calculation_id, resume=resume)


@shared_task(name="calculations.sweep", acks_late=True)
def sweep_calculations() -> dict[str, int]:
    # Counts land in the result backend: a cheap audit trail of what each sweep repaired.
    return calculation_sweep()
