"""The product's own Prometheus metrics, declared once; `project.metrics` serves them.

Each process records what it does: a Celery worker the jobs it ends and the outside calls it
makes, the web process the calls it makes (a run's chart image), daphne its websockets. Under
several processes of one server (gunicorn's workers, Celery's pool) prometheus-client runs in
multiprocess mode: `scripts/run` points PROMETHEUS_MULTIPROC_DIR at a folder of the server's
own, emptied at start, and each process writes its values there for the server's endpoint
to add up (docs/how-to/operate.md lists the endpoints and every metric).

What the database knows (jobs by kind and status, queue depth, the oldest queued job) is not
recorded here but read at scrape time (`project.metrics.JobsCollector`), so it is exact
whichever process changed it.
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Gauge, Histogram

P = ParamSpec("P")
R = TypeVar("R")

# Up to ten minutes: a calculation's soft time limit.
JOB_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# An outside call is given at most 60 s (EXPORT_SERVER_TIMEOUT).
CALL_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

JOB_DURATION = Histogram(
    "calcboard_job_duration_seconds",
    "Seconds a job's last attempt ran, from its start to its end, by kind and outcome.",
    ["kind", "outcome"],
    buckets=JOB_DURATION_BUCKETS,
)
OUTSIDE_CALLS = Counter(
    "calcboard_outside_calls",
    "Calls to an outside service (data service, export server), by service and outcome.",
    ["service", "outcome"],
)
OUTSIDE_CALL_DURATION = Histogram(
    "calcboard_outside_call_duration_seconds",
    "Seconds a call to an outside service took, by service and outcome.",
    ["service", "outcome"],
    buckets=CALL_DURATION_BUCKETS,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "calcboard_websocket_connections",
    "Websockets open now (accepted, not yet closed).",
    multiprocess_mode="livesum",
)
WEBSOCKET_EVENTS = Counter(
    "calcboard_websocket_events_delivered",
    "Live events sent to websocket clients (replayed ones included).",
)
QUOTA_REFUSALS = Counter(
    "calcboard_quota_refusals",
    "Create requests refused because the user had too many jobs of a kind in flight.",
    ["kind"],
)
RETENTION_PURGED = Counter(
    "calcboard_retention_purged_rows",
    "Rows the retention purge deleted, by job kind and table.",
    ["kind", "table"],
)
RETENTION_PURGE_DURATION = Histogram(
    "calcboard_retention_purge_duration_seconds",
    "Seconds one retention purge of a kind took, all its batches together.",
    ["kind"],
    buckets=JOB_DURATION_BUCKETS,
)


def job_duration_observe(*, kind: str, outcome: str, seconds: float) -> None:
    JOB_DURATION.labels(kind=kind, outcome=outcome).observe(max(seconds, 0.0))


def outside_call_observe(*, service: str, outcome: str, seconds: float) -> None:
    OUTSIDE_CALLS.labels(service=service, outcome=outcome).inc()
    OUTSIDE_CALL_DURATION.labels(service=service, outcome=outcome).observe(seconds)


def outside_call(
    service: str, outcome_of: Callable[[Exception], str | None]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a client function: each call is counted and timed under `service`, with the
    outcome "ok", or `outcome_of(error)` for an exception it raises (None: not a call's
    outcome, e.g. a bug, which is left uncounted)."""

    def decorate(call: Callable[P, R]) -> Callable[P, R]:
        @wraps(call)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                result = call(*args, **kwargs)
            except Exception as exc:
                outcome = outcome_of(exc)
                if outcome is not None:
                    outside_call_observe(
                        service=service, outcome=outcome, seconds=time.perf_counter() - started
                    )
                raise
            outside_call_observe(service=service, outcome="ok", seconds=time.perf_counter() - started)
            return result

        return timed

    return decorate
