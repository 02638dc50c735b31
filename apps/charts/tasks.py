"""Celery tasks of the chart job: thin wrappers around `apps.charts.services`.

`charts.render` takes a function id; it is published by name (`apps.jobs.services`), so the
services never import this module. Retries, acks and time limits are the one job task policy
(`apps.jobs.tasks`); a chart adds the outside services' transient failures (down, timeout,
5xx) to what is retried. Every attempt is counted when it claims the row, and after
CHARTS_MAX_ATTEMPTS the row ends `failed` with the service's error text; `charts.sweep`
requeues rows whose worker vanished with its message.
"""

from celery import shared_task

from apps.charts import services
from apps.integrations.transport import ServiceError
from apps.jobs.tasks import job_task


@job_task(kind=services.FUNCTION_JOB, retry_on=(ServiceError,))
def function_render_task(function_id: int, *, resume: bool) -> None:
    services.function_render(function_id=function_id, resume=resume)


@shared_task(name="charts.sweep", acks_late=True)
def functions_sweep_task() -> dict[str, int]:
    # Counts land in the result backend, as for calculations.
    return services.functions_sweep()
