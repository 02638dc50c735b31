"""The one retry policy of job tasks, beside the lifecycle: `job_task` declares the task of a
job kind under the name its `JobKind` publishes (`calculations.run`, `charts.render`), so
both follow the same rules.

- **Acknowledged late, rejected on worker lost.** A worker that dies mid-job has its message
  redelivered; the claim counts every attempt (`apps.jobs.services.job_claim`), so a job
  whose worker keeps dying ends `failed` after `<KIND>_MAX_ATTEMPTS`.
- **Time limits.** Past `<KIND>_SOFT_TIME_LIMIT` the job's service fails it as timed out;
  past `<KIND>_TIME_LIMIT` the process is killed (and the message redelivered).
- **Transient failures are retried**, with exponential backoff and jitter
  (`retry_countdown`: `<KIND>_RETRY_BACKOFF * 2^n`, capped at `<KIND>_RETRY_BACKOFF_MAX`).
  Transient is PostgreSQL unreachable (not the job's fault) and whatever the kind names (a
  chart's `ServiceError`, which its service re-raises only while attempts remain). At most
  `MAX_RETRIES` retries per message: a database outage longer than that leaves the job to
  the sweep.
- **A retry or a redelivery resumes:** it may take over the job its earlier attempt held.
- **No result:** the row (status, progress, error, timings) is the result.
"""

import random
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.jobs.registry import JobKind

# Retries one message gets (every one also bounded by the claim's <KIND>_MAX_ATTEMPTS once it
# claimed the job): with the default backoff, about eight minutes of a database outage.
MAX_RETRIES = 12
# What is never the job's fault, whatever its kind: the database is unreachable.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def retry_countdown(*, kind: JobKind, retries: int) -> float:
    """Seconds before retry number `retries` + 1: `<KIND>_RETRY_BACKOFF * 2^retries`, capped
    at `<KIND>_RETRY_BACKOFF_MAX`, times 0.8-1.2 so parallel retries spread out."""
    delay = min(kind.setting("RETRY_BACKOFF") * 2**retries, kind.setting("RETRY_BACKOFF_MAX"))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def job_task(
    *, kind: JobKind, retry_on: tuple[type[Exception], ...] = ()
) -> Callable[[Callable[..., None]], Any]:
    """Declare `work(job_id, *, resume)` as the task of `kind` (named `kind.task_name`) under
    the policy above; `retry_on` adds the kind's own transient errors."""
    transient = TRANSIENT_ERRORS + retry_on

    def declare(work: Callable[..., None]) -> Any:  # a Celery task
        def run(self: Any, job_id: int) -> None:  # self: the bound Celery task
            redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
            try:
                work(job_id, resume=self.request.retries > 0 or redelivered)
            except transient as exc:
                countdown = retry_countdown(kind=kind, retries=self.request.retries)
                raise self.retry(exc=exc, countdown=countdown) from exc

        # Named after `work` (not functools.wraps: Celery would read work's signature).
        run.__name__ = run.__qualname__ = work.__name__
        run.__module__, run.__doc__ = work.__module__, work.__doc__
        return shared_task(
            bind=True,
            name=kind.task_name,
            ignore_result=True,
            acks_late=True,
            reject_on_worker_lost=True,
            soft_time_limit=kind.setting("SOFT_TIME_LIMIT"),
            time_limit=kind.setting("TIME_LIMIT"),
            max_retries=MAX_RETRIES,
        )(run)

    return declare


@shared_task(name="jobs.purge", acks_late=True)
def jobs_purge_task() -> dict[str, int]:
    """Retention (beat, every JOBS_RETENTION_INTERVAL): for each registered kind with
    `retention_days`, its ended, unpinned jobs past them go (`apps.jobs.retention`).
    Answers the rows removed per kind."""
    from apps.jobs.registry import job_kinds
    from apps.jobs.retention import jobs_purge

    return {kind.live_kind: jobs_purge(kind=kind).total_rows for kind in job_kinds}
