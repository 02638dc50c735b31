"""Celery tasks: thin wrappers that take an id and call a service.

Both route to the calculations queue (`calculations.*` in CELERY_TASK_ROUTES). The message is
acknowledged only after the task returns and is redelivered if the worker process dies
(late acks, reject on worker lost): `calculation_run` is idempotent, so a redelivered run
either finishes again with its rows replaced or is skipped because it already finished.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.calculations.services import calculation_run, calculation_sweep


@shared_task(
    name="calculations.run",
    acks_late=True,
    reject_on_worker_lost=True,
    # The row (status, progress, error, timings) is the result: nothing for the result backend.
    ignore_result=True,
    # PostgreSQL unreachable is not the run's fault: try again later instead of failing it.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=12,
)
def run_calculation(calculation_id: int) -> None:
    calculation_run(calculation_id=calculation_id)


@shared_task(name="calculations.sweep", acks_late=True)
def sweep_calculations() -> dict[str, int]:
    # Counts land in the result backend: a cheap audit trail of what each sweep repaired.
    return calculation_sweep()
