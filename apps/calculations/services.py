"""Writes for calculations: create, re-run, run (the kernel and its rows), cancel, sweep.

The job lifecycle (publish after commit with the outbox, claim with an attempt token,
progress, finish, fail, cancel, sweep) is `apps.jobs.services`, shared with charts; this
module keeps what is a calculation's own: validating its inputs, the kernel and its rows.

A finished run always has all its rows and any other run none: the rows are written in the
same transaction as `finished`, and only while the attempt still holds the run, so a run
cancelled, swept or claimed again meanwhile keeps no rows.

Every state change is broadcast with `apps.live.realtime.broadcast_event` (sent after commit)
as `{"kind": "calculation", "id": ..., **calculation_event_payload(...)}`
(apps.calculations.events).
"""

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.calculations import kernel
from apps.calculations.events import CalculationEventOut, calculation_event_payload
from apps.calculations.forecast import engine
from apps.calculations.forecast.history import MIN_PRODUCING_POINTS
from apps.calculations.models import NAME_MAX_LENGTH, Calculation, CalculationChart, CalculationRow
from apps.core import locks
from apps.core.errors import DomainError, ServiceUnavailableError, UpstreamError
from apps.core.formatting import DateInputError, parse_iso_date
from apps.jobs import services as jobs
from apps.jobs.audit import Actor
from apps.jobs.models import MAX_ID, JobStatus
from apps.jobs.quotas import jobs_quota_check
from apps.jobs.registry import JobKind, JobPolicy
from apps.jobs.services import JobAbandoned
from apps.wells.models import Well

logger = logging.getLogger(__name__)

RERUN_SUFFIX = " (re-run)"


# How calculations plug into the one job lifecycle (apps.jobs.services).
# Registered in CalculationsConfig.ready(); settings CALCULATIONS_<NAME> override its policy.
CALCULATION_JOB = JobKind(
    model=Calculation,
    task_name="calculations.run",
    sweep_task_name="calculations.sweep",
    payload=calculation_event_payload,
    event_schema=CalculationEventOut,
    # JSON columns: loaded through the ORM (which decodes them) when a well run reads them,
    # never with every lifecycle write.
    deferred=("model", "forecast"),
    # A one-year calculation then costs two progress writes instead of a dozen. Ended runs
    # (with their rows and chart images) are kept 90 days unless pinned.
    policy=JobPolicy(progress_min_interval=0.25, retention_days=90.0),
)


# --- create -----------------------------------------------------------------------------


def default_name(*, date_start: date, date_fin: date, lag: int) -> str:
    every = "every day" if lag == 1 else f"every {lag} days"
    return f"{date_start.isoformat()} to {date_fin.isoformat()}, {every}"


def _as_date(value: Any, *, field: str) -> date:
    try:
        return parse_iso_date(value, field=field)
    except DateInputError as exc:
        raise DomainError(str(exc), field=field, rule=exc.rule) from exc


# The model keys a well run takes, in the API's order; `forecast_options` reads them.
MODEL_KEYS = (
    "method",
    "fit_from",
    "fit_to",
    "recency_half_life_days",
    "b_max",
    "terminal_decline",
    "economic_limit",
    "uptime",
    "min_hours_on",
)
_MODEL_NUMBERS = (
    "recency_half_life_days",
    "b_max",
    "terminal_decline",
    "economic_limit",
    "uptime",
    "min_hours_on",
)


def forecast_options(*, model: dict[str, Any]) -> engine.Options:
    """A well run's model options from what the client sent (every key optional).

    Each problem is a DomainError naming `model.<key>`: an unknown key, a value of the wrong
    type, a date not in YYYY-MM-DD, a value out of range, `fit_to` before `fit_from`.
    """
    for key in model:
        if key not in MODEL_KEYS:
            raise DomainError(
                f"model.{key} is not a model option; the options are: {', '.join(MODEL_KEYS)}.",
                field=f"model.{key}",
                rule="unknown_key",
            )
    values: dict[str, Any] = {}
    for key, value in model.items():
        if value is None:
            continue
        if key in ("fit_from", "fit_to"):
            values[key] = _as_date(value, field=f"model.{key}")
        elif key == "method":
            values[key] = str(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise DomainError(f"model.{key} must be a number.", field=f"model.{key}", rule="number_type")
        else:
            values[key] = float(value)
    options = engine.Options(**values)
    try:
        options.validate()
    except engine.ForecastInputError as exc:
        raise DomainError(str(exc), field=f"model.{exc.field}", rule=exc.rule) from exc
    return options


def _model_json(options: engine.Options) -> dict[str, Any]:
    """The options a well run used, defaults included, as stored with the run."""
    return {
        "method": options.method,
        "fit_from": options.fit_from.isoformat() if options.fit_from else None,
        "fit_to": options.fit_to.isoformat() if options.fit_to else None,
        **{key: getattr(options, key) for key in _MODEL_NUMBERS},
    }


def _forecast_check(*, well_id: int, options: engine.Options) -> None:
    from apps.calculations.selectors import well_forecast_history

    history = well_forecast_history(well_id=well_id)
    if history is None:
        raise DomainError(
            f"Too little history to fit: the well has no production records; "
            f"{MIN_PRODUCING_POINTS} producing points needed.",
            field="well",
            rule="too_little_history",
        )
    try:
        engine.check(history=history, options=options)
    except engine.ForecastInputError as exc:
        field = "well" if exc.field == "well" else f"model.{exc.field}"
        raise DomainError(str(exc), field=field, rule=exc.rule) from exc


def calculation_validate(
    *,
    date_start: date | str,
    date_fin: date | str,
    lag: int,
    name: str | None = None,
    well: int | None = None,
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check a run's domain rules; return its inputs cleaned (dates, final name).

    The shape (types, `lag` from LAG_MIN to LAG_MAX, `name` at most NAME_MAX_LENGTH) is the
    caller's: the API schema, the admin form (the model fields' validators); the table's
    constraints refuse anything else. Here, each a DomainError (422) naming the field and the
    rule: real dates in exactly YYYY-MM-DD (the parser the schema uses), `date_start <=
    date_fin`, at most CALCBOARD_MAX_RESULT_ROWS rows, no control characters in `name`.
    """
    start = _as_date(date_start, field="date_start")
    fin = _as_date(date_fin, field="date_fin")
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
    name = (name or "").strip()
    # PostgreSQL text cannot hold NUL; other control characters only garble lists and CSVs.
    if any(ord(char) < 32 and char not in "\t" for char in name):
        raise DomainError(
            "name must not contain control characters.", field="name", rule="invalid_characters"
        )
    cleaned: dict[str, Any] = {"date_start": start, "date_fin": fin, "lag": lag, "well_id": None, "model": {}}
    if well is None:
        if model is not None:
            raise DomainError(
                "model needs a well: a run without `well` is the synthetic kernel, which takes no model.",
                field="model",
                rule="requires_well",
            )
        cleaned["name"] = name or default_name(date_start=start, date_fin=fin, lag=lag)
        return cleaned
    found = Well.objects.filter(pk=well).only("name").first() if 1 <= well <= MAX_ID else None
    if found is None:
        raise DomainError(f"No well with id {well}.", field="well", rule="not_found")
    options = forecast_options(model=model or {})
    _forecast_check(well_id=found.pk, options=options)
    cleaned["well_id"], cleaned["model"] = found.pk, _model_json(options)
    cleaned["name"] = name or f"{found.name}: " + default_name(date_start=start, date_fin=fin, lag=lag)
    return cleaned


def calculation_create(
    *,
    date_start: date | str,
    date_fin: date | str,
    lag: int,
    name: str | None = None,
    well: int | None = None,
    model: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> Calculation:
    """Validate (`calculation_validate`), save a queued run and publish its task once the row is
    committed. With `well`, the run forecasts that well's history with `model`'s options.
    `actor`: who creates it (the audit trail, and whose quota it counts against)."""
    cleaned = calculation_validate(
        date_start=date_start, date_fin=date_fin, lag=lag, name=name, well=well, model=model
    )
    return calculation_store(**cleaned, actor=actor)


def calculation_store(
    *,
    date_start: date,
    date_fin: date,
    lag: int,
    name: str,
    well_id: int | None = None,
    model: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> Calculation:
    """Save a queued run from inputs `calculation_validate` cleaned (the admin's form ran it)
    and publish its task once the row is committed; 429 past the actor's quota."""
    user_id = actor.user_id if actor else None
    with transaction.atomic():
        jobs_quota_check(kind=CALCULATION_JOB, user_id=user_id, adding=1)
        now = timezone.now()
        calculation = Calculation.objects.create(
            date_start=date_start,
            date_fin=date_fin,
            lag=lag,
            name=name,
            well_id=well_id,
            model=model or {},
            status=JobStatus.QUEUED,
            launched_at=now,
            queued_at=now,
            created_by_id=user_id,
            created_by_token=actor.token_name if actor else "",
            queued_by_id=user_id,
        )
        # Registered before the publish, so `queued` always leaves before the worker's `running`.
        jobs.job_broadcast(kind=CALCULATION_JOB, job=calculation)
        jobs.jobs_publish_on_commit(kind=CALCULATION_JOB, ids=[calculation.pk])
    return calculation


WELLS_FORECAST_MAX = 1000


def calculations_forecast_wells(
    *,
    ids: Sequence[int],
    date_start: date | str,
    date_fin: date | str,
    lag: int,
    model: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> list[Calculation]:
    """One well run per well (`POST /api/wells/forecast`, the admin's "Forecast the selected
    wells"), in the order given; all or nothing.

    Every well is checked first (as `calculation_validate` checks one, its problems named
    `ids.<index>`), then all runs are saved in one transaction and published after it.
    """
    if len(ids) != len(set(ids)):
        raise DomainError("ids must not repeat a well.", field="ids", rule="unique")
    cleaned = []
    for index, well_id in enumerate(ids):
        try:
            cleaned.append(
                calculation_validate(
                    date_start=date_start, date_fin=date_fin, lag=lag, well=well_id, model=model
                )
            )
        except DomainError as exc:
            error = exc.errors[0]
            field = f"ids.{index}" if error.field in ("well", None) else error.field
            raise DomainError(f"Well {well_id}: {exc.message}", field=field, rule=error.rule) from exc
    with transaction.atomic():
        # The quota counts each run as it is stored: past it the whole batch is refused (429).
        return [calculation_store(**inputs, actor=actor) for inputs in cleaned]


def rerun_name(name: str) -> str:
    """`"Well 12"` -> `"Well 12 (re-run)"`; a re-run of a re-run keeps one mark."""
    base = name.removesuffix(RERUN_SUFFIX)
    return base[: NAME_MAX_LENGTH - len(RERUN_SUFFIX)] + RERUN_SUFFIX


def calculation_rerun(*, calculation_id: int, actor: Actor | None = None) -> Calculation:
    """Queue a new run with the same inputs as an existing one, its name marked as a re-run;
    the original records who re-ran it and when."""
    from apps.calculations.selectors import calculation_get

    original = calculation_get(calculation_id=calculation_id)
    with transaction.atomic():
        rerun = calculation_create(
            date_start=original.date_start,
            date_fin=original.date_fin,
            lag=original.lag,
            name=rerun_name(original.name),
            well=original.well_id,
            model=original.model if original.well_id is not None else None,
            actor=actor,
        )
        Calculation.objects.filter(pk=original.pk).update(
            rerun_by_id=actor.user_id if actor else None, rerun_at=rerun.launched_at
        )
    return rerun


def calculations_rerun(*, ids: Sequence[int], actor: Actor | None = None) -> list[Calculation]:
    """Re-run each listed calculation (the admin's "Run again"), oldest first: all of them, or
    none when they would take the actor past their quota."""
    with transaction.atomic():
        jobs_quota_check(kind=CALCULATION_JOB, user_id=actor.user_id if actor else None, adding=len(set(ids)))
        return [calculation_rerun(calculation_id=pk, actor=actor) for pk in sorted(set(ids))]


def calculation_cancel(*, calculation_id: int, actor: Actor | None = None) -> Calculation:
    """Cancel a queued or running run (409 naming its status once it has ended)."""
    return jobs.job_cancel(kind=CALCULATION_JOB, job_id=calculation_id, actor=actor)


def calculations_cancel(*, ids: Sequence[int], actor: Actor | None = None) -> list[Calculation]:
    return jobs.jobs_cancel(kind=CALCULATION_JOB, ids=ids, actor=actor)


# --- run --------------------------------------------------------------------------------


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # job_fail keeps at most jobs.ERROR_MAX_LENGTH characters of it
    return f"The calculation failed: {type(exc).__name__}{': ' + text if text else ''}"


def _progress_writer(calculation: Calculation) -> Callable[[int], None]:
    """A kernel callback that writes and broadcasts progress, at most every few hundred ms.

    A written step is also where a run notices it was cancelled (or taken over): the write
    raises JobAbandoned and the kernel stops there.
    """
    interval = CALCULATION_JOB.setting("PROGRESS_MIN_INTERVAL")
    last_written = timezone.now()

    def on_progress(percent: int) -> None:
        nonlocal last_written
        now = timezone.now()
        # The last step is covered by the `finished` write; skip it and anything too soon.
        if percent >= 100 or (now - last_written).total_seconds() < interval:
            return
        last_written = now
        jobs.job_progress(kind=CALCULATION_JOB, job=calculation, percent=percent)

    return on_progress


# PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html):
# a header, then per row a field count and each field as (length, big-endian value).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_COPY_ROW = np.dtype(
    [("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("date_len", ">i4"), ("date", ">i4")]
    + [
        (f"{name}{part}", ">i4" if part == "_len" else ">f8")
        for name in ("liquid", "oil", "water", "wct")
        for part in ("_len", "")
    ]
)
# PostgreSQL counts dates from 2000-01-01; numpy from 1970-01-01.
_PG_EPOCH_DAYS = int(np.datetime64("2000-01-01", "D").astype(np.int64))


def _rows_copy_buffer(*, calculation_id: int, frame: pd.DataFrame) -> bytes:
    """The run's rows as one binary COPY buffer, built by numpy in one pass.

    Safe because every value is fixed-width (bigint, date, float8) and written as the exact
    same double the kernel computed: what the text format did with `repr`, without formatting
    and parsing 1,800 numbers per one-year run in Python and in PostgreSQL (the rows' share
    of a run: bench/calculations_queue.py's phase table).
    """
    rows = np.empty(len(frame), dtype=_COPY_ROW)
    rows["fields"] = 6
    rows["id_len"], rows["id"] = 8, calculation_id
    rows["date_len"] = 4
    rows["date"] = frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64) - _PG_EPOCH_DAYS
    for name in ("liquid", "oil", "water", "wct"):
        rows[f"{name}_len"], rows[name] = 8, frame[name].to_numpy(dtype=np.float64)
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def _rows_insert(*, calculation_id: int, frame: pd.DataFrame) -> None:
    """COPY the run's rows in (inside the caller's transaction).

    No DELETE first: rows are only ever written together with `finished` and a run is only
    claimed while it is not finished, so a run being finished has no rows (and the unique
    (calculation, date) index would refuse a second set). One round trip saved per run.
    """
    table = CalculationRow._meta.db_table
    # The raw psycopg2 cursor speaks COPY; wrap it so errors arrive as Django's exceptions.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(
            f"COPY {table} (calculation_id, date, liquid, oil, water, wct) FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(_rows_copy_buffer(calculation_id=calculation_id, frame=frame)),
        )


def calculation_run(*, calculation_id: int, resume: bool = False) -> Calculation | None:
    """Run one calculation end to end in this process (called by the `calculations.run` task).

    Returns the run as this attempt left it, or None when there was nothing to do (gone,
    ended, held by another attempt, out of attempts). A cancelled run stops at its next
    progress step and keeps no rows. A database outage is not the run's fault:
    OperationalError/InterfaceError propagate so the task is retried (`resume`); anything
    else fails the run with a readable reason.
    """
    calculation = jobs.job_claim(kind=CALCULATION_JOB, job_id=calculation_id, resume=resume)
    if calculation is None:
        return None
    try:
        summary: dict[str, Any] | None = None
        if calculation.model:
            frame, summary = _forecast_run(calculation)
        else:
            frame = kernel.run(
                date_start=calculation.date_start,
                date_fin=calculation.date_fin,
                lag=calculation.lag,
                on_progress=_progress_writer(calculation),
                step_delay=CALCULATION_JOB.setting("STEP_DELAY"),
            )
        with transaction.atomic():
            if jobs.job_finish(kind=CALCULATION_JOB, job=calculation):
                _rows_insert(calculation_id=calculation_id, frame=frame)
                if summary is not None:
                    Calculation.objects.filter(pk=calculation_id).update(forecast=summary)
            else:
                raise JobAbandoned(f"Calculation {calculation_id} is no longer held by this attempt.")
        return calculation
    except JobAbandoned:
        logger.info("Calculation %s stopped: cancelled or taken over by another attempt.", calculation_id)
        return None
    except (OperationalError, InterfaceError):
        raise
    except SoftTimeLimitExceeded:
        error = f"The calculation timed out after {CALCULATION_JOB.setting('SOFT_TIME_LIMIT'):g} s."
        return jobs.job_fail(kind=CALCULATION_JOB, job_id=calculation_id, job=calculation, error=error)
    except Exception as exc:
        # Users see one readable sentence; operators get the traceback in the worker log.
        logger.exception("Calculation %s failed", calculation_id)
        return jobs.job_fail(
            kind=CALCULATION_JOB, job_id=calculation_id, job=calculation, error=_short_error(exc)
        )


class WellRunError(Exception):
    """A well run that cannot be computed any more (its well or history changed since it was queued)."""


def _forecast_run(calculation: Calculation) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A well run's rows and forecast summary (the decline-curve kernel)."""
    from apps.calculations.selectors import well_forecast_history

    if calculation.well_id is None:
        raise WellRunError("its well was deleted after the run was queued.")
    history = well_forecast_history(well_id=calculation.well_id)
    if history is None:
        raise WellRunError("the well has no production history any more.")
    options = forecast_options(model=calculation.model)
    try:
        result = engine.forecast(
            history=history,
            date_start=calculation.date_start,
            date_fin=calculation.date_fin,
            lag=calculation.lag,
            options=options,
        )
    except engine.ForecastInputError as exc:
        raise WellRunError(str(exc)) from exc
    summary = {
        "well": calculation.well_id,
        **result.summary,
        "oil_rate_band": {name: np.round(values, 3).tolist() for name, values in result.band.items()},
    }
    return result.frame(), summary


def calculation_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic repair (beat): see `apps.jobs.services.jobs_sweep`; also expires old
    idempotency records. Returns counts: {"requeued", "failed", "dispatched", "undispatched"}."""
    counts = jobs.jobs_sweep(kind=CALCULATION_JOB, now=now)
    jobs.idempotency_records_expire(now=now)
    return counts


# --- chart images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartImage:
    image_hash: str
    content: bytes | None  # None: the client's copy is current (`client_has`)


# Names of the advisory locks (apps.core.locks) of the drawing: the slots bound how many web
# workers draw at once; one lock per image makes concurrent requests for it share a drawing.
CHART_DRAWING_SLOTS_LOCK = "calculations.chart_drawing_slot"
CHART_IMAGE_LOCK = "calculations.chart_image"
# A stored image's last use is written at most this often: serving stays a read.
CHART_USE_RESOLUTION = timedelta(hours=1)
# Seconds a client is told to wait when every drawing slot is taken (a drawing takes well
# under a second) or the export server is busy.
CHART_RETRY_AFTER = 2
# Seconds a drawing's result may take to be stored, on top of the drawing's own limit.
CHART_STORE_TIME = 5.0


def calculation_chart_get(
    *,
    calculation_id: int,
    image_type: str,
    width: int,
    height: int,
    client_has: Callable[[str], bool] = lambda image_hash: False,
) -> ChartImage:
    """A finished run's image (rates and water cut, the run's name as title) of this type and
    size: drawn by the export server on the first request, then served from the database.

    404 for an unknown run, 409 until it has finished, 503 (502 for a refusal) when the
    export server fails or every drawing slot is taken; nothing is stored then. When
    `client_has` the stored image's hash (its ETag), the image is not loaded: `content` is None.
    """
    from apps.calculations import selectors

    lookup = selectors.calculation_chart_lookup(
        calculation_id=calculation_id, image_type=image_type, width=width, height=height
    )
    if lookup.chart_id is not None and lookup.image_hash is not None:
        _chart_mark_used(chart_id=lookup.chart_id, used_at=lookup.used_at)
        if client_has(lookup.image_hash):
            return ChartImage(image_hash=lookup.image_hash, content=None)
        stored = selectors.calculation_chart_image(chart_id=lookup.chart_id)
        if stored is not None:
            return ChartImage(image_hash=stored[1], content=stored[0])
    return calculation_chart_draw(
        calculation_id=calculation_id, image_type=image_type, width=width, height=height
    )


def _chart_mark_used(*, chart_id: int, used_at: datetime | None) -> None:
    """Note that a stored image is served (the eviction order), at most once an hour."""
    now = timezone.now()
    if used_at is not None and now - used_at >= CHART_USE_RESOLUTION:
        CalculationChart.objects.filter(pk=chart_id).update(used_at=now)


def calculation_chart_draw(*, calculation_id: int, image_type: str, width: int, height: int) -> ChartImage:
    """Draw the image through the export server and store it (replacing an outdated one),
    holding one of CALCULATION_CHARTS_DRAWING_SLOTS and this image's lock: a request that
    finds no free slot answers 503 at once; one that finds the image being drawn waits for
    that drawing and serves its result."""
    from apps.calculations import selectors

    busy = f"Every drawing slot for calculation images is taken; retry in {CHART_RETRY_AFTER} s."
    with locks.advisory_slot(
        name=CHART_DRAWING_SLOTS_LOCK, slots=settings.CALCULATION_CHARTS_DRAWING_SLOTS
    ) as has_slot:
        if not has_slot:
            raise ServiceUnavailableError(busy, retry_after=CHART_RETRY_AFTER)
        image_key = f"{calculation_id}/{image_type}/{width}x{height}"
        # Waits as long as the drawing it waits for may take, plus the time to store it.
        wait = settings.CALCULATION_CHARTS_DRAW_TIMEOUT + CHART_STORE_TIME
        with locks.advisory_lock(name=CHART_IMAGE_LOCK, key=image_key, wait=wait) as has_image:
            if not has_image:
                raise ServiceUnavailableError(busy, retry_after=CHART_RETRY_AFTER)
            # Drawn by the request this one waited for?
            lookup = selectors.calculation_chart_lookup(
                calculation_id=calculation_id, image_type=image_type, width=width, height=height
            )
            stored = selectors.calculation_chart_image(chart_id=lookup.chart_id) if lookup.chart_id else None
            if stored is not None:
                return ChartImage(image_hash=stored[1], content=stored[0])
            return _chart_draw_and_store(
                calculation_id=calculation_id, image_type=image_type, width=width, height=height
            )


def _chart_draw_and_store(*, calculation_id: int, image_type: str, width: int, height: int) -> ChartImage:
    from apps.calculations import selectors
    from apps.calculations.chart_options import calculation_chart_options
    from apps.integrations import export_server
    from apps.integrations.transport import ServiceError

    source = selectors.calculation_chart_source(calculation_id=calculation_id)
    options = calculation_chart_options(
        name=source.name,
        series=source.series,
        width=width,
        height=height,
        history=source.history,
        band=source.band,
    )
    try:
        image = export_server.export_server_image(
            options=options,
            width=width,
            height=height,
            image_type=image_type,
            timeout=settings.CALCULATION_CHARTS_DRAW_TIMEOUT,
        )
    except ServiceError as exc:
        if exc.transient:
            raise ServiceUnavailableError(str(exc), retry_after=CHART_RETRY_AFTER) from exc
        raise UpstreamError(str(exc), rule="export_server") from exc
    image_hash = hashlib.sha256(image).hexdigest()
    with transaction.atomic():
        CalculationChart.objects.update_or_create(
            calculation_id=calculation_id,
            format=image_type,
            width=width,
            height=height,
            defaults={
                "drawn_from": source.finished_at,
                "image": image,
                "image_hash": image_hash,
                "size": len(image),
                "used_at": timezone.now(),
            },
        )
        calculation_charts_evict(max_bytes=settings.CALCULATION_CHARTS_STORE_BYTES)
    return ChartImage(image_hash=image_hash, content=image)


def calculation_charts_evict(*, max_bytes: int) -> int:
    """Delete the least recently used stored images until the rest weigh at most `max_bytes`
    together; returns how many went. One statement: the running total over the images from
    the most recently used down picks them."""
    table = CalculationChart._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {table} WHERE id IN (
                SELECT id FROM (
                    SELECT id, sum(size) OVER (ORDER BY used_at DESC, id DESC) AS kept FROM {table}
                ) ranked
                WHERE kept > %s
            )
            """,
            [max_bytes],
        )
        return cursor.rowcount
