"""Benchmark: GET /api/calculations with 1,000,000 runs against page 1 with 1,000 runs.

    .venv/bin/python bench/calculations_list.py [--large 1000000] [--samples 200] [--keep]

Floor: page 1 of the list on a database of 1,000 runs. Measured against it in the same run
(see bench/listbench.py) on a database of 1,000,000 runs: page 1 both ways, each status
filter and several combined, the last page by number both ways (also under a filter), a
cursor page from the end (keyset), and, without a target, searches (a common term counted up
to the 10,000 cap, a rare one found by the trigram index). Target: page 1, any status filter
and the last page each <= 1.5x the floor.
"""

import math
from typing import Any

import listbench  # imported first: it sets Django up
from listbench import Case

from apps.calculations.models import Calculation
from apps.core.listing import PAGE_SIZE_DEFAULT

STATUSES = listbench.status_values(Calculation)


def load(cursor: Any, rows: int) -> None:  # cursor: a psycopg2 cursor
    """`rows` runs, one a minute back from now; the newest are still queued or running, one in
    25 failed (and one in 97 cancelled, where that status exists), the rest finished."""
    cancelled = "WHEN i %% 97 = 0 THEN 'cancelled'" if "cancelled" in STATUSES else ""
    cursor.execute(
        f"""
        INSERT INTO {Calculation._meta.db_table}
            (name, date_start, date_fin, lag, status, progress, launched_at, started_at, finished_at,
             error, dispatched_at, attempts, updated_at)
        SELECT 'Well ' || (i %% 500) || ', ' || (2000 + i %% 25), DATE '2024-01-01', DATE '2024-12-31', 7,
               CASE WHEN i <= 20 THEN 'queued' WHEN i <= 24 THEN 'running' WHEN i %% 25 = 0 THEN 'failed'
                    {cancelled} ELSE 'finished' END,
               0, now() - i * interval '1 minute', now() - i * interval '1 minute',
               now() - i * interval '1 minute' + interval '2 seconds', '', now(), 1, now()
          FROM generate_series(1, %s) AS i
        """,
        [rows],
    )


def main() -> None:
    args = listbench.arguments(__doc__)
    try:
        listbench.databases_prepare(
            table=Calculation._meta.db_table, load=load, small=args.small, large=args.large
        )
        per_page = PAGE_SIZE_DEFAULT
        pages = math.ceil(args.large / per_page)
        cases = [
            Case("floor: page 1, 1,000 runs", "default", {}),
            Case("page 1", "large", {}, 1.5),
            Case("page 1, oldest first", "large", {"ordering": "launched_at"}, 1.5),
            *[Case(f"status={status}", "large", {"status": status}, 1.5) for status in STATUSES],
            Case("status=queued,running", "large", {"status": "queued,running"}, 1.5),
            Case("status=" + ",".join(STATUSES[1:]), "large", {"status": ",".join(STATUSES[1:])}, 1.5),
            Case(
                "status=queued,failed, oldest first",
                "large",
                {"status": "queued,failed", "ordering": "launched_at"},
                1.5,
            ),
            Case(f"last page (page={pages:,})", "large", {"page": pages}, 1.5),
            Case("last page, oldest first", "large", {"page": pages, "ordering": "launched_at"}, 1.5),
            Case(
                "last page of status=failed",
                "large",
                {"page": math.ceil(args.large / 25 / per_page), "status": "failed"},
                1.5,
            ),
            Case(
                f"page {pages // 2:,} (the middle: OFFSET from the nearer end)", "large", {"page": pages // 2}
            ),
            Case("search=well 7 (common: count capped at 10,000)", "large", {"search": "well 7"}),
            Case("search=well 123, 2023 (rare)", "large", {"search": "well 123, 2023"}),
        ]
        # A cursor near the end: keyset pages cost the same at any depth.
        listbench.list_settings.AliasRouter.alias = "large"
        client = listbench.api_client()
        last = client.get("/api/calculations", {"page": pages - 1}).json()
        cases.insert(
            -3, Case("cursor page next to the end (keyset)", "large", {"cursor": last["prev_cursor"]}, 1.5)
        )
        listbench.measure(url="/api/calculations", cases=cases, samples=args.samples)
        listbench.report(
            title=f"GET /api/calculations: {args.large:,} runs vs page 1 on {args.small:,}", cases=cases
        )
    finally:
        if not args.keep:
            listbench.databases_drop()


if __name__ == "__main__":
    main()
