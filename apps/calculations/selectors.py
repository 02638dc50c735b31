"""Reads for calculations.

The detail endpoint's result table can hold 100,000 rows, so its JSON is built by PostgreSQL
(`json_agg`) and handed to the client as text: no model instance, no Python float is made per
row. The numbers are stored already rounded by the kernel (3 decimals for rates, 6 for the
water cut) and PostgreSQL prints floats in their shortest exact form, so nothing is lost.
"""

import calendar
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, FilteredRelation, FloatField, Func, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from apps.calculations.forecast.history import History
from apps.calculations.models import Calculation, CalculationChart, CalculationRow
from apps.core.errors import ConflictError, DomainError, NotFoundError
from apps.core.formatting import iso, json_object_with_raw
from apps.core.listing import (
    PAGE_SIZE_DEFAULT,
    ListOrdering,
    ListPage,
    list_page,
    names_parse,
    parse_datetime_key,
    search_parse,
    statuses_parse,
)
from apps.jobs.models import MAX_ID, JobStatus
from apps.wells.models import ProductionRecord

# Every ordering ends in the primary key (apps.core.listing): runs launched in the same
# microsecond still page deterministically. Indexes: (launched_at, id) and
# (status, launched_at, id), read in either direction.
ORDERINGS = {
    "launched_at": ListOrdering(key="launched_at", descending=False, parse=parse_datetime_key),
    "-launched_at": ListOrdering(key="launched_at", descending=True, parse=parse_datetime_key),
}
DETAIL_OPTIONAL_FIELDS = ("name", "duration", "summary", "forecast")
# `fields` names what the detail adds (the optional fields) and what it leaves out (`-result`).
DETAIL_FIELDS = (*DETAIL_OPTIONAL_FIELDS, "-result")


def calculation_list(
    *,
    page: int | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
    ordering: str = "-launched_at",
    status: str | Sequence[str] | None = None,
    search: str | None = None,
    created_by_id: int | None = None,
) -> ListPage:
    """One page of runs, newest first by default; `status` ("queued,failed"), `search` (in the
    name) and `created_by_id` narrow it. A page past the end is empty. See apps.core.listing
    (a creator, like a search, is counted up to its cap: the counters count statuses only)."""
    term = search_parse(value=search)
    narrowed = Q(name__icontains=term) if term else Q()
    if created_by_id is not None:
        narrowed &= Q(created_by_id=created_by_id)
    return list_page(
        queryset=Calculation.objects.select_related("created_by", "cancelled_by").only(
            "id",
            "name",
            "launched_at",
            "status",
            "pinned",
            "created_by_token",
            "created_by__username",
            "cancelled_by__username",
        ),
        orderings=ORDERINGS,
        ordering=ordering,
        statuses=statuses_parse(value=status, model=Calculation),
        search=narrowed or None,
        page=page,
        page_size=page_size,
        cursor=cursor,
    )


def calculation_get(*, calculation_id: int) -> Calculation:
    if not 1 <= calculation_id <= MAX_ID:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    calculation = Calculation.objects.filter(pk=calculation_id).first()
    if calculation is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    return calculation


def detail_fields_parse(*, fields: str | Sequence[str] | None) -> tuple[str, ...]:
    """`"name,duration"` -> ("name", "duration"); unknown names are a 422 listing allowed ones."""
    return names_parse(value=fields, allowed=DETAIL_FIELDS, field="fields", noun="field")


def _detail_sql() -> str:
    calculations = Calculation._meta.db_table
    rows = CalculationRow._meta.db_table
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    username = connection.ops.quote_name(get_user_model().USERNAME_FIELD)
    return f"""
        SELECT c.id, c.name, c.status, c.launched_at, c.started_at, c.finished_at, c.error, c.forecast::text,
               CASE WHEN c.status = %s THEN (
                   SELECT coalesce(json_agg(r ORDER BY r.date), '[]'::json)::text
                     FROM (SELECT date, liquid, oil, water, wct FROM {rows} WHERE calculation_id = c.id) r)
               END,
               c.pinned, c.created_by_token, creator.id, creator.{username}, canceller.id, canceller.{username}
          FROM {calculations} c
          LEFT JOIN {users} creator ON creator.id = c.created_by_id
          LEFT JOIN {users} canceller ON canceller.id = c.cancelled_by_id
         WHERE c.id = %s
    """


def calculation_detail_json(*, calculation_id: int, fields: Iterable[str] = ()) -> str:
    """The detail document as JSON text, in one query.

    {"id", ["name",] "launched_at", "status", "pinned", "created_by", ["cancelled_by",] ["duration",]
    "error", ["summary",] ["result"]}
    where error is null unless the run failed, and result is `[{"date", "liquid", "oil",
    "water", "wct"}, ...]` or null (left out, and not read, with "-result" in `fields`).
    """
    if not 1 <= calculation_id <= MAX_ID:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    with connection.cursor() as cursor:
        with_result = "-result" not in fields
        # Without the result, the CASE is never true: PostgreSQL does not read the rows.
        cursor.execute(_detail_sql(), [JobStatus.FINISHED.value if with_result else "", calculation_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    (
        pk,
        name,
        status,
        launched_at,
        started_at,
        finished_at,
        error,
        forecast,
        result,
        pinned,
        token,
        *people,
    ) = row
    creator_id, creator_name, canceller_id, canceller_name = people
    head: dict = {"id": pk}
    if "name" in fields:
        head["name"] = name
    head["launched_at"] = iso(launched_at)
    head["status"] = status
    head["pinned"] = pinned
    head["created_by"] = (
        {"id": creator_id, "username": creator_name, **({"token": token} if token else {})}
        if creator_id
        else None
    )
    if canceller_id:
        head["cancelled_by"] = {"id": canceller_id, "username": canceller_name}
    if "duration" in fields:
        head["duration"] = Calculation(started_at=started_at, finished_at=finished_at).duration
    head["error"] = (error or "The calculation failed.") if status == JobStatus.FAILED else None
    raw: dict[str, str | None] = {}
    if "summary" in fields:
        finished = status == JobStatus.FINISHED
        raw["summary"] = calculation_summary_json(calculation_id=pk) if finished else None
    if "forecast" in fields:
        # null for a run of the synthetic kernel and until a well run has finished
        raw["forecast"] = forecast if status == JobStatus.FINISHED else None
    if with_result:
        raw["result"] = result
    return json_object_with_raw(head, **raw)


def _summary_sql() -> str:
    """The summary figures of one run as a JSON object, in one statement.

    One pass over the run's rows aggregates the counts, sums, mean and peak; the first and
    last rows are index lookups on (calculation_id, date). The peak and its date come from the
    same pass as `max(ARRAY[liquid, -days since 1970])`: arrays compare element by element,
    so the highest rate wins and, among equal rates, the earliest date; a separate top-1
    query would scan the rows a second time (it cost as much as the rest of the summary,
    bench/calculations_summary.py).

    A row stands for the days until the next row: `lag` days, and the last row only up to
    `date_fin` inclusive, so the cumulative volumes cover exactly the period of the run.
    """
    calculations = Calculation._meta.db_table
    rows = CalculationRow._meta.db_table
    return f"""
        WITH totals AS (
            SELECT count(*) AS rows,
                   min(r.date) AS first_date,
                   max(r.date) AS last_date,
                   sum(r.oil * least(c.lag, c.date_fin - r.date + 1)) AS cumulative_oil,
                   sum(r.water * least(c.lag, c.date_fin - r.date + 1)) AS cumulative_water,
                   sum(r.liquid * least(c.lag, c.date_fin - r.date + 1)) AS cumulative_liquid,
                   avg(r.wct) AS wct_mean,
                   max(ARRAY[r.liquid, (DATE '1970-01-01' - r.date)::float8]) AS peak
              FROM {calculations} c JOIN {rows} r ON r.calculation_id = c.id
             WHERE c.id = %(id)s
        )
        SELECT json_build_object(
                   'rows', t.rows,
                   'first_date', t.first_date,
                   'last_date', t.last_date,
                   'cumulative_oil', t.cumulative_oil,
                   'cumulative_water', t.cumulative_water,
                   'cumulative_liquid', t.cumulative_liquid,
                   'wct_first', f.wct,
                   'wct_last', l.wct,
                   'wct_mean', t.wct_mean,
                   'peak_liquid', t.peak[1],
                   'peak_liquid_date', DATE '1970-01-01' - t.peak[2]::integer,
                   'oil_decline', CASE WHEN f.oil > 0 THEN (f.oil - l.oil) / f.oil * 100 END
               )::text
          FROM totals t
          LEFT JOIN LATERAL (SELECT wct, oil FROM {rows}
                              WHERE calculation_id = %(id)s ORDER BY date LIMIT 1) f ON true
          LEFT JOIN LATERAL (SELECT wct, oil FROM {rows}
                              WHERE calculation_id = %(id)s ORDER BY date DESC LIMIT 1) l ON true
         WHERE t.rows > 0
    """


def calculation_summary_json(*, calculation_id: int) -> str | None:
    """The summary of a run's rows as JSON text (`CalculationSummaryOut`), None without rows.

    Computed by PostgreSQL: no row reaches Python. Units: rates m3/day, volumes m3, water
    cut a fraction 0-1, decline in percent of the first oil rate (null if that rate is 0).
    """
    with connection.cursor() as cursor:
        cursor.execute(_summary_sql(), {"id": calculation_id})
        row = cursor.fetchone()
    return None if row is None else row[0]


def calculation_rows(*, calculation_id: int) -> QuerySet[CalculationRow]:
    return CalculationRow.objects.filter(calculation_id=calculation_id).order_by("date", "pk")


def _not_finished(*, calculation_id: int, status: str, what: str) -> ConflictError:
    return ConflictError(
        f"Calculation {calculation_id} is {status}: {what} once it has finished.",
        field=None,
        rule="not_finished",
    )


def calculation_rows_csv(*, calculation_id: int) -> str:
    """A finished run's rows as CSV (header + one line per date), written by PostgreSQL."""
    calculation = calculation_get(calculation_id=calculation_id)
    if calculation.status != JobStatus.FINISHED:
        raise _not_finished(calculation_id=calculation_id, status=calculation.status, what="its rows exist")
    table = CalculationRow._meta.db_table
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        # COPY takes no parameters; the id is an int checked above.
        cursor.cursor.copy_expert(
            f"COPY (SELECT date, liquid, oil, water, wct FROM {table} "
            f"WHERE calculation_id = {int(calculation.pk)} ORDER BY date) "
            "TO STDOUT WITH (FORMAT csv, HEADER)",
            buffer,
        )
    return buffer.getvalue()


# --- chart images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartLookup:
    finished_at: datetime
    # The stored image of this run, type and size (all None: not drawn yet).
    chart_id: int | None
    image_hash: str | None
    used_at: datetime | None


def calculation_chart_lookup(*, calculation_id: int, image_type: str, width: int, height: int) -> ChartLookup:
    """Whether a finished run's image of this type and size is stored, in one query.

    404 for an unknown run, 409 until it has finished. An image drawn before the run last
    finished (a rerun) does not count.
    """
    if not 1 <= calculation_id <= MAX_ID:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    row = (
        Calculation.objects.filter(pk=calculation_id)
        .annotate(
            stored=FilteredRelation(
                "charts",
                condition=Q(
                    charts__format=image_type,
                    charts__width=width,
                    charts__height=height,
                    charts__drawn_from=F("finished_at"),
                ),
            )
        )
        .values_list("status", "finished_at", "stored__id", "stored__image_hash", "stored__used_at")
        .first()
    )
    if row is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    status, finished_at, chart_id, image_hash, used_at = row
    if status != JobStatus.FINISHED:
        raise _not_finished(calculation_id=calculation_id, status=status, what="its chart exists")
    assert finished_at is not None  # a finished run has its end
    return ChartLookup(finished_at=finished_at, chart_id=chart_id, image_hash=image_hash, used_at=used_at)


def calculation_chart_image(*, chart_id: int) -> tuple[bytes, str] | None:
    """A stored image and its hash (None when it is gone: evicted meanwhile)."""
    row = CalculationChart.objects.filter(pk=chart_id).values_list("image", "image_hash").first()
    return None if row is None else (bytes(row[0]), row[1])


@dataclass(frozen=True)
class ChartSource:
    name: str
    finished_at: datetime
    series: dict[str, list]  # column -> [[unix ms, value], ...]; wct in percent
    # A well run's history, monthly calendar-day rates ({"oil": [[ms, rate], ...], "water": ...}),
    # and its P10-P90 oil band per row ([[ms, p90, p10], ...]); None for other runs.
    history: dict[str, list] | None = None
    band: list[list[float]] | None = None


def well_history_monthly(*, well_id: int) -> dict[str, list]:
    """A well's history as monthly calendar-day rates (m3/day: the month's volume over its
    days), `{"oil": [[unix ms, rate], ...], "water": [...]}`, aggregated by PostgreSQL so a
    30-year daily history is 360 points."""
    records = ProductionRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT json_build_object(
                       'oil', coalesce(json_agg(json_build_array(m.ms, m.oil / m.days) ORDER BY m.ms), '[]'),
                       'water', coalesce(json_agg(json_build_array(m.ms, m.water / m.days) ORDER BY m.ms), '[]')
                   )::text
              FROM (SELECT (extract(epoch FROM date_trunc('month', date)) * 1000)::bigint AS ms,
                           sum(oil)::float8 AS oil, sum(water)::float8 AS water,
                           extract(day FROM date_trunc('month', date) + interval '1 month' - interval '1 day')
                               ::float8 AS days
                      FROM {records} WHERE well_id = %s
                     GROUP BY date_trunc('month', date)) m
            """,
            [well_id],
        )
        return json.loads(cursor.fetchone()[0])


def calculation_chart_source(*, calculation_id: int) -> ChartSource:
    """What the image of a finished run is drawn from; its series are built by PostgreSQL."""
    rows = CalculationRow._meta.db_table
    calculations = Calculation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.name, c.status, c.finished_at, c.well_id, c.forecast -> 'oil_rate_band', (
                SELECT json_build_object(
                    'liquid', coalesce(json_agg(json_build_array(r.ms, r.liquid) ORDER BY r.ms), '[]'),
                    'oil', coalesce(json_agg(json_build_array(r.ms, r.oil) ORDER BY r.ms), '[]'),
                    'water', coalesce(json_agg(json_build_array(r.ms, r.water) ORDER BY r.ms), '[]'),
                    'wct', coalesce(json_agg(json_build_array(r.ms, r.wct * 100) ORDER BY r.ms), '[]')
                )::text
                  FROM (SELECT (extract(epoch FROM date) * 1000)::bigint AS ms, liquid, oil, water, wct
                          FROM {rows} WHERE calculation_id = c.id) r)
              FROM {calculations} c WHERE c.id = %s
            """,
            [calculation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    name, status, finished_at, well_id, band, series = row
    if status != JobStatus.FINISHED:
        raise _not_finished(calculation_id=calculation_id, status=status, what="its chart exists")
    series = json.loads(series)
    if well_id is None or band is None:
        return ChartSource(name=name, finished_at=finished_at, series=series)
    band = json.loads(band) if isinstance(band, str) else band
    ms = [point[0] for point in series["oil"]]
    return ChartSource(
        name=name,
        finished_at=finished_at,
        series=series,
        history=well_history_monthly(well_id=well_id),
        band=[[t, low, high] for t, low, high in zip(ms, band["p90"], band["p10"], strict=True)],
    )


# --- comparison -----------------------------------------------------------------------------

COMPARE_MIN, COMPARE_MAX = 2, 8


def calculations_compare(*, calculation_ids: Iterable[int]) -> list[Calculation]:
    """The runs to overlay on one page, oldest first: 2 to 8 of them, all finished, each with
    its forecast's figures (`forecast_figures`; null for a run of the synthetic kernel).

    Anything else is a DomainError whose text the admin shows as it is.
    """
    ids = sorted(set(calculation_ids))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise DomainError(
            f"Select from {COMPARE_MIN} to {COMPARE_MAX} finished runs to compare ({len(ids)} selected).",
            field="ids",
            rule="count",
        )
    runs = list(
        Calculation.objects.filter(pk__in=[pk for pk in ids if 1 <= pk <= MAX_ID])
        .only("id", "name", "status", "launched_at", "date_start", "date_fin", "lag", "well_id")
        .annotate(**forecast_figures())  # a well run's figures for the page's forecast table
        .order_by("launched_at", "id")
    )
    if len(runs) != len(ids):
        missing = sorted(set(ids) - {run.pk for run in runs})
        raise NotFoundError(f"No calculation with id {', '.join(map(str, missing))}.")
    unfinished = [run for run in runs if run.status != JobStatus.FINISHED]
    if unfinished:
        listed = ", ".join(f"{run.name} ({run.status})" for run in unfinished)
        raise DomainError(
            f"Only finished runs can be compared; not finished: {listed}.", field="ids", rule="not_finished"
        )
    return runs


# --- well runs ----------------------------------------------------------------------------

# A well run's headline figures, read from its forecast summary by the database (null for a
# run of the synthetic kernel or one not finished): the annotations of the selectors below.
FORECAST_FIGURES = {
    "eur": "forecast__eur",
    "remaining": "forecast__remaining",
    "qi": "forecast__parameters__qi",
    "di_nominal": "forecast__parameters__di_nominal",
    "di_secant_effective": "forecast__parameters__di_secant_effective",
    "b": "forecast__parameters__b",
}
WELL_FORECASTS_SHOWN = 50


def forecast_figures() -> dict[str, Func]:
    """The annotations of FORECAST_FIGURES (numbers) and `forecast_method` (text)."""
    figures: dict[str, Func] = {name: Cast(KT(path), FloatField()) for name, path in FORECAST_FIGURES.items()}
    figures["forecast_method"] = KT("forecast__method")
    return figures


def well_forecasts(*, well_id: int, limit: int = WELL_FORECASTS_SHOWN) -> list[Calculation]:
    """The runs naming a well, newest first, each with its forecast's figures: one query."""
    return list(
        Calculation.objects.filter(well_id=well_id)
        .only("id", "name", "status", "launched_at")
        .annotate(**forecast_figures())
        .order_by("-launched_at", "-id")[:limit]
    )


def well_forecast_history(*, well_id: int) -> History | None:
    """A well's production records as the forecast reads them (None: no records).

    Daily records carry hours on stream; monthly ones (dated the first) days on stream over
    the month's calendar days.
    """
    records = list(
        ProductionRecord.objects.filter(well_id=well_id)
        .order_by("date")
        .values_list("date", "oil", "water", "hours_on", "days_on")
    )
    if not records:
        return None
    days: list[date] = [r[0] for r in records]
    if records[0][4] is not None:
        return History.from_records(
            dates=days,
            oil=[r[1] for r in records],
            water=[r[2] for r in records],
            days_on=[r[4] or 0.0 for r in records],
            period_days=[calendar.monthrange(d.year, d.month)[1] for d in days],
        )
    return History.from_records(
        dates=days,
        oil=[r[1] for r in records],
        water=[r[2] for r in records],
        hours_on=[r[3] or 0.0 for r in records],
    )
