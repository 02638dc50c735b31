"""Benchmark: a Refresh of 40 functions in parallel against the same 40 drawn one at a time.

    .venv/bin/python bench/charts_refresh.py [--functions 40] [--rounds 2] [--workers 4]

Floor (sequential): one process calls the chart job `function_render` for each function in
turn: data service -> points, export server -> PNG, PostgreSQL <- image. Parallel: the
admin's Refresh path, `functions_refresh(ids=...)`, which queues one Celery task per row on
RabbitMQ; a worker with 4 processes draws them against an export server with 4 browser
workers, until every row is back to `finished`. Both use the same rows, services and
database; rounds alternate the two so both see the same machine state, and the best round
of each is compared. Target: parallel <= 0.4 of sequential.

The script starts everything it needs on free ports, with its own database
(calcboard_bench_charts), its own broker queues and channel prefix, and stops it afterwards:
a data service, a Highcharts export server (EXPORT_SERVER_WORKERS = --workers) and a Celery
worker (-c --workers). PostgreSQL, RabbitMQ and Redis must be running (scripts/services).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import processes  # noqa: E402

DB_NAME = "calcboard_bench_charts"


def configure(workers: int) -> dict[str, str]:
    """Environment shared by this process and its children; set before Django starts."""
    # The test settings give this run (this process and its children) its own queues and
    # prefixes (from the run id) and take the services' addresses from CALCBOARD_TEST_SETTINGS.
    urls = {
        "DATASERVICE_URL": f"http://127.0.0.1:{processes.free_port()}",
        "EXPORT_SERVER_URL": f"http://127.0.0.1:{processes.free_port()}",
    }
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
        "POSTGRES_DB": DB_NAME,
        "CALCBOARD_TEST_SETTINGS": json.dumps(urls),
        "EXPORT_SERVER_WORKERS": str(workers),
        # The export server package's own variable (config.json says 40): a worker recycled
        # mid-run costs 0.5-0.8 s in one of the two measurements only.
        "POOL_WORK_LIMIT": "1000",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return {**env, **urls}


def cpu_snapshot(roots: dict[int, str]) -> dict[str, float]:
    """CPU seconds used so far by every process on the machine, grouped by role: the process
    trees started here (`roots`: pid -> role), PostgreSQL, RabbitMQ, this script, other."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command)

    def role(pid: int) -> str:
        ancestor = pid
        while ancestor in table:
            if ancestor in roots:
                return roots[ancestor]
            ancestor = table[ancestor][0]
        command = table[pid][2]
        if pid == os.getpid():
            return "this script"
        if command.startswith("postgres"):
            return "postgresql"
        if "beam" in command or "rabbitmq" in command:
            return "rabbitmq"
        if "redis" in command:
            return "redis"
        return "other (not this benchmark)"

    groups: dict[str, float] = {}
    for pid, (_, seconds, _) in table.items():
        groups[role(pid)] = groups.get(role(pid), 0.0) + seconds
    return groups


def cpu_used(before: dict[str, float], after: dict[str, float], charts: int) -> str:
    used = {group: (after.get(group, 0.0) - before.get(group, 0.0)) * 1000 / charts for group in after}
    parts = [f"{group} {ms:.0f}" for group, ms in sorted(used.items(), key=lambda item: -item[1]) if ms >= 1]
    return "CPU ms a chart: " + ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="Celery processes and export server workers")
    parser.add_argument("--dt", type=float, default=1.0, help="hours")
    parser.add_argument("--interval", type=float, default=30.0, help="days")
    parser.add_argument("--profile", action="store_true", help="print CPU time a chart per process group")
    args = parser.parse_args()

    env = configure(args.workers)
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apps.charts").setLevel(logging.WARNING)
    from django.core.management import call_command

    from apps.charts.models import Function
    from apps.charts.services import function_render, functions_refresh
    from apps.jobs.models import JobStatus

    processes.database_recreate(DB_NAME)
    call_command("migrate", verbosity=0)

    started: list[processes.Process] = []
    try:
        workers = args.workers
        print(f"starting: data service, export server ({workers} workers), celery worker (-c {workers})")
        started.append(processes.start_dataservice(DB_NAME, env["DATASERVICE_URL"], name="bench-dataservice"))
        started.append(processes.start_export_server(env["EXPORT_SERVER_URL"], name="bench-highcharts"))
        started.append(processes.start_worker(DB_NAME, name="bench-worker", concurrency=args.workers))

        roots = {
            started[0].popen.pid: "data service",
            started[1].popen.pid: "export server",
            started[2].popen.pid: "celery worker",
        }
        presets = ["t + 2/t", "sin(t)"]
        ids = [
            Function.objects.create(
                expression=presets[i % 2], dt=args.dt, interval=args.interval, status=JobStatus.FINISHED
            ).pk
            for i in range(args.functions)
        ]
        points = int(args.interval * 24 / args.dt) + 1

        def sequential() -> float:
            Function.objects.filter(pk__in=ids).update(status=JobStatus.QUEUED)
            start = time.perf_counter()
            for pk in ids:
                function_render(function_id=pk)
            return time.perf_counter() - start

        def parallel() -> float:
            start = time.perf_counter()
            result = functions_refresh(ids=ids)
            assert result.queued == len(ids), result
            done = Function.objects.filter(pk__in=ids, status__in=[JobStatus.FINISHED, JobStatus.FAILED])
            deadline = time.monotonic() + 600
            while done.count() < len(ids):
                if time.monotonic() > deadline:
                    raise TimeoutError("parallel refresh did not finish in 600 s")
                time.sleep(0.02)
            return time.perf_counter() - start

        def check(label: str) -> None:
            statuses = dict(Function.objects.filter(pk__in=ids).values_list("pk", "status"))
            failed = Function.objects.filter(pk__in=ids).exclude(status=JobStatus.FINISHED)
            if failed.exists():
                raise RuntimeError(
                    f"{label}: not finished: {list(failed.values_list('pk', 'status', 'error')[:3])}"
                )
            assert len(statuses) == len(ids)

        # Warm-up: browser pages, database and broker connections, the worker's imports.
        Function.objects.filter(pk__in=ids[: args.workers]).update(status=JobStatus.QUEUED)
        for pk in ids[: args.workers]:
            function_render(function_id=pk)
        Function.objects.filter(pk__in=ids[: args.workers]).update(status=JobStatus.FINISHED)
        functions_refresh(ids=ids[: args.workers])
        while (
            Function.objects.filter(pk__in=ids[: args.workers], status=JobStatus.FINISHED).count()
            < args.workers
        ):
            time.sleep(0.05)

        print(
            f"{args.functions} functions, {points} points each, {args.rounds} round(s); "
            f"machine: {os.cpu_count()} cores"
        )
        sequential_times, parallel_times, parallel_cpu = [], [], []
        for round_number in range(1, args.rounds + 1):
            before = cpu_snapshot(roots)
            sequential_times.append(sequential())
            middle = cpu_snapshot(roots)
            check("sequential")
            parallel_times.append(parallel())
            after = cpu_snapshot(roots)
            check("parallel")
            print(
                f"  round {round_number}: sequential {sequential_times[-1]:.2f} s, "
                f"parallel {parallel_times[-1]:.2f} s"
            )
            parallel_cpu.append(
                sum(
                    after.get(group, 0.0) - middle.get(group, 0.0)
                    for group in after
                    if not group.startswith("other")
                )
            )
            if args.profile:
                print(f"    sequential {cpu_used(before, middle, len(ids))}")
                print(f"    parallel   {cpu_used(middle, after, len(ids))}")

        best_sequential, best_parallel = min(sequential_times), min(parallel_times)
        ratio = best_parallel / best_sequential
        per_chart = best_sequential / args.functions * 1000
        print(
            f"sequential (floor): {best_sequential:.2f} s  ({per_chart:.0f} ms a chart, "
            f"median round {statistics.median(sequential_times):.2f} s)"
        )
        print(
            f"parallel refresh:   {best_parallel:.2f} s  ({args.functions / best_parallel:.1f} charts/s, "
            f"median round {statistics.median(parallel_times):.2f} s)"
        )
        verdict = "PASS" if ratio <= 0.4 else "FAIL"
        print(f"ratio parallel / sequential: {ratio:.2f}  (target <= 0.40: {verdict})")
        # The parallel run cannot beat its own CPU time spread over every core of the machine.
        cores = os.cpu_count() or 1
        cpu_floor = min(parallel_cpu) / cores
        print(
            f"CPU-bound floor: the parallel run used {min(parallel_cpu):.1f} CPU-s "
            f"({min(parallel_cpu) / args.functions * 1000:.0f} ms a chart) = {cpu_floor:.2f} s "
            f"on {cores} cores, "
            f"i.e. a ratio of at least {cpu_floor / best_sequential:.2f} on this machine"
        )
        return 0
    finally:
        for process in reversed(started):
            process.stop()
        processes.database_drop(DB_NAME)


if __name__ == "__main__":
    sys.exit(main())
