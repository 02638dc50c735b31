"""Benchmark: GET /api/functions with 1,000,000 functions against page 1 with 1,000.

    .venv/bin/python bench/functions_list.py [--large 1000000] [--samples 200] [--keep]

The same method as bench/calculations_list.py (see bench/listbench.py), on the functions list
(20 per page, without the PNGs): page 1 in every ordering, each status filter and several
combined, the last page by number (also under a filter and by processing date, where rows
never processed sort last), a cursor page from the end, and searches without a target.
Target: page 1, any status filter and the last page each <= 1.5x page 1 on 1,000 functions.
"""

import math
from typing import Any

import listbench  # imported first: it sets Django up
from listbench import Case

from apps.charts.models import Function
from apps.charts.selectors import ORDERINGS
from apps.core.listing import PAGE_SIZE_DEFAULT

STATUSES = listbench.status_values(Function)


def load(cursor: Any, rows: int) -> None:  # cursor: a psycopg2 cursor
    """`rows` functions, one a minute back from now; the newest still queued or running (never
    processed), one in 25 failed (and one in 97 cancelled, where that status exists), the rest
    finished. No images: lists never read them."""
    cancelled = "WHEN i %% 97 = 0 THEN 'cancelled'" if "cancelled" in STATUSES else ""
    cursor.execute(
        f"""
        INSERT INTO {Function._meta.db_table}
            (expression, dt, "interval", status, error, image_hash, queued_at, started_at, processed_at,
             created_at, updated_at, progress, attempts)
        SELECT 'sin(t) + ' || (i %% 5000), 1, 30, s.status, '', '', t, t,
               CASE WHEN s.status IN ('queued', 'running') THEN NULL ELSE t + interval '2 seconds' END, t, t,
               0, 1
          FROM generate_series(1, %s) AS i,
               LATERAL (SELECT now() - i * interval '1 minute' AS t) AS at,
               LATERAL (SELECT CASE WHEN i <= 20 THEN 'queued' WHEN i <= 24 THEN 'running'
                                    WHEN i %% 25 = 0 THEN 'failed' {cancelled}
                                    ELSE 'finished' END AS status) AS s
        """,
        [rows],
    )


def main() -> None:
    args = listbench.arguments(__doc__)
    try:
        listbench.databases_prepare(
            table=Function._meta.db_table, load=load, small=args.small, large=args.large
        )
        per_page = PAGE_SIZE_DEFAULT
        pages = math.ceil(args.large / per_page)
        cases = [
            Case("floor: page 1, 1,000 functions", "default", {}),
            *[
                Case(f"page 1, ordering={ordering}", "large", {"ordering": ordering}, 1.5)
                for ordering in ORDERINGS
            ],
            *[Case(f"status={status}", "large", {"status": status}, 1.5) for status in STATUSES],
            Case("status=queued,running", "large", {"status": "queued,running"}, 1.5),
            Case(
                "status=queued,failed, ordering=-processed_at",
                "large",
                {"status": "queued,failed", "ordering": "-processed_at"},
                1.5,
            ),
            Case(f"last page (page={pages:,})", "large", {"page": pages}, 1.5),
            Case(
                "last page, ordering=processed_at", "large", {"page": pages, "ordering": "processed_at"}, 1.5
            ),
            Case(
                "last page of status=failed",
                "large",
                {"page": math.ceil(args.large / 25 / per_page), "status": "failed"},
                1.5,
            ),
            Case(
                f"page {pages // 2:,} (the middle: OFFSET from the nearer end)", "large", {"page": pages // 2}
            ),
            Case("search=+ 7 (common: count capped at 10,000)", "large", {"search": "+ 7"}),
            Case("search=+ 4321 (rare)", "large", {"search": "+ 4321"}),
        ]
        listbench.list_settings.AliasRouter.alias = "large"
        last = listbench.api_client().get("/api/functions", {"page": pages - 1}).json()
        cases.insert(
            -3, Case("cursor page next to the end (keyset)", "large", {"cursor": last["prev_cursor"]}, 1.5)
        )
        listbench.measure(url="/api/functions", cases=cases, samples=args.samples)
        listbench.report(
            title=f"GET /api/functions: {args.large:,} functions vs page 1 on {args.small:,}", cases=cases
        )
    finally:
        if not args.keep:
            listbench.databases_drop()


if __name__ == "__main__":
    main()
