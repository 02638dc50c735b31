"""Reads of wells and their history.

Rates are derived here, never stored: for each period (a day, or a month)

- producing-day rate = volume / days on stream (`hours_on / 24` for daily history, `days_on`
  for monthly): what the well makes while it flows; null for a shut-in (no time on stream);
- calendar-day rate = volume / calendar days the period's records cover (1 for a day, 28-31
  for a month; a month resampled from daily records counts its reported days, shut-ins
  included, so the partial months at either end of a history are not diluted): what it makes
  on average, shut-ins included;
- water cut = water / (oil + water), a fraction 0-1; null when nothing flowed.

A history can hold tens of thousands of periods, so its JSON and CSV are written by
PostgreSQL from one range scan of the records' primary key (well, date): no record becomes a
Python object. Rates and water cut are printed as `real` (7 significant digits, more than any
meter gives), cumulative volumes rounded to 0.001 m3.
"""

import io
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from apps.core.errors import DomainError, NotFoundError
from apps.core.formatting import iso, json_object_with_raw
from apps.core.listing import (
    PAGE_SIZE_DEFAULT,
    ListOrdering,
    ListPage,
    list_page,
    parse_datetime_key,
    parse_text_key,
    search_parse,
)
from apps.jobs.models import MAX_ID
from apps.jobs.schemas import actor_out
from apps.wells.models import Frequency, HistoryImport, OilField, ProductionRecord, Well

# Every ordering ends in the primary key (apps.core.listing). Indexes: (name, id),
# (created_at, id), and the same two after `field_id` for the field filter.
ORDERINGS = {
    "name": ListOrdering(key="name", descending=False, parse=parse_text_key),
    "-name": ListOrdering(key="name", descending=True, parse=parse_text_key),
    "created_at": ListOrdering(key="created_at", descending=False, parse=parse_datetime_key),
    "-created_at": ListOrdering(key="created_at", descending=True, parse=parse_datetime_key),
}


def _not_found(well_id: int) -> NotFoundError:
    return NotFoundError(f"No well with id {well_id}.")


def well_get(*, well_id: int) -> Well:
    """The well (with its field); 404 for an id that does not exist or cannot."""
    if not 1 <= well_id <= MAX_ID:
        raise _not_found(well_id)
    well = Well.objects.select_related("field").filter(pk=well_id).first()
    if well is None:
        raise _not_found(well_id)
    return well


def field_find(*, name: str) -> OilField | None:
    return OilField.objects.filter(name=name).first()


def well_list(
    *,
    page: int | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
    ordering: str = "name",
    field: str | None = None,
    search: str | None = None,
) -> ListPage:
    """One page of wells, by name by default; `field` (a field's exact name) and `search` (part
    of the well's name, any case) narrow it. `count` is exact without a search, read from the
    fields' trigger-kept well counts (apps.core.listing for the rest of the contract)."""
    term = search_parse(value=search)
    queryset = Well.objects.select_related("field")
    if field is not None:
        if "\x00" in field or len(field) > 200:
            raise DomainError(
                "field must be a field's name (at most 200 characters, no NUL).",
                field="field",
                rule="invalid",
            )
        found = field_find(name=field.strip())
        queryset = queryset.filter(field=found) if found else queryset.none()
        count = found.well_count if found else 0
    else:
        count = OilField.objects.aggregate(total=Sum("well_count"))["total"] or 0
    return list_page(
        queryset=queryset,
        orderings=ORDERINGS,
        ordering=ordering,
        search=Q(name__icontains=term) if term else None,
        page=page,
        page_size=page_size,
        cursor=cursor,
        count=count,
    )


def well_out(well: Well) -> dict:
    """A well as the API answers it (list item and detail)."""
    return {
        "id": well.pk,
        "name": well.name,
        "field": well.field.name,
        "notes": well.notes,
        "frequency": well.frequency,
        "created_at": iso(well.created_at),
        "first_date": well.first_date,
        "last_date": well.last_date,
        "record_count": well.record_count,
        "cumulative_oil": well.cumulative_oil,
        "cumulative_water": well.cumulative_water,
        "cumulative_gas": well.cumulative_gas,
        "last_month": well.last_month,
        "last_month_oil_rate": well.last_month_oil_rate,
        "last_month_water_cut": well.last_month_water_cut,
        "history_updated_at": iso(well.history_updated_at),
    }


# --- history ----------------------------------------------------------------------------

RESAMPLES = ("month",)


@dataclass(frozen=True)
class HistoryQuery:
    well_id: int
    frequency: str
    date_from: date | None = None
    date_to: date | None = None
    resample: str | None = None

    @property
    def time_column(self) -> str:
        """The time-on-stream column of the answer: hours per day, or days per month."""
        return "hours_on" if self.frequency == Frequency.DAILY and self.resample is None else "days_on"


def history_sql(query: HistoryQuery) -> tuple[str, dict]:
    """The SELECT of a history's periods, oldest first, with its parameters.

    Periods are the stored records, or calendar months (`resample=month`: volumes and time on
    stream summed per month, dated the first of the month). Cumulative volumes count from the
    well's first record, also when `from` starts later.
    """
    table = ProductionRecord._meta.db_table
    daily = query.frequency == Frequency.DAILY
    # Producing days of a stored record, and the calendar days it reports (a month resampled
    # from days sums them: the reported days, not the month's length).
    on_days = "r.hours_on::float8 / 24" if daily else "r.days_on::float8"
    span_days = "1" if daily else "extract(day FROM r.date + interval '1 month' - interval '1 day')::float8"
    where = "r.well_id = %(well)s"
    params: dict = {"well": query.well_id}
    if query.date_from is not None:
        where += " AND r.date >= %(from)s"
        params["from"] = query.date_from
    if query.date_to is not None:
        where += " AND r.date <= %(to)s"
        params["to"] = query.date_to
    if query.resample == "month":
        periods = f"""
            SELECT date_trunc('month', r.date)::date AS date, sum(r.oil::float8) AS oil,
                   sum(r.water::float8) AS water, sum(r.gas::float8) AS gas, sum({on_days}) AS on_days,
                   sum({span_days}) AS span_days
              FROM {table} r WHERE {where} GROUP BY date_trunc('month', r.date)"""
    else:
        periods = f"""
            SELECT r.date, r.oil::float8 AS oil, r.water::float8 AS water, r.gas::float8 AS gas,
                   {on_days} AS on_days, {span_days} AS span_days
              FROM {table} r WHERE {where}"""
    before = "0"
    if query.date_from is not None:
        before = f"(SELECT coalesce(sum({{v}}::float8), 0) FROM {table} WHERE well_id = %(well)s AND date < %(from)s)"
    time_value = "p.on_days * 24" if query.time_column == "hours_on" else "p.on_days"
    rate = "CASE WHEN p.on_days > 0 THEN ({v} / p.on_days)::real END"
    calendar = "({v} / p.span_days)::real"
    cumulative = "round(({before} + sum({v}) OVER (ORDER BY p.date))::numeric, 3)::float8"
    sql = f"""
        SELECT p.date, p.oil::real AS oil, p.water::real AS water, p.gas::real AS gas,
               ({time_value})::real AS {query.time_column},
               {rate.format(v="p.oil")} AS oil_rate,
               {rate.format(v="p.water")} AS water_rate,
               {rate.format(v="(p.oil + p.water)")} AS liquid_rate,
               {rate.format(v="p.gas")} AS gas_rate,
               {calendar.format(v="p.oil")} AS oil_rate_calendar,
               {calendar.format(v="p.water")} AS water_rate_calendar,
               {calendar.format(v="(p.oil + p.water)")} AS liquid_rate_calendar,
               CASE WHEN p.oil + p.water > 0 THEN (p.water / (p.oil + p.water))::real END AS water_cut,
               {cumulative.format(before=before.format(v="oil"), v="p.oil")} AS cumulative_oil,
               {cumulative.format(before=before.format(v="water"), v="p.water")} AS cumulative_water,
               {cumulative.format(before=before.format(v="gas"), v="coalesce(p.gas, 0)")} AS cumulative_gas
          FROM ({periods}) p
         ORDER BY p.date"""
    return sql, params


def history_query(
    *, well_id: int, date_from: date | None = None, date_to: date | None = None, resample: str | None = None
) -> tuple[Well, HistoryQuery]:
    """The well and the query of its history; 404 for an unknown well, 422 for a bad range."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise DomainError("to must be on or after from.", field="to", rule="date_order")
    if resample is not None and resample not in RESAMPLES:
        raise DomainError(
            f"resample must be one of: {', '.join(RESAMPLES)}.", field="resample", rule="literal_error"
        )
    well = well_get(well_id=well_id)
    query = HistoryQuery(
        well_id=well.pk, frequency=well.frequency, date_from=date_from, date_to=date_to, resample=resample
    )
    return well, query


def well_history_json(
    *, well_id: int, date_from: date | None = None, date_to: date | None = None, resample: str | None = None
) -> str:
    """`{"id", "name", "field", "frequency", "resample", "from", "to", "count", "results": [...]}`
    as JSON text, the periods written by PostgreSQL in one statement."""
    well, query = history_query(well_id=well_id, date_from=date_from, date_to=date_to, resample=resample)
    sql, params = history_sql(query)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), coalesce(json_agg(h), '[]')::text FROM ({sql}) h", params)
        count, results = cursor.fetchone()
    head = {
        "id": well.pk,
        "name": well.name,
        "field": well.field.name,
        "frequency": well.frequency,
        "resample": resample,
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "count": count,
    }
    return json_object_with_raw(head, results=results)


def well_history_csv(
    *, well_id: int, date_from: date | None = None, date_to: date | None = None, resample: str | None = None
) -> str:
    """The same periods as CSV (a header, then one line per period), written by PostgreSQL."""
    _, query = history_query(well_id=well_id, date_from=date_from, date_to=date_to, resample=resample)
    sql, params = history_sql(query)
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        # COPY takes no parameters: mogrify inlines them, quoted by the driver.
        statement = cursor.cursor.mogrify(sql, params).decode()
        cursor.cursor.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER)", buffer)
    return buffer.getvalue()


# --- imports ----------------------------------------------------------------------------


def history_import_get(*, import_id: int) -> HistoryImport:
    if not 1 <= import_id <= MAX_ID:
        raise NotFoundError(f"No import with id {import_id}.")
    found = (
        HistoryImport.objects.select_related("well", "field", "created_by", "cancelled_by")
        .filter(pk=import_id)
        .first()
    )
    if found is None:
        raise NotFoundError(f"No import with id {import_id}.")
    return found


def well_imports(*, well_id: int, limit: int = 20) -> QuerySet[HistoryImport]:
    """A well's latest imports, newest first."""
    return HistoryImport.objects.filter(well_id=well_id).order_by("-created_at", "-id")[:limit]


def history_import_out(history_import: HistoryImport) -> dict:
    """An import as the API answers it, with its problems."""
    return {
        "id": history_import.pk,
        "well_id": history_import.well_id,
        "field": history_import.field.name if history_import.field is not None else None,
        "mode": history_import.mode,
        "columns": history_import.columns,
        "date_format": history_import.date_format,
        "file_name": history_import.file_name,
        "file_size": history_import.file_size,
        "status": history_import.status,
        "progress": history_import.progress,
        "records": history_import.records,
        "wells_created": history_import.wells_created,
        "error": history_import.error or None,
        "error_count": history_import.error_count,
        "errors": history_import.errors,
        "pinned": history_import.pinned,
        "created_by": actor_out(history_import.created_by, token=history_import.created_by_token),
        **({"cancelled_by": canceller} if (canceller := actor_out(history_import.cancelled_by)) else {}),
        "created_at": iso(history_import.created_at),
        "started_at": iso(history_import.started_at),
        "finished_at": iso(history_import.finished_at),
        "updated_at": iso(history_import.updated_at),
    }
