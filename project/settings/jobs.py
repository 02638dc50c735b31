"""Celery (RabbitMQ broker, results in Redis through Django's cache) and the job lifecycle
calculations and charts share (apps/jobs/services.py has the whole story).

Operators set the broker URL (and the worker's concurrency, scripts/run); everything else is
a constant. Settings computed from others are computed once, in `derived`, which the test
settings call again after they override a value."""

from collections.abc import Mapping
from typing import Any

from kombu import Exchange, Queue

from project.settings.env import env_str
from project.settings.services import DATASERVICE_TIMEOUT, EXPORT_SERVER_TIMEOUT

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = "django-cache"
CELERY_CACHE_BACKEND = "default"
CELERY_RESULT_EXPIRES = 24 * 3600  # seconds
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A message is acknowledged only after its task finished, and redelivered when the worker
# process died, so a crash never loses accepted work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process keeps the calculations queue first-in first-out.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
# Opening a channel to a broker that refuses connections fails at once instead of retrying
# for broker_connection_timeout (~6 s here): a request publishing a job must not wait for a
# broker that is down (the job stays in the outbox, apps.jobs.services). Workers reconnect
# their consumer with their own policy (broker_connection_max_retries), not this one.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0}
# Without this Celery's Django fixup closes the database connection before and after every
# task, so each run paid for a new PostgreSQL connection. Reused for this many tasks; checked
# before each task like a request (project.celery), so a broken one is replaced.
CELERY_DB_REUSE_MAX = 1000

# Upper bound on rows one calculation may produce ((date_fin - date_start) / lag + 1).
CALCBOARD_MAX_RESULT_ROWS = 100_000

# --- The job lifecycle ------------------------------------------------------------------------
# A process that failed to reach the broker does not try again for this many seconds: the
# jobs stay in the outbox for the sweep and no request waits for a broker that is down.
JOBS_PUBLISH_BACKOFF = 5.0
# Seconds a create refused by a quota is told to wait (Retry-After): about one job's run.
JOBS_QUOTA_RETRY_AFTER = 30
# The retention purge deletes at most this many rows (a job's own and its children's) per
# transaction, so it never holds long locks; beat starts it every RETENTION_INTERVAL seconds.
JOBS_RETENTION_BATCH_ROWS = 20_000
JOBS_RETENTION_INTERVAL = 3600.0
# How long an Idempotency-Key answers with the first answer (seconds).
JOBS_IDEMPOTENCY_TTL = 24 * 3600.0
# Worker processes commit without waiting for the WAL flush (why that loses nothing:
# apps.jobs.services.worker_connection_commit_asynchronously). Off only to measure the gain
# (bench/calculations_queue.py).
JOBS_WORKER_ASYNCHRONOUS_COMMIT = True

# One set of names per kind: its prefix (CALCULATIONS_, CHARTS_) and these suffixes.
#   QUEUE                 the kind's Celery queue
#   MAX_ATTEMPTS          claims a job gets; past them a job whose worker keeps dying fails
#   SOFT_TIME_LIMIT       seconds one attempt may run before it fails as timed out
#   TIME_LIMIT            seconds after which the worker process is killed (counts as an attempt)
#   STALE_AFTER           seconds `running` without any write before the sweep calls it lost
#   DISPATCH_GRACE        age of an unpublished queued job before the sweep publishes it
#   QUEUED_STALE_AFTER    a job published this long ago and never started lost its message
#   SWEEP_INTERVAL        seconds between beat sweeps
#   PROGRESS_MIN_INTERVAL progress is written and broadcast at most this often (seconds);
#                         a one-year calculation then costs two writes instead of a dozen
#   STEP_DELAY            seconds slept per step: 0 in production, > 0 to watch jobs in a demo
#   RETRY_BACKOFF(_MAX)   backoff between retries of a transient failure: base * 2^n, capped
#   QUOTA_IN_FLIGHT       jobs one user may have queued or running at once (None: no cap);
#                         past it a create answers 429 (apps.jobs.quotas)
#   RETENTION_DAYS        days an ended (finished, failed, cancelled), unpinned job is kept
#                         after its end; None: for ever (a function keeps its one current
#                         chart). apps.jobs.retention purges the rest.
# TIME_LIMIT is soft + 30 for both; None: derived from the others (`derived`, below).
_LIFECYCLE: dict[str, tuple[Any, Any]] = {
    #                        CALCULATIONS_    CHARTS_
    "QUEUE":                 ("calculations", "charts"),
    "MAX_ATTEMPTS":          (3,              3),
    # A chart's attempt may wait for both services' timeouts (120 s).
    "SOFT_TIME_LIMIT":       (600.0,          DATASERVICE_TIMEOUT + EXPORT_SERVER_TIMEOUT + 30),
    "STALE_AFTER":           (300.0,          None),  # charts: time limit + 60
    "DISPATCH_GRACE":        (10.0,           10.0),
    "QUEUED_STALE_AFTER":    (3600.0,         600.0),
    "SWEEP_INTERVAL":        (30.0,           30.0),
    "PROGRESS_MIN_INTERVAL": (0.25,           0.0),
    "STEP_DELAY":            (0.0,            0.0),
    "RETRY_BACKOFF":         (2.0,            2.0),
    "RETRY_BACKOFF_MAX":     (60.0,           30.0),
    "QUOTA_IN_FLIGHT":       (20,             100),
    "RETENTION_DAYS":        (90,             "forever"),
}  # fmt: skip
_KINDS = ("CALCULATIONS", "CHARTS")
for _suffix, _values in _LIFECYCLE.items():
    for _kind, _value in zip(_KINDS, _values, strict=True):
        if _value == "forever":
            globals()[f"{_kind}_{_suffix}"] = None
        elif _value is not None:
            globals()[f"{_kind}_{_suffix}"] = _value


def derived(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting computed from others, from `values` (a settings module's names)."""
    calculations, charts = values["CALCULATIONS_QUEUE"], values["CHARTS_QUEUE"]
    result = {
        "CELERY_TASK_DEFAULT_QUEUE": calculations,
        "CELERY_TASK_QUEUES": [
            Queue(calculations, Exchange(calculations), routing_key=calculations),
            Queue(charts, Exchange(charts), routing_key=charts),
        ],
        "CELERY_TASK_ROUTES": {
            "calculations.*": {"queue": calculations, "routing_key": calculations},
            "charts.*": {"queue": charts, "routing_key": charts},
        },
        "CELERY_BEAT_SCHEDULE": {},
        # A chart writes progress before each outside call: silent longer than one call can last.
        "CHARTS_STALE_AFTER": values["CHARTS_SOFT_TIME_LIMIT"] + 30 + 60,
    }
    for kind in _KINDS:
        # The worker process is killed this long after the attempt was told it timed out.
        result[f"{kind}_TIME_LIMIT"] = values[f"{kind}_SOFT_TIME_LIMIT"] + 30
        every = values[f"{kind}_SWEEP_INTERVAL"]
        # A sweep nobody picked up in time is superseded by the next one: never let them pile up.
        result["CELERY_BEAT_SCHEDULE"][f"{kind.lower()}-sweep"] = {
            "task": f"{kind.lower()}.sweep",
            "schedule": every,
            "options": {"expires": every},
        }
        # Retention: only kinds that keep their jobs for a limited time have a purge.
        if values[f"{kind}_RETENTION_DAYS"] is not None:
            purge_every = values["JOBS_RETENTION_INTERVAL"]
            result["CELERY_BEAT_SCHEDULE"][f"{kind.lower()}-purge"] = {
                "task": f"{kind.lower()}.purge",
                "schedule": purge_every,
                "options": {"expires": purge_every},
            }
    return result


globals().update(derived(globals()))
