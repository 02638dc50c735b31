"""Shared set-up of the calculations benchmarks (not a benchmark itself).

Every benchmark run works on its own database, `bench_calcboard_<pid>` (created and migrated
here, dropped on exit; BENCH_POSTGRES_DB names one to keep between runs), with the broker
queues, cache and channel prefixes the test settings derive from its run id, so it never
touches a developer's data, a running test suite or another benchmark run. The processes it
starts are the Procfile's (`scripts/run worker`, `scripts/run proxy`, `web`, `ws`), stopped on exit; extra
worker options for experiments go in BENCH_WORKER_ARGS (e.g. "--prefetch-multiplier 4").
Wall-clock figures depend on what else the machine is doing: each script prints the load
average next to them.
"""

import atexit
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A shared name let two runs on one machine truncate each other's rows and drain each other's
# queue (one waited 300 s for runs the other had deleted).
DB_NAME = os.environ.get("BENCH_POSTGRES_DB") or f"bench_calcboard_{os.getpid()}"
ENV = {
    # The test settings: DEBUG off (it would record every query in memory), queues, cache and
    # channel prefixes of this run (from its run id), no step delay.
    "DJANGO_SETTINGS_MODULE": "project.settings.test",
    "POSTGRES_DB": DB_NAME,
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()
# The children get what the settings chose for the run (its services' ports) as well.
ENV["CALCBOARD_TEST_SETTINGS"] = os.environ["CALCBOARD_TEST_SETTINGS"]

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from harness.processes import (  # noqa: E402
    FrontDoor,
    Process,
    database_connect,
    database_drop,
    database_ensure,
    start_worker,
)

QUEUE = settings.CALCULATIONS_QUEUE


def _clean_up() -> None:
    """Drop what this run made: its queues, and its database unless BENCH_POSTGRES_DB keeps it."""
    from apps.jobs.registry import job_kinds
    from project.celery import app

    with app.connection_for_write() as conn:
        for queue in (kind.setting("QUEUE") for kind in job_kinds):
            conn.default_channel.queue_delete(queue=queue)
    if not os.environ.get("BENCH_POSTGRES_DB"):
        database_drop(DB_NAME)


def database_prepare() -> None:
    """Create the benchmark database if needed, migrate it and empty the calculations."""
    database_ensure(DB_NAME)
    atexit.register(_clean_up)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **ENV},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calculations_calculationrow, calculations_calculation RESTART IDENTITY CASCADE"
        )


def raw_connection() -> Any:  # a psycopg2 connection (untyped)
    """A plain psycopg2 connection to the benchmark database (the floor's client)."""
    return database_connect(DB_NAME)


def api_token() -> str:
    from django.contrib.auth import get_user_model

    from apps.accounts.services import api_token_create

    # The API needs model permissions (apps.accounts.permissions); a superuser has them all.
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    return api_token_create(user=user, name="bench")[1]


def queue_purge() -> None:
    from project.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=QUEUE, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(QUEUE)


def worker_start(*, concurrency: int = 2, overrides: dict | None = None) -> Process:
    """One Celery worker with `concurrency` processes on the benchmark queue, started the way
    the Procfile starts it (`scripts/run worker`), with `overrides` of its settings."""
    settings_json = json.dumps({**json.loads(ENV["CALCBOARD_TEST_SETTINGS"]), **(overrides or {})})
    return start_worker(
        DB_NAME,
        name="bench-calculations-worker",
        concurrency=concurrency,
        extra_env={**ENV, "CALCBOARD_TEST_SETTINGS": settings_json},
        args=["-Q", QUEUE, *os.environ.get("BENCH_WORKER_ARGS", "").split()],
    )


def web_tier_start() -> tuple[FrontDoor, str]:
    """The web tier exactly as the Procfile starts it (`scripts/run proxy`, `web`, `ws`) on free
    ports; returns it and the proxy's base URL (what clients use)."""
    door = FrontDoor(DB_NAME, extra_env=ENV, name="bench-calculations", web_workers=None)
    return door, door.base_url


def interleaved_timings(probes: dict, *, samples: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each probe, `samples` times each, one of each in turn (so a change
    of load hits them all alike), after `warmup` untimed rounds."""
    for _ in range(warmup):
        for probe in probes.values():
            probe()
    timings: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(samples):
        for name, probe in probes.items():
            began = time.perf_counter()
            probe()
            timings[name].append(time.perf_counter() - began)
    return timings


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                parents[int(entry)] = int(
                    Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    return found


class CpuMeter:
    """CPU seconds spent by one process tree and by PostgreSQL's backends for this database.

    Unlike wall-clock rates, these do not depend on what else the machine is doing, so they
    say what a run costs even on a busy shared machine.
    """

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.start = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        with raw_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
            )
            backends = {pid for (pid,) in cursor.fetchall()}
        return {
            "worker": {pid: _cpu_seconds(pid) for pid in _descendants(self.root_pid)},
            "postgres": {pid: _cpu_seconds(pid) for pid in backends},
        }

    def spent(self) -> dict[str, float]:
        end = self._sample()
        return {
            part: sum(seconds - self.start[part].get(pid, 0.0) for pid, seconds in end[part].items())
            for part in end
        }
