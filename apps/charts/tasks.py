"""Celery tasks of the charts job: thin wrappers around `apps.charts.services`.

`charts.render` takes a function id; it is published by name (`apps.jobs.services`), so the
services never import this module. A transient service failure (down, timeout, 5xx) is
retried with exponential backoff; every attempt is counted when it claims the row, and
after CHARTS_MAX_ATTEMPTS the row ends `failed` with the service's error text. Nothing stays
`running` forever: the soft time limit fails the row ("timed out"); a worker killed
mid-run (or past the hard limit) has its message redelivered (late acks, reject on worker
lost) and the claim fails the row once its attempts are used up; `charts.sweep` requeues
rows whose worker vanished with its message.
"""

import random

from celery import shared_task
from django.conf import settings

from apps.charts import services
from apps.charts.clients import ServiceError


def retry_countdown(*, retries: int) -> float:
    """Exponential backoff (base * 2^n, capped) with jitter so parallel retries spread out."""
    delay = min(settings.CHARTS_RETRY_BACKOFF * 2**retries, settings.CHARTS_RETRY_BACKOFF_MAX)
    return delay * random.uniform(0.8, 1.2)


@shared_task(
    bind=True,
    name="charts.render",
    # The row (status, image, error) is the result; nothing goes to the result backend.
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CHARTS_SOFT_TIME_LIMIT,
    time_limit=settings.CHARTS_TIME_LIMIT,
    # The claim enforces CHARTS_MAX_ATTEMPTS; this only bounds the retries Celery keeps.
    max_retries=settings.CHARTS_MAX_ATTEMPTS,
)
def function_render_task(self, function_id: int) -> None:
    # A retry or a redelivery (its worker died) takes over the row its earlier attempt held.
    resume = self.request.retries > 0 or bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        services.function_render(function_id=function_id, resume=resume)
    except ServiceError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(retries=self.request.retries)) from exc


@shared_task(name="charts.sweep", acks_late=True)
def functions_sweep_task() -> dict:
    return services.functions_sweep()
