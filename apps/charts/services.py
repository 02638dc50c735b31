"""Writes of the charts job: create a function, queue refreshes, render a chart, sweep stuck rows.

Every state change is broadcast with `apps.live.realtime.broadcast_event(kind="function", ...)`
after commit. The payload (also the shape of the REST detail's core fields):

    {"kind": "function", "id": 7,
     "expression": "t + 2/t", "status": "queued" | "running" | "finished" | "failed",
     "processed_at": ISO-8601 UTC | null,      # end of the last processing (finished or failed)
     "error": "",                          # text of the last failure, "" after a success
     "image_url": "/charts/7/3f2a9c0d1b7e4a55.png" | null,  # versioned: new image, new URL
     "updated_at": ISO-8601 UTC with microseconds}   # order of events: drop older ones

The pipeline (`function_render`) never holds a transaction open across an HTTP call: it marks
the row running, asks the data service for the points, asks the export server for the PNG,
then stores the result in one UPDATE.
"""

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.charts import clients
from apps.charts.models import Function
from apps.charts.selectors import function_image_url
from apps.core.errors import DomainError, FieldError, NotFoundError
from apps.live.realtime import broadcast_event

logger = logging.getLogger(__name__)

Status = Function.Status


# --- validation -----------------------------------------------------------------------------


def function_validate(*, expression: str, dt: float, interval: float) -> None:
    """Refuse what the data service would refuse, with its own checks and messages.

    Its parser and limits run here in-process (same code, same DATASERVICE_* settings), so a
    malformed expression or too many points is a field error in the form and the API, with
    the position of the offending character, before anything is stored.
    """
    from apps.dataservice.schemas import points_request_parse

    errors = [
        FieldError(name, "type", f"{name} must be a finite number.")
        for name, value in (("dt", dt), ("interval", interval))
        if not math.isfinite(value)
    ]
    if errors:
        raise DomainError(f"Invalid input: {', '.join(e.field for e in errors)}.", errors=errors)
    # Decimal(repr(x)): the shortest text of the float, as it would travel in JSON.
    points_request_parse(
        data={"expression": expression, "dt": Decimal(repr(dt)), "interval": Decimal(repr(interval))}
    )


# --- events ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds and a `Z` (the API's one timestamp format)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def function_payload(*, function: Function) -> dict:
    """The documented live event payload (see the module docstring)."""
    return {
        "expression": function.expression,
        "status": function.status,
        "processed_at": _iso(function.processed_at),
        "error": function.error,
        "image_url": function_image_url(function_id=function.pk, image_hash=function.image_hash),
        "updated_at": _iso(function.updated_at),
    }


def _broadcast(function: Function) -> None:
    broadcast_event(kind="function", obj_id=function.pk, payload=function_payload(function=function))


def _load(function_id: int) -> Function:
    return Function.objects.defer("image").get(pk=function_id)


def _enqueue(function_ids: Sequence[int]) -> None:
    """Queue one render task per row once the surrounding transaction commits.

    `robust`: a broker that is down must not turn a committed save into a 500; the row stays
    `queued` and `functions_sweep` publishes it again later.
    """
    from apps.charts.tasks import function_render_task

    def publish(function_id: int) -> Callable[[], None]:
        def publish_render_task() -> None:  # a named function: Django logs a failure by its name
            function_render_task.delay(function_id)

        return publish_render_task

    for function_id in function_ids:
        transaction.on_commit(publish(function_id), robust=True)


# --- writes ---------------------------------------------------------------------------------


def function_create(*, expression: str, dt: float, interval: float) -> Function:
    """Store a function (queued) and queue its chart after commit."""
    expression = expression.strip()
    function_validate(expression=expression, dt=dt, interval=interval)
    now = timezone.now()
    with transaction.atomic():
        function = Function.objects.create(
            expression=expression,
            dt=dt,
            interval=interval,
            status=Status.QUEUED,
            queued_at=now,
        )
        _broadcast(function)
        _enqueue([function.pk])
    return function


@dataclass(frozen=True)
class RefreshResult:
    queued: int
    skipped: int  # already queued or running: never queued twice


def functions_refresh(*, ids: Sequence[int]) -> RefreshResult:
    """Queue a new chart for every listed row that is not already in flight.

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
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                # Only our own table name is interpolated; every value is a parameter.
                f"UPDATE {table} SET status = %s, queued_at = %s, updated_at = %s "
                "WHERE id = ANY(%s) AND status NOT IN (%s, %s) "
                "RETURNING id, expression, processed_at, error, image_hash",
                [Status.QUEUED, now, now, ids, Status.QUEUED, Status.RUNNING],
            )
            rows = cursor.fetchall()
        for pk, expression, processed_at, error, image_hash in rows:
            _broadcast(
                Function(
                    pk=pk,
                    expression=expression,
                    status=Status.QUEUED,
                    processed_at=processed_at,
                    error=error,
                    image_hash=image_hash,
                    updated_at=now,
                )
            )
        _enqueue([row[0] for row in rows])
    return RefreshResult(queued=len(rows), skipped=len(existing) - len(rows))


def function_fail(*, function_id: int, error: str) -> None:
    """End the row as failed with a text that says which service failed and how."""
    now = timezone.now()
    updated = Function.objects.filter(pk=function_id).update(
        status=Status.FAILED, error=error, processed_at=now, updated_at=now
    )
    if updated:
        _broadcast(_load(function_id))


def chart_options(
    *, expression: str, dt: float, interval: float, points: list, width: int, height: int
) -> dict:
    """Highcharts options: a line over a datetime x axis, which takes milliseconds."""
    return {
        "chart": {"type": "line", "width": width, "height": height, "animation": False},
        "title": {"text": expression},
        "subtitle": {"text": f"dt = {dt:g} h, interval = {interval:g} days"},
        "xAxis": {"type": "datetime", "title": {"text": "t"}},
        "yAxis": {"title": {"text": "y"}},
        "legend": {"enabled": False},
        "credits": {"enabled": False},
        "tooltip": {"enabled": False},
        "accessibility": {"enabled": False},
        # A still image: no animation, markers, hover states or mouse-tracking paths to build.
        "plotOptions": {
            "series": {
                "animation": False,
                "marker": {"enabled": False},
                "lineWidth": 1.5,
                "enableMouseTracking": False,
                "states": {"hover": {"enabled": False}},
            }
        },
        # [x, y] pairs: past the default turboThreshold (1000) Highcharts reads them on its fast
        # path, without checking every point.
        "series": [{"name": "y", "data": [[t * 1000, y] for t, y in points]}],
    }


def _claim(*, function_id: int, resume: bool) -> bool:
    """Move the row to `running`; a duplicate message for a row already in work is a no-op.

    `resume` (a retry, or a message redelivered after its worker died) may take over a row
    that is already `running`.
    """
    allowed = [Status.QUEUED, Status.RUNNING] if resume else [Status.QUEUED]
    now = timezone.now()
    return bool(
        Function.objects.filter(pk=function_id, status__in=allowed).update(
            status=Status.RUNNING, started_at=now, updated_at=now
        )
    )


def function_render(
    *, function_id: int, attempt: int = 1, max_attempts: int = 1, resume: bool = False
) -> Function | None:
    """Draw the chart of one queued function and store it; None when the row is not queued.

    A transient service failure before the last attempt is re-raised (the row stays
    `running`) so the task can retry it later; otherwise the row ends `failed` with the
    service's error text.
    """
    if not _claim(function_id=function_id, resume=resume or attempt > 1):
        return None
    function = _load(function_id)
    _broadcast(function)

    width, height = settings.CHARTS_IMAGE_WIDTH, settings.CHARTS_IMAGE_HEIGHT
    try:
        data = clients.dataservice_points(
            expression=function.expression, dt=function.dt, interval=function.interval
        )
        options = chart_options(
            expression=function.expression,
            dt=function.dt,
            interval=function.interval,
            points=data.points,
            width=width,
            height=height,
        )
        png = clients.export_server_png(options=options, width=width, height=height)
    except clients.ServiceError as exc:
        if exc.transient and attempt < max_attempts:
            logger.info("Function %s attempt %s/%s: %s; will retry", function_id, attempt, max_attempts, exc)
            raise
        error = f"{exc} after {attempt} attempt{'s' if attempt != 1 else ''}" if exc.transient else str(exc)
        function_fail(function_id=function_id, error=error)
        return Function.objects.defer("image").filter(pk=function_id).first()

    now = timezone.now()
    stored = Function.objects.filter(pk=function_id).update(
        status=Status.FINISHED,
        image=png,
        image_hash=hashlib.sha256(png).hexdigest(),
        processed_at=now,
        error="",
        updated_at=now,
    )
    if not stored:  # deleted while its chart was being drawn
        return None
    function = _load(function_id)
    _broadcast(function)
    return function


@dataclass(frozen=True)
class SweepResult:
    failed: int  # running past the deadline: their worker is gone
    requeued: int  # queued past the deadline: their message may never have reached the broker


def functions_sweep(*, running_deadline: timedelta, queued_deadline: timedelta) -> SweepResult:
    """Make sure no row stays `running` or `queued` forever (run periodically by beat)."""
    now = timezone.now()
    seconds = int(running_deadline.total_seconds())
    error = (
        f"Chart job lost: no worker finished it within {seconds} s (the worker stopped or was killed). "
        "Refresh to try again."
    )
    stale_running = list(
        Function.objects.filter(status=Status.RUNNING, started_at__lt=now - running_deadline).values_list(
            "pk", flat=True
        )
    )
    failed = 0
    for pk in stale_running:
        # Conditional per row: a row that finished meanwhile keeps its result.
        if Function.objects.filter(
            pk=pk, status=Status.RUNNING, started_at__lt=now - running_deadline
        ).update(status=Status.FAILED, error=error, processed_at=now, updated_at=now):
            failed += 1
            _broadcast(_load(pk))

    with transaction.atomic():
        stale_queued = list(
            Function.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED, queued_at__lt=now - queued_deadline)
            .values_list("pk", flat=True)
        )
        # queued_at moves forward so the next sweep waits a full deadline before publishing again.
        Function.objects.filter(pk__in=stale_queued).update(queued_at=now)
        _enqueue(stale_queued)
    if failed or stale_queued:
        logger.warning(
            "Charts sweep: %s lost running row(s) failed, %s queued row(s) re-published",
            failed,
            len(stale_queued),
        )
    return SweepResult(failed=failed, requeued=len(stale_queued))
