"""Reads for calculations.

The detail endpoint's result table can hold 100,000 rows, so its JSON is built by PostgreSQL
(`json_agg`) and handed to the client as text: no model instance, no Python float is made per
row. The numbers are stored already rounded by the kernel (3 decimals for rates, 6 for the
water cut) and PostgreSQL prints floats in their shortest exact form, so nothing is lost.
"""

import io
import json
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q, QuerySet

from apps.calculations.models import Calculation, CalculationRow, CalculationStatus
from apps.calculations.services import iso
from apps.core.errors import DomainError, NotFoundError
from apps.core.listing import (
    ListOrdering,
    ListPage,
    list_page,
    parse_datetime_key,
    search_parse,
    statuses_parse,
)

PAGE_SIZE = 10
# Every ordering ends in the primary key (apps.core.listing): runs launched in the same
# microsecond still page deterministically. Indexes: (launched_at, id) and
# (status, launched_at, id), read in either direction.
ORDERINGS = {
    "launched_at": ListOrdering(key="launched_at", descending=False, parse=parse_datetime_key),
    "-launched_at": ListOrdering(key="launched_at", descending=True, parse=parse_datetime_key),
}
DETAIL_OPTIONAL_FIELDS = ("name", "duration")
_MAX_BIGINT = 2**63 - 1


def calculation_list(
    *,
    page: int | None = None,
    cursor: str | None = None,
    ordering: str = "-launched_at",
    status: str | None = None,
    search: str | None = None,
    per_page: int = PAGE_SIZE,
) -> ListPage:
    """One page of runs, newest first by default; `status` ("queued,failed") and `search`
    (in the name) narrow it. A page past the end is empty. See apps.core.listing."""
    if page is not None and page < 1:
        raise DomainError("page must be 1 or more.", field="page", rule="greater_than_equal")
    term = search_parse(value=search)
    return list_page(
        queryset=Calculation.objects.only("id", "name", "launched_at", "status"),
        orderings=ORDERINGS,
        ordering=ordering,
        statuses=statuses_parse(value=status, model=Calculation),
        search=Q(name__icontains=term) if term else None,
        per_page=per_page,
        offset=None if page is None else (page - 1) * per_page,
        cursor=cursor,
    )


def calculation_get(*, calculation_id: int) -> Calculation:
    if not 1 <= calculation_id <= _MAX_BIGINT:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    calculation = Calculation.objects.filter(pk=calculation_id).first()
    if calculation is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    return calculation


def detail_fields_parse(*, fields: str | None) -> tuple[str, ...]:
    """`"name,duration"` -> ("name", "duration"); unknown names are a 422 listing allowed ones."""
    requested = [item.strip() for item in (fields or "").split(",") if item.strip()]
    unknown = sorted(set(requested) - set(DETAIL_OPTIONAL_FIELDS))
    if unknown:
        raise DomainError(
            f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(DETAIL_OPTIONAL_FIELDS)}.",
            field="fields",
            rule="allowed_values",
        )
    return tuple(name for name in DETAIL_OPTIONAL_FIELDS if name in requested)


def _detail_sql() -> str:
    calculations = Calculation._meta.db_table
    rows = CalculationRow._meta.db_table
    return f"""
        SELECT c.id, c.name, c.status, c.launched_at, c.started_at, c.finished_at, c.error,
               CASE WHEN c.status = %s THEN (
                   SELECT coalesce(json_agg(r ORDER BY r.date), '[]'::json)::text
                     FROM (SELECT date, liquid, oil, water, wct FROM {rows} WHERE calculation_id = c.id) r)
               END
          FROM {calculations} c
         WHERE c.id = %s
    """


def calculation_detail_json(*, calculation_id: int, fields: Iterable[str] = ()) -> str:
    """The detail document as JSON text, in one query.

    {"id", ["name",] "launched_at", "status", ["duration",] ["error" (failed runs),] "result"}
    where result is `[{"date", "liquid", "oil", "water", "wct"}, ...]` or null.
    """
    if not 1 <= calculation_id <= _MAX_BIGINT:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    with connection.cursor() as cursor:
        cursor.execute(_detail_sql(), [CalculationStatus.FINISHED.value, calculation_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFoundError(f"No calculation with id {calculation_id}.")
    pk, name, status, launched_at, started_at, finished_at, error, result = row
    head: dict = {"id": pk}
    if "name" in fields:
        head["name"] = name
    head["launched_at"] = iso(launched_at)
    head["status"] = status
    if "duration" in fields:
        head["duration"] = Calculation(started_at=started_at, finished_at=finished_at).duration
    if status == CalculationStatus.FAILED:
        head["error"] = error or "The calculation failed."
    # The small head goes through json.dumps; the big result text is spliced in as is.
    return f'{json.dumps(head)[:-1]}, "result": {result if result is not None else "null"}}}'


def calculation_rows(*, calculation_id: int) -> QuerySet[CalculationRow]:
    return CalculationRow.objects.filter(calculation_id=calculation_id).order_by("date", "pk")


def calculation_rows_csv(*, calculation_id: int) -> str:
    """A finished run's rows as CSV (header + one line per date), written by PostgreSQL."""
    calculation = calculation_get(calculation_id=calculation_id)
    if calculation.status != CalculationStatus.FINISHED:
        raise DomainError(
            f"Calculation {calculation_id} is {calculation.status}: its rows exist once it has finished.",
            field=None,
            rule="not_finished",
            status=409,
        )
    table = CalculationRow._meta.db_table
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        # COPY takes no parameters; the id is an int checked above.
        cursor.cursor.copy_expert(
            f"COPY (SELECT date, liquid, oil, water, wct FROM {table} "
            f"WHERE calculation_id = {int(calculation.pk)} ORDER BY date) TO STDOUT WITH (FORMAT csv, HEADER)",
            buffer,
        )
    return buffer.getvalue()
