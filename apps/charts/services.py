"""Writes of the chart job: create a function, queue refreshes, render a chart, cancel, sweep.

The job lifecycle (publish after commit with the outbox, claim with an attempt token,
progress, finish, fail, cancel, sweep) is `apps.jobs.services`, shared with calculations;
this module keeps what is a chart's own: the points, the Highcharts options and the PNG.

Every state change is broadcast with `apps.live.realtime.broadcast_event(kind="function", ...)`
after commit, with the payload of `apps.charts.events.function_event_payload` (also the shape
of the REST detail's core fields):

    {"kind": "function", "id": 7,
     "expression": "t + 2/t", "status": "queued" | "running" | "finished" | "failed" | "cancelled",
     "progress": 0-100,                     # 10 before the data service, 50 before the export server
     "processed_at": ISO-8601 UTC | null,      # end of the last processing (finished, failed, cancelled)
     "error": "",                          # text of the last failure, "" after a success
     "image_url": "/charts/7/3f2a9c0d1b7e4a55.png" | null,  # versioned: new image, new URL
     "updated_at": ISO-8601 UTC with microseconds}   # order of events: drop older ones

The chart job (`function_render`) never holds a transaction open across an HTTP call: it
claims the row, checks it still holds it before each outside call (a cancel stops it there),
asks the data service for the points, the export server for the PNG, and stores the result
in one UPDATE that only lands while its attempt still holds the row.
"""

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.charts.chart_options import function_chart_options
from apps.charts.events import FunctionEventOut, function_event_payload
from apps.charts.models import Function
from apps.core.errors import DomainError, FieldError, NotFoundError
from apps.integrations import dataservice, export_server
from apps.integrations.transport import ServiceError
from apps.jobs import services as jobs
from apps.jobs.audit import Actor
from apps.jobs.models import IN_FLIGHT, JobStatus
from apps.jobs.quotas import jobs_quota_check
from apps.jobs.registry import JobKind, JobPolicy
from apps.jobs.services import JobAbandoned

logger = logging.getLogger(__name__)


# --- validation -----------------------------------------------------------------------------


def function_validate(*, expression: str, dt: float, interval: float) -> None:
    """Refuse what the data service would refuse, with its own checks and messages.

    Its parser and limits run here in-process (same code, same DATASERVICE_* settings), so a
    malformed expression or too many points is a field error in the form and the API, with
    the position of the offending character, before anything is stored.
    """
    errors = [
        FieldError(name, "type", f"{name} must be a finite number.")
        for name, value in (("dt", dt), ("interval", interval))
        if not math.isfinite(value)
    ]
    if errors:
        raise DomainError(f"Invalid input: {', '.join(str(e.field) for e in errors)}.", errors=errors)
    dataservice.points_request_check(expression=expression, dt=dt, interval=interval)


# How charts plug into the one job lifecycle (apps.jobs.services). The PNG is never loaded
# with a job: only the render writes it.
# Registered in ChartsConfig.ready(); settings CHARTS_<NAME> override its policy.
FUNCTION_JOB = JobKind(
    model=Function,
    task_name="charts.render",
    sweep_task_name="charts.sweep",
    payload=function_event_payload,
    event_schema=FunctionEventOut,
    deferred=("image",),
    finished_column="processed_at",
    policy=JobPolicy(
        # An attempt may wait for both services' timeouts.
        soft_time_limit=settings.DATASERVICE_TIMEOUT + settings.EXPORT_SERVER_TIMEOUT + 30,
        # A chart writes progress before each outside call: silent longer than one call can
        # last (the hard limit + 60 s) means lost.
        stale_after=None,
        queued_stale_after=600.0,
        retry_backoff_max=30.0,
        # One refresh of the most ids it takes (1,000), not a second while those are in flight.
        quota_in_flight=1000,
        # A function is a definition with one current chart: kept for ever (no retention_days).
    ),
)


# --- writes ---------------------------------------------------------------------------------


def function_create(*, expression: str, dt: float, interval: float, actor: Actor | None = None) -> Function:
    """Validate (`function_validate`), store a function (queued) and queue its chart after commit.
    `actor`: who creates it (the audit trail, and whose quota it counts against)."""
    expression = expression.strip()
    function_validate(expression=expression, dt=dt, interval=interval)
    return function_store(expression=expression, dt=dt, interval=interval, actor=actor)


def function_store(*, expression: str, dt: float, interval: float, actor: Actor | None = None) -> Function:
    """Store a function whose inputs `function_validate` accepted (the admin's form ran it),
    queued, and queue its chart after commit; 429 past the actor's quota."""
    now = timezone.now()
    user_id = actor.user_id if actor else None
    with transaction.atomic():
        jobs_quota_check(kind=FUNCTION_JOB, user_id=user_id, adding=1)
        function = Function.objects.create(
            expression=expression,
            dt=dt,
            interval=interval,
            status=JobStatus.QUEUED,
            queued_at=now,
            created_by_id=user_id,
            created_by_token=actor.token_name if actor else "",
            queued_by_id=user_id,
        )
        jobs.job_broadcast(kind=FUNCTION_JOB, job=function)
        jobs.jobs_publish_on_commit(kind=FUNCTION_JOB, ids=[function.pk])
    return function


@dataclass(frozen=True)
class RefreshResult:
    queued: int
    skipped: int  # already queued or running: never queued twice


def functions_refresh(*, ids: Sequence[int], actor: Actor | None = None) -> RefreshResult:
    """Queue a new chart for every listed row that is not already in flight: every one, or
    none (429) when they would take the actor past their quota. The rows record who
    refreshed them (rerun_by) and count against that user's quota until they end.

    One conditional UPDATE decides which rows move to `queued`, so two refreshes racing on
    the same rows cannot both queue one: PostgreSQL re-checks the WHERE after the row lock.
    """
    ids = sorted(set(ids))
    if not ids:
        return RefreshResult(queued=0, skipped=0)
    existing = set(Function.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing := [pk for pk in ids if pk not in existing]:
        shown = ", ".join(map(str, missing[:10])) + (", …" if len(missing) > 10 else "")
        raise NotFoundError(f"No function with id {shown}.")

    table = connection.ops.quote_name(Function._meta.db_table)
    now = timezone.now()
    user_id = actor.user_id if actor else None
    with transaction.atomic():
        adding = Function.objects.filter(pk__in=ids).exclude(status__in=IN_FLIGHT).count()
        jobs_quota_check(kind=FUNCTION_JOB, user_id=user_id, adding=adding)
        with connection.cursor() as cursor:
            cursor.execute(
                # Only our own table name is interpolated; every value is a parameter.
                # A new job cycle: its attempts count from zero, its message is not yet sent.
                f"UPDATE {table} SET status = %s, queued_at = %s, updated_at = %s, progress = 0, "
                "attempts = 0, attempt_token = NULL, dispatched_at = NULL, queued_by_id = %s, rerun_by_id = %s, "
                "rerun_at = %s "
                "WHERE id = ANY(%s) AND status <> ALL(%s) "
                "RETURNING id, expression, processed_at, error, image_hash",
                [JobStatus.QUEUED, now, now, user_id, user_id, now, ids, list(IN_FLIGHT)],
            )
            rows = cursor.fetchall()
        queued = [
            Function(
                pk=pk,
                expression=expression,
                status=JobStatus.QUEUED,
                processed_at=processed_at,
                error=error,
                image_hash=image_hash,
                updated_at=now,
            )
            for pk, expression, processed_at, error, image_hash in rows
        ]
        jobs.jobs_broadcast(kind=FUNCTION_JOB, jobs=queued)
        jobs.jobs_publish_on_commit(kind=FUNCTION_JOB, ids=[row[0] for row in rows])
    return RefreshResult(queued=len(rows), skipped=len(existing) - len(rows))


def function_cancel(*, function_id: int, actor: Actor | None = None) -> Function:
    """Cancel a queued or running chart (409 naming its status once it has ended)."""
    return jobs.job_cancel(kind=FUNCTION_JOB, job_id=function_id, actor=actor)


def functions_cancel(*, ids: Sequence[int], actor: Actor | None = None) -> list[Function]:
    return jobs.jobs_cancel(kind=FUNCTION_JOB, ids=ids, actor=actor)


def _step(function: Function, *, percent: int) -> None:
    """Before each outside call: the demo delay, then progress, which is also where a
    cancelled (or taken over) render notices it no longer holds its row."""
    if FUNCTION_JOB.setting("STEP_DELAY") > 0:
        time.sleep(FUNCTION_JOB.setting("STEP_DELAY"))
    jobs.job_progress(kind=FUNCTION_JOB, job=function, percent=percent)


def function_render(*, function_id: int, resume: bool = False) -> Function | None:
    """Draw the chart of one queued function and store it; None when there was nothing to do
    or this attempt lost its row (cancelled, swept, claimed again) before it ended.

    A transient service failure while attempts remain (CHARTS_MAX_ATTEMPTS, counted at each
    claim) is re-raised, the row staying `running`, so the task retries it later; otherwise
    the row ends `failed` with the service's error text.
    """
    function = jobs.job_claim(kind=FUNCTION_JOB, job_id=function_id, resume=resume)
    if function is None:
        return None
    attempt, max_attempts = function.attempts, FUNCTION_JOB.setting("MAX_ATTEMPTS")
    width, height = settings.CHARTS_IMAGE_WIDTH, settings.CHARTS_IMAGE_HEIGHT
    try:
        _step(function, percent=10)
        data = dataservice.dataservice_points(
            expression=function.expression, dt=function.dt, interval=function.interval
        )
        options = function_chart_options(
            expression=function.expression,
            dt=function.dt,
            interval=function.interval,
            points=data.points,
            width=width,
            height=height,
        )
        _step(function, percent=50)
        png = export_server.export_server_png(options=options, width=width, height=height)
        if not jobs.job_finish(
            kind=FUNCTION_JOB,
            job=function,
            values={"image": png, "image_hash": hashlib.sha256(png).hexdigest()},
        ):
            raise JobAbandoned(f"Function {function_id} is no longer held by this attempt.")
        return function
    except JobAbandoned:
        logger.info("Function %s: render stopped, cancelled or taken over by another attempt.", function_id)
        return None
    except ServiceError as exc:
        if exc.transient and attempt < max_attempts:
            logger.info("Function %s attempt %s/%s: %s; will retry", function_id, attempt, max_attempts, exc)
            raise
        error = f"{exc} after {attempt} attempt{'s' if attempt != 1 else ''}" if exc.transient else str(exc)
        return jobs.job_fail(kind=FUNCTION_JOB, job_id=function_id, job=function, error=error)
    except SoftTimeLimitExceeded:
        error = f"Chart job timed out after {FUNCTION_JOB.setting('SOFT_TIME_LIMIT'):g} s."
        return jobs.job_fail(kind=FUNCTION_JOB, job_id=function_id, job=function, error=error)
    except Exception as exc:
        # A bug or a database fault: one readable line for users, the traceback for operators.
        logger.exception("Function %s: chart job crashed", function_id)
        error = f"Chart job crashed ({type(exc).__name__}); see the worker log."
        return jobs.job_fail(kind=FUNCTION_JOB, job_id=function_id, job=function, error=error)


def functions_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic repair (beat): see `apps.jobs.services.jobs_sweep`."""
    return jobs.jobs_sweep(kind=FUNCTION_JOB, now=now)
