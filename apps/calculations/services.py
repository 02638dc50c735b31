"""Writes for calculations: create (and publish), run, sweep.

Life of a run
-------------
1. `calculation_create` validates the inputs, saves a `queued` row and, once that row is
   committed, publishes the `calculations.run` task (`calculation_dispatch`).
2. Outbox: a successful publish stamps `dispatched_at`. When RabbitMQ is unreachable the
   failure is logged, the API still answers 201 and the row keeps `dispatched_at = NULL`;
   the beat sweep (`calculation_sweep`) publishes such rows again once the broker is back.
3. `calculation_run` (in a worker) marks the run `running`, runs the kernel while writing and
   broadcasting progress, then in ONE transaction replaces the run's rows and marks it
   `finished`: a finished run always has all its rows, a failed one none. Redelivery of the
   same message (worker killed, duplicate publish) is harmless: a finished run is skipped,
   an interrupted one is run again and its rows are replaced, never duplicated.
4. A run stuck in `running` with no progress for `CALCBOARD_RUN_STALE_AFTER` seconds (its
   worker vanished and the message did not come back) is requeued by the sweep, or failed
   with a reason after `CALCBOARD_RUN_MAX_ATTEMPTS` attempts.
5. Only the commit that accepts a run waits for the disk; the bookkeeping commits after it
   do not (see `_commit_asynchronously` for why nothing can be lost that way).

Every state change is written first, then broadcast with `apps.live.realtime.broadcast_event`
(sent after commit) as `{"kind": "calculation", "id": ..., **calculation_event_payload(...)}`.
"""

import hashlib
import io
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.calculations import kernel
from apps.calculations.models import Calculation, CalculationChart, CalculationRow, CalculationStatus
from apps.core.errors import DomainError, ServiceUnavailableError
from apps.live.realtime import broadcast_event

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 200
LAG_MIN, LAG_MAX = 1, 3650
# Longest error text kept on a failed run: enough for a sentence, never a traceback.
ERROR_MAX_LENGTH = 500
# Rows published per sweep, so one sweep stays short even after a long broker outage.
SWEEP_BATCH = 500


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds and a `Z`, the one timestamp format of the API."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def calculation_event_payload(calculation: Calculation) -> dict[str, Any]:
    """The live event body of a calculation (broadcast adds `kind` and `id`).

    {
      "name": str,
      "status": "queued" | "running" | "finished" | "failed",
      "progress": int 0-100,
      "launched_at": ISO 8601 UTC (submitted),
      "started_at": ISO 8601 UTC | null (last attempt started),
      "finished_at": ISO 8601 UTC | null,
      "duration": float seconds | null (finished or failed runs),
      "error": str | null (failed runs only),
      "updated_at": ISO 8601 UTC with microseconds; drop events older than the last one seen
    }
    """
    return {
        "name": calculation.name,
        "status": calculation.status,
        "progress": calculation.progress,
        "launched_at": iso(calculation.launched_at),
        "started_at": iso(calculation.started_at),
        "finished_at": iso(calculation.finished_at),
        "duration": calculation.duration,
        "error": (calculation.error or None) if calculation.status == CalculationStatus.FAILED else None,
        "updated_at": iso(calculation.updated_at),
    }


def _broadcast(calculation: Calculation) -> None:
    broadcast_event(kind="calculation", obj_id=calculation.pk, payload=calculation_event_payload(calculation))


# --- create -----------------------------------------------------------------------------


def default_name(*, date_start: date, date_fin: date, lag: int) -> str:
    every = "every day" if lag == 1 else f"every {lag} days"
    return f"{date_start.isoformat()} to {date_fin.isoformat()}, {every}"


class DateInputError(ValueError):
    """A date input that is not exactly `YYYY-MM-DD` (rule `date_format`) or not a real day
    (rule `date_invalid`). Shared by the API schema and the service so both say the same."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_iso_date(value: Any, *, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    # date.fromisoformat alone also takes "20200101" and "2020-W01-1": the API promises one format.
    digits = value[:4] + value[5:7] + value[8:] if isinstance(value, str) else ""
    shaped = isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-"
    if not (shaped and digits.isascii() and digits.isdigit()):
        raise DateInputError("date_format", f"{field} must be a date in the format YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DateInputError("date_invalid", f"{field} is not a real calendar date.") from exc


def _as_date(value: Any, *, field: str) -> date:
    try:
        return parse_iso_date(value, field=field)
    except DateInputError as exc:
        raise DomainError(str(exc), field=field, rule=exc.rule) from exc


def calculation_validate(*, date_start: Any, date_fin: Any, lag: Any, name: Any = None) -> dict[str, Any]:
    """Check the inputs of a run; return them cleaned (dates, int lag, final name).

    Raises DomainError (422) naming the field and the rule that failed.
    """
    start = _as_date(date_start, field="date_start")
    fin = _as_date(date_fin, field="date_fin")
    if isinstance(lag, bool) or not isinstance(lag, int):
        raise DomainError("lag must be a whole number of days.", field="lag", rule="int_type")
    # Rule names match the ones the API schema reports for the same mistakes.
    if lag < LAG_MIN:
        raise DomainError(f"lag must be at least {LAG_MIN} day.", field="lag", rule="greater_than_equal")
    if lag > LAG_MAX:
        raise DomainError(f"lag must be at most {LAG_MAX} days.", field="lag", rule="less_than_equal")
    if start > fin:
        raise DomainError("date_fin must be on or after date_start.", field="date_fin", rule="date_order")
    rows = kernel.row_count(date_start=start, date_fin=fin, lag=lag)
    limit = settings.CALCBOARD_MAX_RESULT_ROWS
    if rows > limit:
        raise DomainError(
            f"date_fin is too far from date_start: the run would produce {rows} rows, the limit is {limit}. "
            "Shorten the period or raise lag.",
            field="date_fin",
            rule="max_rows",
        )
    if name is not None and not isinstance(name, str):
        raise DomainError("name must be text.", field="name", rule="string_type")
    name = (name or "").strip()
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError(
            f"name must be at most {NAME_MAX_LENGTH} characters.", field="name", rule="string_too_long"
        )
    # PostgreSQL text cannot hold NUL; other control characters only garble lists and CSVs.
    if any(ord(char) < 32 and char not in "\t" for char in name):
        raise DomainError("name must not contain control characters.", field="name", rule="invalid_characters")
    return {
        "date_start": start,
        "date_fin": fin,
        "lag": lag,
        "name": name or default_name(date_start=start, date_fin=fin, lag=lag),
    }


def calculation_create(*, date_start: date | str, date_fin: date | str, lag: int, name: str | None = None) -> Calculation:
    """Validate, save a queued run and publish its task once the row is committed."""
    cleaned = calculation_validate(date_start=date_start, date_fin=date_fin, lag=lag, name=name)
    with transaction.atomic():
        calculation = Calculation.objects.create(**cleaned, status=CalculationStatus.QUEUED)
        # Registered before the publish, so `queued` always leaves before the worker's `running`.
        _broadcast(calculation)
        # Never publish inside the transaction: the worker could look for the row before it exists.
        transaction.on_commit(lambda: calculation_dispatch(calculation_id=calculation.pk))
    return calculation


def calculation_dispatch(*, calculation_id: int) -> bool:
    """Publish the run's task and stamp `dispatched_at`; False (logged) if the broker is down.

    The row is the outbox: an unpublished run keeps `dispatched_at = NULL` and the beat sweep
    publishes it again, so an accepted run is never lost to a broker outage.
    """
    from apps.calculations.tasks import run_calculation  # tasks import services

    try:
        run_calculation.apply_async(
            args=[calculation_id],
            queue=settings.CALCULATIONS_QUEUE,
            routing_key=settings.CALCULATIONS_QUEUE,
            retry=True,
            retry_policy={
                "max_retries": settings.CALCBOARD_DISPATCH_RETRIES,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.5,
            },
        )
    except Exception:  # kombu/amqp raise a zoo of connection errors; all mean "not published"
        logger.warning(
            "Calculation %s saved but not published (broker unreachable?); the sweep will retry.",
            calculation_id,
            exc_info=True,
        )
        return False
    with transaction.atomic():
        _commit_asynchronously()
        Calculation.objects.filter(pk=calculation_id).update(dispatched_at=timezone.now())
    return True


# --- run --------------------------------------------------------------------------------


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"The calculation failed: {type(exc).__name__}{': ' + text if text else ''}"
    return message[:ERROR_MAX_LENGTH]


def _claim(*, calculation_id: int) -> Calculation | None:
    """Mark the run running (short transaction); None if it is gone or already done."""
    with transaction.atomic():
        _commit_asynchronously()
        calculation = Calculation.objects.select_for_update().filter(pk=calculation_id).first()
        if calculation is None:
            logger.info("Calculation %s no longer exists; nothing to run.", calculation_id)
            return None
        if calculation.status in (CalculationStatus.FINISHED, CalculationStatus.FAILED):
            logger.info("Calculation %s is already %s; skipping the redelivered task.", calculation_id, calculation.status)
            return None
        calculation.status = CalculationStatus.RUNNING
        calculation.progress = 0
        calculation.started_at = timezone.now()
        calculation.finished_at = None
        calculation.error = ""
        calculation.attempts += 1
        calculation.save(update_fields=["status", "progress", "started_at", "finished_at", "error", "attempts", "updated_at"])
        _broadcast(calculation)
    return calculation


def _commit_asynchronously() -> None:
    """Let the current transaction commit without waiting for its WAL flush (fsync).

    Used for the bookkeeping commits made after a run was accepted: the dispatch marker, the
    worker's `running` and `finished` writes. They are visible to everyone at once; only a
    PostgreSQL crash in the fraction of a second after them can undo them, and whatever it
    undoes is repaired: the run falls back to `queued` or `running` and the sweep publishes
    it again (undispatched, lost message, or silent running run), to be recomputed with the
    same result. The commit that accepts a run (`calculation_create`, the API's 201) keeps
    the default synchronous commit: an accepted run is never lost. Waiting for two fsyncs
    per run would otherwise cap a worker at a few dozen runs per second on a plain disk.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _progress_writer(calculation: Calculation):
    """A kernel callback that writes and broadcasts progress, at most every few hundred ms."""
    interval = settings.CALCBOARD_PROGRESS_MIN_INTERVAL
    last_written = timezone.now()

    def on_progress(percent: int) -> None:
        nonlocal last_written
        now = timezone.now()
        # The last step is covered by the `finished` write; skip it and anything too soon.
        if percent >= 100 or (now - last_written).total_seconds() < interval:
            return
        last_written = now
        updated = Calculation.objects.filter(pk=calculation.pk, status=CalculationStatus.RUNNING).update(
            progress=percent, updated_at=now
        )
        if updated:
            calculation.progress, calculation.updated_at = percent, now
            _broadcast(calculation)

    return on_progress


def _rows_replace(*, calculation_id: int, frame: pd.DataFrame) -> None:
    """Delete the run's rows and COPY the new ones in (inside the caller's transaction)."""
    CalculationRow.objects.filter(calculation_id=calculation_id).delete()
    dates = np.datetime_as_string(frame["date"].to_numpy().astype("datetime64[D]")).tolist()
    columns = [frame[name].tolist() for name in ("liquid", "oil", "water", "wct")]
    # repr() is the shortest text that reads back as the same float, as PostgreSQL prints it.
    text = "".join(
        f"{calculation_id},{day},{liquid!r},{oil!r},{water!r},{wct!r}\n"
        for day, liquid, oil, water, wct in zip(dates, *columns, strict=True)
    )
    table = CalculationRow._meta.db_table
    # The raw psycopg2 cursor speaks COPY; wrap it so errors arrive as Django's exceptions.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(
            f"COPY {table} (calculation_id, date, liquid, oil, water, wct) FROM STDIN WITH (FORMAT csv)",
            io.StringIO(text),
        )


def calculation_run(*, calculation_id: int) -> Calculation | None:
    """Run one calculation end to end in this process (called by the `calculations.run` task).

    Returns the run as it ended, or None when there was nothing to do (gone, already done).
    A database outage is not the run's fault: OperationalError/InterfaceError propagate so
    the task is retried; anything else fails the run with a readable reason.
    """
    calculation = _claim(calculation_id=calculation_id)
    if calculation is None:
        return None
    try:
        frame = kernel.run(
            date_start=calculation.date_start,
            date_fin=calculation.date_fin,
            lag=calculation.lag,
            on_progress=_progress_writer(calculation),
            step_delay=settings.CALCBOARD_KERNEL_STEP_DELAY,
        )
        with transaction.atomic():
            _commit_asynchronously()
            locked = Calculation.objects.select_for_update().filter(pk=calculation_id).first()
            if locked is None or locked.status == CalculationStatus.FINISHED:
                # Deleted meanwhile, or a duplicate delivery finished first: its rows stand.
                return locked
            _rows_replace(calculation_id=calculation_id, frame=frame)
            locked.status = CalculationStatus.FINISHED
            locked.progress = 100
            locked.finished_at = timezone.now()
            locked.error = ""
            locked.save(update_fields=["status", "progress", "finished_at", "error", "updated_at"])
            _broadcast(locked)
        return locked
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # Users see one readable sentence; operators get the traceback in the worker log.
        logger.exception("Calculation %s failed", calculation_id)
        return calculation_fail(calculation_id=calculation_id, error=_short_error(exc))


def calculation_fail(*, calculation_id: int, error: str) -> Calculation | None:
    """Mark an unfinished run failed with a readable reason; no rows are kept."""
    with transaction.atomic():
        calculation = Calculation.objects.select_for_update().filter(pk=calculation_id).first()
        if calculation is None or calculation.status == CalculationStatus.FINISHED:
            return calculation
        CalculationRow.objects.filter(calculation_id=calculation_id).delete()
        calculation.status = CalculationStatus.FAILED
        calculation.error = error[:ERROR_MAX_LENGTH]
        calculation.finished_at = timezone.now()
        calculation.save(update_fields=["status", "error", "finished_at", "updated_at"])
        _broadcast(calculation)
    return calculation


# --- sweep ------------------------------------------------------------------------------


def calculation_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic repair (beat): requeue or fail lost runs, publish undispatched ones.

    * `running` with no write for CALCBOARD_RUN_STALE_AFTER seconds: its worker is gone.
      Requeued (status `queued`, progress 0, published again) while it has attempts left,
      else `failed` with the reason.
    * `queued` and never published (broker was down) for CALCBOARD_DISPATCH_GRACE seconds,
      or published over CALCBOARD_QUEUED_STALE_AFTER seconds ago and still not started (the
      message was lost with the broker's data, or its task gave up while the database was
      down): published again. A duplicate message is harmless, the run is idempotent.

    Returns counts: {"requeued", "failed", "dispatched", "undispatched"}.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.CALCBOARD_RUN_STALE_AFTER)
    grace_before = now - timedelta(seconds=settings.CALCBOARD_DISPATCH_GRACE)
    lost_before = now - timedelta(seconds=settings.CALCBOARD_QUEUED_STALE_AFTER)
    counts = {"requeued": 0, "failed": 0, "dispatched": 0, "undispatched": 0}

    stale_ids = list(
        Calculation.objects.filter(status=CalculationStatus.RUNNING, updated_at__lt=stale_before)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for calculation_id in stale_ids:
        outcome = _stale_run_resolve(calculation_id=calculation_id, stale_before=stale_before)
        if outcome:
            counts[outcome] += 1

    pending_ids = list(
        Calculation.objects.filter(status=CalculationStatus.QUEUED)
        .filter(Q(dispatched_at__isnull=True, updated_at__lt=grace_before) | Q(dispatched_at__lt=lost_before))
        .order_by("launched_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for calculation_id in pending_ids:
        if calculation_dispatch(calculation_id=calculation_id):
            counts["dispatched"] += 1
        else:
            counts["undispatched"] += 1
            break  # the broker is still down: the next sweep tries again
    if any(counts.values()):
        logger.info("Calculation sweep: %s", counts)
    return counts


def _stale_run_resolve(*, calculation_id: int, stale_before: datetime) -> str | None:
    seconds = round(settings.CALCBOARD_RUN_STALE_AFTER)
    with transaction.atomic():
        calculation = (
            Calculation.objects.select_for_update(skip_locked=True)
            .filter(pk=calculation_id, status=CalculationStatus.RUNNING, updated_at__lt=stale_before)
            .first()
        )
        if calculation is None:  # it moved on (or its worker holds the lock) since we looked
            return None
        if calculation.attempts >= settings.CALCBOARD_RUN_MAX_ATTEMPTS:
            calculation.status = CalculationStatus.FAILED
            calculation.error = (
                f"The run was stopped after {calculation.attempts} attempts: each time its worker "
                f"stopped reporting progress for over {seconds} s (worker lost)."
            )
            calculation.finished_at = timezone.now()
            calculation.save(update_fields=["status", "error", "finished_at", "updated_at"])
            outcome = "failed"
        else:
            logger.warning(
                "Calculation %s requeued: no progress for over %s s on attempt %s (worker lost).",
                calculation_id, seconds, calculation.attempts,
            )
            calculation.status = CalculationStatus.QUEUED
            calculation.progress = 0
            calculation.dispatched_at = None
            calculation.error = f"Requeued: no progress for over {seconds} s on attempt {calculation.attempts}."
            calculation.save(update_fields=["status", "progress", "dispatched_at", "error", "updated_at"])
            transaction.on_commit(lambda: calculation_dispatch(calculation_id=calculation_id))
            outcome = "requeued"
        _broadcast(calculation)
    return outcome


# --- chart images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartImage:
    image_hash: str
    content: bytes | None  # None: the client's copy (If-None-Match) is current


def calculation_chart_get(
    *, calculation_id: int, image_type: str, width: int, height: int, known_hashes: Collection[str] = ()
) -> ChartImage:
    """A finished run's image (rates and water cut, the run's name as title) of this type and
    size: drawn by the export server on the first request, then served from the database.

    404 for an unknown run, 409 until it has finished, 503 (502 for a refusal) when the
    export server fails; nothing is stored then.
    """
    from apps.calculations import selectors

    lookup = selectors.calculation_chart_lookup(
        calculation_id=calculation_id, image_type=image_type, width=width, height=height
    )
    if lookup.image_hash is not None and lookup.image_hash in known_hashes:
        return ChartImage(image_hash=lookup.image_hash, content=None)
    stored = (
        selectors.calculation_chart_image(
            calculation_id=calculation_id, image_type=image_type, width=width, height=height
        )
        if lookup.image_hash is not None
        else None
    )
    if stored is not None:
        return ChartImage(image_hash=stored[1], content=stored[0])
    return calculation_chart_draw(calculation_id=calculation_id, image_type=image_type, width=width, height=height)


def calculation_chart_draw(*, calculation_id: int, image_type: str, width: int, height: int) -> ChartImage:
    """Draw the image through the export server and store it (replacing an outdated one)."""
    from apps.calculations import selectors
    from apps.calculations.chart_options import calculation_chart_options
    from apps.charts import clients

    source = selectors.calculation_chart_source(calculation_id=calculation_id)
    options = calculation_chart_options(name=source.name, series=source.series, width=width, height=height)
    try:
        image = clients.export_server_image(options=options, width=width, height=height, image_type=image_type)
    except clients.ServiceError as exc:
        if exc.transient:
            raise ServiceUnavailableError(str(exc)) from exc
        raise DomainError(str(exc), rule="image_service", status=502) from exc
    image_hash = hashlib.sha256(image).hexdigest()
    CalculationChart.objects.update_or_create(
        calculation_id=calculation_id,
        format=image_type,
        width=width,
        height=height,
        defaults={"drawn_from": source.finished_at, "image": image, "image_hash": image_hash},
    )
    return ChartImage(image_hash=image_hash, content=image)
