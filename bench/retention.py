"""Benchmark: the retention purge of half the runs, and what it does to list page 1.

    .venv/bin/python bench/retention.py [--runs 4000] [--rows 366] [--samples 300]

Loads `--runs` finished runs of `--rows` result rows each (the issue's scale is 1,000,000
runs of 366 rows: `--runs 1000000`, hours of loading and about 370 million rows), half of them
ended past CALCULATIONS_RETENTION_DAYS, and starts the web tier as the Procfile does. Then:

- floor: the same rows deleted by plain DELETE statements (one per 200 runs, nothing else),
  on a slice of the runs due;
- idle: GET /api/calculations page 1 over HTTP through the proxy, `--samples` times;
- the purge (`apps.jobs.retention.jobs_purge`, in batches of JOBS_RETENTION_BATCH_ROWS rows)
  of the rest of the runs due, while page 1 is fetched over HTTP without pause.

Targets: the purge removes >= 100,000 rows/s (its ratio to the floor is printed beside it);
page 1's p99 during the purge <= 2x its idle p99.
"""

import argparse
import os
import threading
import time

import calculations_common as common  # (sets Django up: first)
import httpx
from django.db import connection

from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import CALCULATION_JOB
from apps.jobs.retention import jobs_purge

TARGET_ROWS_PER_SECOND = 100_000
TARGET_P99_RATIO = 2.0
LOAD_BATCH = 1000  # runs per INSERT of rows
FLOOR_RUNS = 200  # runs per plain DELETE of the floor


def load(*, runs: int, rows: int) -> None:
    """`runs` finished runs, one ended each hour back from now over twice the retention days, so
    half are due; `rows` rows each."""
    days = CALCULATION_JOB.setting("RETENTION_DAYS")
    calculations, result_rows = Calculation._meta.db_table, CalculationRow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {calculations}
                (name, date_start, date_fin, lag, status, progress, launched_at, started_at, finished_at,
                 error, dispatched_at, attempts, updated_at)
            SELECT 'Well ' || i, DATE '2024-01-01', DATE '2024-01-01' + %s - 1, 1, 'finished', 100, t, t, t,
                   '', t, 1, t
              FROM (SELECT i, now() - (i::float8 / %s * 2 * %s) * interval '1 day' AS t
                      FROM generate_series(1, %s) AS i) g
            """,
            [rows, runs, days, runs],
        )
        cursor.execute(f"SELECT min(id), max(id) FROM {calculations}")
        low, high = cursor.fetchone()
        for start in range(low, high + 1, LOAD_BATCH):
            cursor.execute(
                f"""
                INSERT INTO {result_rows} (calculation_id, date, liquid, oil, water, wct)
                SELECT c.id, c.date_start + d, 100.0, 60.0, 40.0, 0.4
                  FROM {calculations} c, generate_series(0, %s - 1) AS d
                 WHERE c.id BETWEEN %s AND %s
                """,
                [rows, start, min(start + LOAD_BATCH - 1, high)],
            )
        cursor.execute(f"VACUUM ANALYZE {calculations}")
        cursor.execute(f"VACUUM ANALYZE {result_rows}")


def floor_rows_per_second(*, runs: int) -> tuple[float, int]:
    """Plain DELETEs of the oldest `runs` due runs and their rows: (rows/s, rows deleted)."""
    calculations, result_rows = Calculation._meta.db_table, CalculationRow._meta.db_table
    deleted = 0
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {calculations} ORDER BY finished_at, id LIMIT %s", [runs])
        ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), FLOOR_RUNS):
            chunk = ids[start : start + FLOOR_RUNS]
            cursor.execute(f"DELETE FROM {result_rows} WHERE calculation_id = ANY(%s)", [chunk])
            deleted += cursor.rowcount
            cursor.execute(f"DELETE FROM {calculations} WHERE id = ANY(%s)", [chunk])
            deleted += cursor.rowcount
    return deleted / (time.perf_counter() - began), deleted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--rows", type=int, default=366)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    common.database_prepare()
    began = time.perf_counter()
    load(runs=args.runs, rows=args.rows)
    print(f"loaded {args.runs:,} runs of {args.rows} rows in {time.perf_counter() - began:.1f} s")
    door, base_url = common.web_tier_start()
    try:
        headers = {"Authorization": f"Bearer {common.api_token()}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:

            def page_one() -> float:
                started = time.perf_counter()
                response = http.get("/api/calculations")
                assert response.status_code == 200, response.text
                return time.perf_counter() - started

            floor, floor_rows = floor_rows_per_second(runs=max(args.runs // 20, 1))
            for _ in range(20):
                page_one()  # warm-up
            idle = [page_one() for _ in range(args.samples)]

            during: list[float] = []
            outcome: dict = {}

            def purge() -> None:
                try:
                    outcome["result"] = jobs_purge(kind=CALCULATION_JOB, budget=float("inf"))
                finally:
                    connection.close()

            worker = threading.Thread(target=purge)
            worker.start()
            while worker.is_alive() or len(during) < 20:
                during.append(page_one())
            worker.join()
            count = http.get("/api/calculations").json()["count"]
    finally:
        door.stop()

    result = outcome["result"]
    rate = result.total_rows / result.seconds
    idle_p99, during_p99 = common.percentile_ms(idle, 0.99), common.percentile_ms(during, 0.99)
    ratio = during_p99 / idle_p99
    print(
        f"\nRetention purge: {args.runs:,} runs of {args.rows} rows, half due (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"  floor: plain DELETEs of {floor_rows:,} rows: {floor:,.0f} rows/s")
    print(
        f"  purge: {result.jobs:,} runs, {result.total_rows:,} rows in {result.seconds:.2f} s = {rate:,.0f} rows/s "
        f"({rate / floor:.2f}x the floor); target >= {TARGET_ROWS_PER_SECOND:,} rows/s: "
        f"{'met' if rate >= TARGET_ROWS_PER_SECOND else 'NOT met'}"
    )
    print(
        f"  page 1 over HTTP: idle p99 {idle_p99:.1f} ms (median {common.median_ms(idle):.1f}), during the purge "
        f"p99 {during_p99:.1f} ms (median {common.median_ms(during):.1f}, {len(during)} samples) = {ratio:.2f}x; "
        f"target <= {TARGET_P99_RATIO}x: {'met' if ratio <= TARGET_P99_RATIO else 'NOT met'}"
    )
    print(f"  runs left: {count:,} (counters exact through the purge)")


if __name__ == "__main__":
    main()
