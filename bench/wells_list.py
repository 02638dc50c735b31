"""Benchmark: GET /api/wells with 100,000 wells against page 1 with 1,000 wells.

    .venv/bin/python bench/wells_list.py [--large 100000] [--samples 200] [--keep]

Floor: page 1 of the list on a database of 1,000 wells. Measured against it in the same run
(see bench/listbench.py) on a database of 100,000 wells in 50 fields: page 1 by name both ways
and by creation time, a field filter, the last page by number, a cursor page near the end,
and, without a target, searches. Target: each <= 1.5x the floor. Counts come from the fields'
trigger-kept well counts, never from COUNT(*).
"""

import math
from typing import Any

import listbench  # imported first: it sets Django up
from listbench import Case

from apps.wells.models import OilField, Well

FIELDS = 50


def load(cursor: Any, rows: int) -> None:  # cursor: a psycopg2 cursor
    """`rows` wells spread over FIELDS fields, one created a minute back from now, each with the
    figures of a history."""
    cursor.execute(
        f"INSERT INTO {OilField._meta.db_table} (name, well_count) "
        f"SELECT 'Field ' || f, 0 FROM generate_series(1, {FIELDS}) AS f"
    )
    cursor.execute(
        f"""
        INSERT INTO {Well._meta.db_table}
            (field_id, name, notes, frequency, created_at, first_date, last_date, record_count, cumulative_oil,
             cumulative_water, cumulative_gas, last_month, last_month_oil_rate, last_month_water_cut,
             history_updated_at)
        SELECT (SELECT min(id) FROM {OilField._meta.db_table}) + i %% {FIELDS}, 'W-' || lpad(i::text, 7, '0'), '',
               'daily', now() - i * interval '1 minute', DATE '2015-01-01', DATE '2024-12-31', 3653,
               i * 10.0, i * 5.0, i * 1000.0, DATE '2024-12-01', 100.0, 0.5, now()
          FROM generate_series(1, %s) AS i
        """,
        [rows],
    )


def main() -> None:
    args = listbench.arguments(__doc__)
    if args.large == 1_000_000:  # listbench's default is the job lists'; wells are counted in 100,000s
        args.large = 100_000
    try:
        listbench.databases_prepare(table=Well._meta.db_table, load=load, small=args.small, large=args.large)
        per_page = 10
        pages = math.ceil(args.large / per_page)
        cases = [
            Case("floor: page 1, 1,000 wells", "default", {}),
            Case("page 1 (by name)", "large", {}, 1.5),
            Case("page 1, by name descending", "large", {"ordering": "-name"}, 1.5),
            Case("page 1, newest first", "large", {"ordering": "-created_at"}, 1.5),
            Case("field=Field 7", "large", {"field": "Field 7"}, 1.5),
            Case(
                "field=Field 7, newest first", "large", {"field": "Field 7", "ordering": "-created_at"}, 1.5
            ),
            Case(f"last page (page={pages:,})", "large", {"page": pages}, 1.5),
            Case("search=W-00012 (rare)", "large", {"search": "W-00012"}),
            Case("search=W-0 (common: count capped at 10,000)", "large", {"search": "W-0"}),
        ]
        listbench.list_settings.AliasRouter.alias = "large"
        client = listbench.api_client()
        last = client.get("/api/wells", {"page": pages - 1}).json()
        cases.insert(
            -2, Case("cursor page next to the end (keyset)", "large", {"cursor": last["prev_cursor"]}, 1.5)
        )
        listbench.measure(url="/api/wells", cases=cases, samples=args.samples)
        listbench.report(
            title=f"GET /api/wells: {args.large:,} wells vs page 1 on {args.small:,}", cases=cases
        )
    finally:
        if not args.keep:
            listbench.databases_drop()


if __name__ == "__main__":
    main()
