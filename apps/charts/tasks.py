"""Celery tasks of the charts job: thin wrappers around `apps.charts.services`.

`charts.render` takes a function id. Transient service failures (down, timeout, 5xx) are
retried with exponential backoff, at most CHARTS_RENDER_ATTEMPTS attempts in all; then the
row ends `failed` with the service's error text. Nothing stays `running` forever:
- the soft time limit ends the row `failed` ("timed out");
- an unexpected exception ends it `failed` in `on_failure`;
- a worker killed mid-run (or past the hard limit) has its message redelivered (late acks,
  reject on worker lost), and `charts.sweep` fails rows running past CHARTS_RUNNING_DEADLINE.
"""

import logging
import random
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from apps.charts import services
from apps.charts.clients import ServiceError

logger = logging.getLogger(__name__)


def retry_countdown(*, retries: int) -> float:
    """Exponential backoff (base * 2^n, capped) with jitter so parallel retries spread out."""
    delay = min(settings.CHARTS_RETRY_BACKOFF * 2**retries, settings.CHARTS_RETRY_BACKOFF_MAX)
    return delay * random.uniform(0.8, 1.2)


class FunctionRenderTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Anything the pipeline did not turn into a service error: a bug or a database fault.
        function_id = args[0] if args else kwargs.get("function_id")
        if function_id is not None and not isinstance(exc, ServiceError):
            services.function_fail(
                function_id=function_id,
                error=f"Chart job crashed ({type(exc).__name__}); see the worker log.",
            )


@shared_task(
    bind=True,
    base=FunctionRenderTask,
    name="charts.render",
    # The row (status, image, error) is the result; nothing goes to the result backend.
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CHARTS_RENDER_SOFT_TIME_LIMIT,
    time_limit=settings.CHARTS_RENDER_SOFT_TIME_LIMIT + 30,
    max_retries=max(settings.CHARTS_RENDER_ATTEMPTS - 1, 0),
)
def function_render_task(self, function_id: int) -> None:
    attempt = self.request.retries + 1
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        services.function_render(
            function_id=function_id, attempt=attempt, max_attempts=self.max_retries + 1, resume=redelivered
        )
    except ServiceError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(retries=self.request.retries)) from exc
    except SoftTimeLimitExceeded:
        services.function_fail(
            function_id=function_id,
            error=f"Chart job timed out after {settings.CHARTS_RENDER_SOFT_TIME_LIMIT:g} s.",
        )


@shared_task(name="charts.sweep", acks_late=True)
def functions_sweep_task() -> dict:
    result = services.functions_sweep(
        running_deadline=timedelta(seconds=settings.CHARTS_RUNNING_DEADLINE),
        queued_deadline=timedelta(seconds=settings.CHARTS_QUEUED_DEADLINE),
    )
    return {"failed": result.failed, "requeued": result.requeued}
