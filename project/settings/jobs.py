"""Celery (RabbitMQ broker, results in Redis through Django's cache) and the job lifecycle
calculations and charts share (apps/jobs/services.py has the whole story).

Operators set the broker URL (and the worker's concurrency, scripts/run); everything else is
a constant."""

from project.settings.env import env_str

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

# Each job kind's queue and policy (attempts, time limits, stale-after, dispatch grace,
# sweep interval, progress interval, step delay, backoff) are declared once, by its app
# (apps.jobs.registry). A setting named <APP LABEL>_<NAME> overrides one of them:
#   QUEUE                 the kind's Celery queue
#   MAX_ATTEMPTS          claims a job gets; past them a job whose worker keeps dying fails
#   SOFT_TIME_LIMIT       seconds one attempt may run before it fails as timed out
#   TIME_LIMIT            seconds after which the worker process is killed (default: soft + 30)
#   STALE_AFTER           seconds `running` without any write before the sweep calls it lost
#   DISPATCH_GRACE        age of an unpublished queued job before the sweep publishes it
#   QUEUED_STALE_AFTER    a job published this long ago and never started lost its message
#   SWEEP_INTERVAL        seconds between beat sweeps
#   PROGRESS_MIN_INTERVAL progress is written and broadcast at most this often (seconds)
#   STEP_DELAY            seconds slept per step: 0 in production, > 0 to watch jobs in a demo
#   RETRY_BACKOFF(_MAX)   backoff between retries of a transient failure: base * 2^n, capped
#   QUOTA_IN_FLIGHT       jobs one user may have queued or running at once (None: no cap);
#                         past it a create answers 429 (apps.jobs.quotas)
#   RETENTION_DAYS        days an ended (finished, failed, cancelled), unpinned job is kept
#                         after its end; None: for ever. apps.jobs.retention purges the rest.
# e.g. CALCULATIONS_MAX_ATTEMPTS = 5, CHARTS_QUEUE = "charts-2". Celery's queues, task routes
# and beat schedule are built from the registry (project/celery.py), not set here.
