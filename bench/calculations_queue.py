"""Benchmark: drain rate of the calculations queue.

200 one-year daily runs (366 rows each) are created back to back through the API (Django
test client, bearer token; each create commits the row and publishes its task), then one
Celery worker with 2 processes drains the queue. Figures, from the database timestamps:
  * drain rate  = runs / (last finished_at - first started_at)     <- the target
  * end to end  = runs / (last finished_at - first launched_at), for a second batch of 200
    created while the worker is already running (creation and draining share the 2 cores)
Floor, in the same run: `calculation_run` called serially in this process (claim, kernel,
rows, finished, broadcasts: the work itself without the broker), scaled to 2 processes. The
floor's time is split by phase (wall and CPU, exclusive) and the worker's and PostgreSQL's
CPU per run is measured while draining, which says where the remaining time goes on this
2-core machine.
Target: drain rate >= 150 runs/s.

Performance tricks on this path, each measured against the plain code in the same run:
  * the sender loop (`apps.live.realtime.sender_loop_run`), kept: one floor run in three
    goes without it (every broadcast through `async_to_sync`, a new event loop and Redis
    connections per event), alternating, and the medians are compared;
  * asynchronous commit (`synchronous_commit = off` on worker connections,
    `apps.jobs.services.worker_connection_commit_asynchronously`), kept: the floor runs in
    this process commit asynchronously like a worker's, one in three without it; and
    `--commit-batches` more batches are drained, alternating, by a worker as shipped and one
    with JOBS_WORKER_ASYNCHRONOUS_COMMIT off.

    .venv/bin/python bench/calculations_queue.py [--runs 200] [--concurrency 2] [--floor-runs 90]
                                                 [--commit-batches 2] [--quick]
"""

import argparse
import contextlib
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import calculations_common as common  # imported first: it sets Django up
import tricks
from django.db import connection
from django.db.models import Count, Max, Min
from django.test import Client

from apps.calculations import kernel
from apps.calculations import services as calculation_services
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import calculation_run, calculation_validate
from apps.jobs import services as jobs
from apps.jobs.models import JobStatus
from apps.live import realtime
from harness.processes import Process

ONE_YEAR: dict[str, Any] = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}
TARGET = 150
CORES = os.cpu_count() or 1


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

    def wrap(self, owner: object, name: str, phase: str) -> Any:
        real = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
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
    def installed(self) -> Iterator["PhaseClock"]:
        self.mark = (time.perf_counter(), time.process_time())
        targets = [
            (jobs, "job_claim", "claim: UPDATE ... RETURNING"),
            (kernel, "run", "kernel (pandas/numpy)"),
            (calculation_services, "_rows_insert", "rows: binary COPY buffer + COPY"),
            (jobs, "job_finish", "finish: UPDATE"),
            (realtime, "sender_loop_run", "broadcasts (event log + 2 groups, x 2 events)"),
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
    parser.add_argument("--floor-runs", type=int, default=90)
    parser.add_argument(
        "--commit-batches", type=int, default=2, help="drains with and without asynchronous commit, each"
    )
    parser.add_argument("--quick", action="store_true", help="--runs 20 --floor-runs 30 --commit-batches 1")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.floor_runs, args.commit_batches = 20, 30, 1

    common.database_prepare()
    common.queue_purge()
    token = common.api_token()

    # Floor: the service alone, serially, in this process.
    connection.ensure_connection()
    floor_ids = [
        Calculation.objects.create(**calculation_validate(**ONE_YEAR, name=f"floor {index}")).pk
        for index in range(args.floor_runs)
    ]

    def synchronous_commit(value: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SET synchronous_commit TO {value}")

    @contextlib.contextmanager
    def commits_synchronously() -> Iterator[None]:
        synchronous_commit("ON")
        try:
            yield
        finally:
            synchronous_commit("OFF")

    synchronous_commit("OFF")  # as a worker's connections do
    clock = PhaseClock()
    modes = {
        "as shipped": clock.installed,
        "async_to_sync per event (no sender loop)": lambda: tricks.without(
            realtime, "sender_loop_run", tricks.sender_loop_run_plain
        ),
        "synchronous commit (no asynchronous commit)": commits_synchronously,
    }
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    for index, pk in enumerate(floor_ids):
        mode = list(modes)[index % len(modes)]
        with modes[mode]():
            began = time.perf_counter()
            calculation_run(calculation_id=pk)
            timings[mode].append(time.perf_counter() - began)
    clock_runs = len(timings["as shipped"])
    per_run_ms = common.median_ms(timings["as shipped"])
    ceiling = args.concurrency * 1000 / per_run_ms
    Calculation.objects.filter(pk__in=floor_ids).delete()
    synchronous_commit("DEFAULT")  # this process creates runs like the API: synchronously

    client = Client(headers={"Authorization": f"Bearer {token}"}, HTTP_HOST="localhost")

    def create(count: int, label: str) -> tuple[list[int], float]:
        began = time.perf_counter()
        ids = []
        for index in range(count):
            response = client.post(
                "/api/calculations", {**ONE_YEAR, "name": f"{label} {index}"}, content_type="application/json"
            )
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
        return ids, time.perf_counter() - began

    def wait_drained(ids: list[int], worker: Process) -> None:
        deadline = time.monotonic() + 300
        while Calculation.objects.filter(pk__in=ids, status=JobStatus.FINISHED).count() < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"not drained after 300 s; worker log:\n{worker.log_tail()}")
            time.sleep(0.05)

    def figures(ids: list[int]) -> dict:
        runs = Calculation.objects.filter(pk__in=ids)
        span = runs.aggregate(
            first_launch=Min("launched_at"), first_start=Min("started_at"), last_finish=Max("finished_at")
        )
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

    # 3. Asynchronous commit on the real drain: batches alternate between a worker as shipped
    # and one whose connections keep the synchronous default.
    drains: dict[str, list[float]] = {"synchronous": [], "asynchronous": []}
    for batch in range(2 * args.commit_batches):
        mode = list(drains)[batch % 2]
        ids, _ = create(args.runs, f"{mode} commit {batch}")
        worker = common.worker_start(
            concurrency=args.concurrency,
            overrides={"JOBS_WORKER_ASYNCHRONOUS_COMMIT": mode == "asynchronous"},
        )
        try:
            wait_drained(ids, worker)
        finally:
            worker.stop()
        drains[mode].append(args.runs / figures(ids)["drain"])

    rate = args.runs / queued["drain"]
    print(
        f"calculations queue: {args.runs} one-year daily runs, 1 worker x {args.concurrency} processes "
        f"(load average {os.getloadavg()[0]:.1f} on {CORES} cores)"
    )
    print(f"  created through the API in      {created_in:6.2f} s   ({args.runs / created_in:6.1f} runs/s)")
    print(f"  queue drained in                {queued['drain']:6.2f} s   ({rate:6.1f} runs/s)")
    print(
        f"  worker running while creating:  end to end {live['end_to_end']:.2f} s "
        f"({args.runs / live['end_to_end']:.1f} runs/s; creating took {live_created_in:.2f} s)"
    )
    print(
        f"  floor: calculation_run alone    {per_run_ms:6.2f} ms/run serially -> {ceiling:6.1f} runs/s "
        f"for {args.concurrency} processes; drain/floor = {rate / ceiling:.2f}"
    )
    print(f"  the floor's run, by phase (ms per run, wall / CPU of this process, {clock_runs} runs):")
    for phase in sorted(clock.wall, key=lambda phase: clock.wall[phase], reverse=True):
        wall_ms, cpu_ms = clock.wall[phase] * 1000 / clock_runs, clock.cpu[phase] * 1000 / clock_runs
        print(f"    {phase:<46} {wall_ms:6.2f} / {cpu_ms:5.2f}")
    print("  the floor's run, alternating (medians):")
    for mode in modes:
        mode_ms = common.median_ms(timings[mode])
        print(f"    {mode:<46} {mode_ms:6.2f} ms  {mode_ms / per_run_ms:.2f}x")
    plain_ms = common.median_ms(timings["async_to_sync per event (no sender loop)"])
    synchronous_ms = common.median_ms(timings["synchronous commit (no asynchronous commit)"])
    print(
        f"    the sender loop saves {(plain_ms - per_run_ms) / plain_ms:.0%} of the run; "
        f"asynchronous commit saves {(synchronous_ms - per_run_ms) / synchronous_ms:.0%}"
    )
    synchronous_rate, asynchronous_rate = (statistics.median(drains[mode]) for mode in drains)
    print(
        f"  drain, alternating batches of {args.runs} (median of {args.commit_batches} each): "
        f"synchronous commit {synchronous_rate:.1f} runs/s, asynchronous {asynchronous_rate:.1f} runs/s "
        f"({asynchronous_rate / synchronous_rate:.2f}x)"
    )
    worker_ms, postgres_ms = cpu["worker"] * 1000 / args.runs, cpu["postgres"] * 1000 / args.runs
    if worker_ms + postgres_ms > 0:  # a quick run can be shorter than the clock ticks of /proc
        cpu_bound = CORES * 1000 / (worker_ms + postgres_ms)
        print(
            f"  CPU per run while draining:     worker {worker_ms:.1f} ms "
            f"+ its PostgreSQL backends {postgres_ms:.1f} ms -> at most {cpu_bound:.0f} runs/s "
            f"on {CORES} idle cores (Redis and RabbitMQ not counted)"
        )
    print(
        f"  every run finished exactly once: attempts {queued['attempts']} and {live['attempts']}, "
        f"{queued['rows'] + live['rows']} rows"
    )
    verdict = "met" if rate >= TARGET else "NOT met"
    print(f"target >= {TARGET} runs/s: {verdict} ({rate:.1f} runs/s)")
    if rate < TARGET and worker_ms + postgres_ms > 0:
        print(
            f"  where it goes: {TARGET} runs/s on {CORES} cores leaves {CORES * 1000 / TARGET:.1f} ms of CPU "
            f"per run for everything; the worker and PostgreSQL alone spend {worker_ms + postgres_ms:.1f} ms "
            f"(load average {os.getloadavg()[0]:.1f}: other processes take the rest of the cores)"
        )


if __name__ == "__main__":
    main()
