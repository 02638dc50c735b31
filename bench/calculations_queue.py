"""Benchmark: drain rate of the calculations queue.

200 one-year daily runs (366 rows each) are created back to back through the API (Django
test client, bearer token; each create commits the row and publishes its task), then one
Celery worker with 2 processes drains the queue. Figures, from the database timestamps:
  * drain rate  = runs / (last finished_at - first started_at)     <- the target
  * end to end  = runs / (last finished_at - first launched_at), for a second batch of 200
    created while the worker is already running (creation and draining share the 2 cores)
Floor, in the same run: `calculation_run` called serially in this process (claim, kernel,
rows, finished, broadcasts: the work itself without the broker), on a connection set up like
a worker's (asynchronous commit), scaled to 2 processes. The floor's time is split by phase
(wall and CPU, exclusive) and the worker's and PostgreSQL's CPU per run is measured while
draining, which says where the remaining time goes on this 2-core machine.
Target: drain rate >= 150 runs/s.

    .venv/bin/python bench/calculations_queue.py [--runs 200] [--concurrency 2]
"""

import argparse
import contextlib
import os
import time
from collections import defaultdict

import calculations_common as common  # noqa: I001  (sets Django up)
from django.db import connection
from django.db.models import Count, Max, Min
from django.test import Client

from apps.calculations import kernel
from apps.calculations import services as calculation_services
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import calculation_run, calculation_validate
from apps.jobs import services as jobs
from apps.jobs.models import JobStatus
from apps.jobs.services import worker_connection_commit_asynchronously
from apps.live import realtime

ONE_YEAR = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}
TARGET = 150


class PhaseClock:
    """Wall and CPU time per phase of `calculation_run`, exclusive: a broadcast sent from
    inside the claim counts as a broadcast, not as the claim."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.stack: list[str] = []
        self.mark = (time.perf_counter(), time.process_time())

    def _switch(self) -> None:
        now = (time.perf_counter(), time.process_time())
        phase = self.stack[-1] if self.stack else "other (task glue, ORM, commit)"
        self.wall[phase] += now[0] - self.mark[0]
        self.cpu[phase] += now[1] - self.mark[1]
        self.mark = now

    def wrap(self, owner, name: str, phase: str):
        real = getattr(owner, name)

        def timed(*args, **kwargs):
            self._switch()
            self.stack.append(phase)
            try:
                return real(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()

        setattr(owner, name, timed)
        return real

    @contextlib.contextmanager
    def installed(self):
        targets = [
            (jobs, "job_claim", "claim: UPDATE ... RETURNING"),
            (kernel, "run", "kernel (pandas/numpy)"),
            (calculation_services, "_rows_insert", "rows: binary COPY buffer + COPY"),
            (jobs, "job_finish", "finish: UPDATE"),
            (realtime, "_send", "broadcasts (Redis, 2 groups x 2 events)"),
        ]
        originals = [(owner, name, self.wrap(owner, name, phase)) for owner, name, phase in targets]
        try:
            yield self
        finally:
            for owner, name, real in originals:
                setattr(owner, name, real)
            self._switch()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--floor-runs", type=int, default=40)
    args = parser.parse_args()

    common.database_prepare()
    common.queue_purge()
    token = common.api_token()

    # Floor: the service alone, serially, in this process, on a connection set up like a worker's.
    connection.ensure_connection()
    worker_connection_commit_asynchronously(connection=connection)
    floor_ids = [
        Calculation.objects.create(**calculation_validate(**ONE_YEAR, name=f"floor {index}")).pk
        for index in range(args.floor_runs)
    ]
    timings = []
    clock = PhaseClock()
    with clock.installed():
        for pk in floor_ids:
            began = time.perf_counter()
            calculation_run(calculation_id=pk)
            timings.append(time.perf_counter() - began)
    per_run_ms = common.median_ms(timings)
    ceiling = args.concurrency * 1000 / per_run_ms
    Calculation.objects.filter(pk__in=floor_ids).delete()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO DEFAULT")

    client = Client(headers={"Authorization": f"Bearer {token}"}, HTTP_HOST="localhost")

    def create(count: int, label: str) -> tuple[list[int], float]:
        began = time.perf_counter()
        ids = []
        for index in range(count):
            response = client.post("/api/calculations", {**ONE_YEAR, "name": f"{label} {index}"}, content_type="application/json")
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
        return ids, time.perf_counter() - began

    def wait_drained(ids: list[int], worker) -> None:
        deadline = time.monotonic() + 300
        while Calculation.objects.filter(pk__in=ids, status=JobStatus.FINISHED).count() < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"not drained after 300 s; worker log:\n{worker.log_tail()}")
            time.sleep(0.05)

    def figures(ids: list[int]) -> dict:
        runs = Calculation.objects.filter(pk__in=ids)
        span = runs.aggregate(first_launch=Min("launched_at"), first_start=Min("started_at"), last_finish=Max("finished_at"))
        attempts = dict(runs.values_list("attempts").annotate(n=Count("id")).order_by("attempts"))
        rows = CalculationRow.objects.filter(calculation_id__in=ids).count()
        assert rows == 366 * len(ids), rows
        assert attempts == {1: len(ids)}, attempts  # every run finished exactly once
        return {
            "drain": (span["last_finish"] - span["first_start"]).total_seconds(),
            "end_to_end": (span["last_finish"] - span["first_launch"]).total_seconds(),
            "attempts": attempts,
            "rows": rows,
        }

    # 1. The runs are created back to back and wait in the queue; then the worker drains it.
    queued_ids, created_in = create(args.runs, "queued")
    worker = common.worker_start(concurrency=args.concurrency)
    try:
        meter = common.CpuMeter(worker.popen.pid)
        wait_drained(queued_ids, worker)
        cpu = meter.spent()
        # 2. The same with the worker already running while the runs are created.
        live_ids, live_created_in = create(args.runs, "live")
        wait_drained(live_ids, worker)
    finally:
        worker.stop()
    queued, live = figures(queued_ids), figures(live_ids)

    rate = args.runs / queued["drain"]
    print(f"calculations queue: {args.runs} one-year daily runs, 1 worker x {args.concurrency} processes "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  created through the API in      {created_in:6.2f} s   ({args.runs / created_in:6.1f} runs/s)")
    print(f"  queue drained in                {queued['drain']:6.2f} s   ({rate:6.1f} runs/s)")
    print(f"  worker running while creating:  end to end {live['end_to_end']:.2f} s "
          f"({args.runs / live['end_to_end']:.1f} runs/s; creating took {live_created_in:.2f} s)")
    print(f"  floor: calculation_run alone    {per_run_ms:6.2f} ms/run serially -> {ceiling:6.1f} runs/s "
          f"for {args.concurrency} processes; drain/floor = {rate / ceiling:.2f}")
    print("  the floor's run, by phase (ms per run, wall / CPU of this process):")
    for phase in sorted(clock.wall, key=clock.wall.get, reverse=True):
        print(f"    {phase:<42} {clock.wall[phase] * 1000 / args.floor_runs:6.2f} / {clock.cpu[phase] * 1000 / args.floor_runs:5.2f}")
    worker_ms, postgres_ms = cpu["worker"] * 1000 / args.runs, cpu["postgres"] * 1000 / args.runs
    cpu_bound = os.cpu_count() * 1000 / (worker_ms + postgres_ms)
    print(f"  CPU per run while draining:     worker {worker_ms:.1f} ms + its PostgreSQL backends {postgres_ms:.1f} ms "
          f"-> at most {cpu_bound:.0f} runs/s on {os.cpu_count()} idle cores (Redis and RabbitMQ not counted)")
    print(f"  every run finished exactly once: attempts {queued['attempts']} and {live['attempts']}, "
          f"{queued['rows'] + live['rows']} rows")
    verdict = "met" if rate >= TARGET else "NOT met"
    print(f"target >= {TARGET} runs/s: {verdict} ({rate:.1f} runs/s)")
    if rate < TARGET:
        print(f"  where it goes: {TARGET} runs/s on {os.cpu_count()} cores leaves {os.cpu_count() * 1000 / TARGET:.1f} ms of CPU "
              f"per run for everything; the worker and PostgreSQL alone spend {worker_ms + postgres_ms:.1f} ms "
              f"(load average {os.getloadavg()[0]:.1f}: other processes take the rest of the cores)")


if __name__ == "__main__":
    main()
