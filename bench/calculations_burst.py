"""Benchmark: a burst of 1,000 runs created concurrently over HTTP; every one finishes once.

The web tier (the proxy and gunicorn, as `scripts/run proxy` and `web` start them) and one Celery
worker with 2 processes run on a free port and the benchmark's own database and queue. 16 client threads
POST 1,000 one-year runs (366 rows each) as fast as they can; then the script waits until
every run has finished and checks that none was lost or duplicated:
  * 1,000 rows in `calculations_calculation`, all `finished`, each started exactly once
    (`attempts == 1`), each with exactly its 366 result rows and no repeated date.
Floor, in the same run: the same POST sent serially from one thread (so the ratio shows what
concurrency buys or costs).

    .venv/bin/python bench/calculations_burst.py [--runs 1000] [--threads 16]
"""

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import calculations_common as common  # imported first: it sets Django up
import httpx
from django.db.models import Count, Max, Min

from apps.calculations.models import Calculation, CalculationRow
from apps.jobs.models import JobStatus

ONE_YEAR = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--floor-runs", type=int, default=50)
    args = parser.parse_args()

    common.database_prepare()
    common.queue_purge()
    token = common.api_token()
    headers = {"Authorization": f"Bearer {token}"}
    web, base = common.web_tier_start()
    worker = common.worker_start(concurrency=2)
    local = threading.local()

    def post(index: int) -> tuple[int, float, int | None]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=60)
        began = time.perf_counter()
        response = local.client.post("/api/calculations", json={**ONE_YEAR, "name": f"burst {index}"})
        elapsed = time.perf_counter() - began
        return (
            response.status_code,
            elapsed,
            response.json().get("id") if response.status_code == 201 else None,
        )

    try:
        # Floor: one client, one request at a time.
        began = time.perf_counter()
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            floor_ids = [
                client.post("/api/calculations", json={**ONE_YEAR, "name": f"serial {i}"}).json()["id"]
                for i in range(args.floor_runs)
            ]
        serial_rate = args.floor_runs / (time.perf_counter() - began)

        began = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(post, range(args.runs)))
        burst_seconds = time.perf_counter() - began

        statuses = {code: sum(1 for c, _, _ in results if c == code) for code in {c for c, _, _ in results}}
        ids = [pk for _, _, pk in results if pk is not None]
        latencies = [elapsed for _, elapsed, _ in results]
        deadline = time.monotonic() + 600
        while Calculation.objects.filter(pk__in=ids + floor_ids, status=JobStatus.FINISHED).count() < len(
            ids
        ) + len(floor_ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"not all finished after 600 s; worker log:\n{worker.log_tail()}")
            time.sleep(0.2)
    finally:
        worker.stop()
        web.stop()

    runs = Calculation.objects.filter(pk__in=ids)
    span = runs.aggregate(
        first_launch=Min("launched_at"), first_start=Min("started_at"), last_finish=Max("finished_at")
    )
    attempts = dict(runs.values_list("attempts").annotate(n=Count("id")).order_by("attempts"))
    rows = CalculationRow.objects.filter(calculation_id__in=ids)
    per_run = set(
        rows.values("calculation_id")
        .annotate(n=Count("id"), days=Count("date", distinct=True))
        .values_list("n", "days")
    )
    drain = (span["last_finish"] - span["first_start"]).total_seconds()
    end_to_end = (span["last_finish"] - span["first_launch"]).total_seconds()

    ok = (
        statuses == {201: args.runs}
        and len(set(ids)) == args.runs == runs.count()
        and attempts == {1: args.runs}
        and per_run == {(366, 366)}
        and rows.count() == 366 * args.runs
    )
    burst_rate = args.runs / burst_seconds
    print(
        f"burst: {args.runs} runs POSTed by {args.threads} threads through the proxy, 1 worker x 2 processes "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"  responses {statuses}; accepted in {burst_seconds:.2f} s = {burst_rate:.1f} runs/s "
        f"(serial floor {serial_rate:.1f} runs/s, {burst_rate / serial_rate:.2f}x)"
    )
    p50, p95 = common.percentile_ms(latencies, 0.5), common.percentile_ms(latencies, 0.95)
    print(f"  POST latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    print(
        f"  all finished {end_to_end:.2f} s after the first was launched; "
        f"drain {drain:.2f} s = {args.runs / drain:.1f} runs/s"
    )
    print(
        f"  attempts {attempts}; rows per run (rows, distinct dates) {per_run}; {rows.count()} rows in total"
    )
    print(f"every run finished exactly once: {'yes' if ok else 'NO'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
