"""Settings shared by every environment. Everything that differs between machines comes
from the environment; see `.env.example` and the README's configuration table."""

from pathlib import Path

from kombu import Exchange, Queue

from project.settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-local-development-key")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: it replaces runserver with the ASGI server that also speaks websockets.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_results",
    "ninja",
    "apps.core",
    "apps.accounts",
    "apps.live",
    "apps.jobs",
    "apps.calculations",
    "apps.charts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = "project.wsgi.application"

# The proxy (nginx, docker/nginx/) is the only way to the application servers: they listen on
# loopback locally and on an internal network in compose. So what it says about the client's
# scheme is trusted; it sets X-Forwarded-Proto from the connection it accepted.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env_str("POSTGRES_HOST", "127.0.0.1"),
        "PORT": env_int("POSTGRES_PORT", 5432),
        "NAME": env_str("POSTGRES_DB", "calcboard"),
        "USER": env_str("POSTGRES_USER", "postgres"),
        "PASSWORD": env_str("POSTGRES_PASSWORD", ""),
        # 0 under daphne (ws, dataservice): an ASGI request's connection is only closed by the
        # garbage collector otherwise, and they pile up. gunicorn's sync workers (scripts/run
        # web sets 600) and Celery workers (60) each reuse theirs, checked before every request.
        "CONN_MAX_AGE": env_int("POSTGRES_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# Django's cache lives in Redis; django-celery-results stores task results through it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "calcboard"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # No socket timeout, as before redis-py 8: its new 5 s default cuts the layer's 5 s
            # BZPOPMIN, dropping idle websockets every ~5 s (django/channels_redis#422); and any
            # timeout makes redis-py send through asyncio.wait_for, which on Python 3.11 can
            # swallow a cancellation, leaving a closed consumer's receive loop running forever.
            # A Redis that stops or restarts still resets the connection at once.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "socket_connect_timeout": 5}],
            "prefix": env_str("CHANNELS_PREFIX", "calcboard"),
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ensure_admin refuses the example password and any that fails the validators above (True in
# production settings); locally `admin-change-me` is fine.
ADMIN_PASSWORD_STRICT = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Collected by scripts/bootstrap (and in the image) and served by the proxy, not by Django.
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# The admin live widget is plain JS/CSS served as-is: no build step.
STATICFILES_DIRS = [BASE_DIR / "frontend"]

# Bodies larger than this are refused before they reach a view; the proxy applies the same
# limit (scripts/run proxy reads the same variable), so they do not even reach Python.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 64 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Celery (RabbitMQ broker, results in Redis through Django's cache) -------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = "django-cache"
CELERY_CACHE_BACKEND = "default"
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES", 24 * 3600)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
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

CALCULATIONS_QUEUE = env_str("CALCULATIONS_QUEUE", "calculations")
CHARTS_QUEUE = env_str("CHARTS_QUEUE", "charts")
CELERY_TASK_DEFAULT_QUEUE = CALCULATIONS_QUEUE
CELERY_TASK_QUEUES = [
    Queue(CALCULATIONS_QUEUE, Exchange(CALCULATIONS_QUEUE), routing_key=CALCULATIONS_QUEUE),
    Queue(CHARTS_QUEUE, Exchange(CHARTS_QUEUE), routing_key=CHARTS_QUEUE),
]
CELERY_TASK_ROUTES = {
    "calculations.*": {"queue": CALCULATIONS_QUEUE, "routing_key": CALCULATIONS_QUEUE},
    "charts.*": {"queue": CHARTS_QUEUE, "routing_key": CHARTS_QUEUE},
}
CELERY_BEAT_SCHEDULE: dict = {}

# --- Product settings ---------------------------------------------------------------------
# Upper bound on rows one calculation may produce ((date_fin - date_start) / lag + 1).
CALCBOARD_MAX_RESULT_ROWS = env_int("CALCBOARD_MAX_RESULT_ROWS", 100_000)

# Outside services used by the charts pipeline.
DATASERVICE_URL = env_str("DATASERVICE_URL", "http://127.0.0.1:8100")
DATASERVICE_TIMEOUT = env_float("DATASERVICE_TIMEOUT", 30.0)
EXPORT_SERVER_URL = env_str("EXPORT_SERVER_URL", "http://127.0.0.1:7801")
EXPORT_SERVER_TIMEOUT = env_float("EXPORT_SERVER_TIMEOUT", 60.0)

# --- Data service (apps.dataservice, service 2): what one POST /points may ask for ---------
# Defined here (not only in settings/dataservice.py) so clients and in-process tests see the
# same limits. dt is in hours, interval in days; points = floor(interval*24/dt) + 1.
DATASERVICE_MAX_POINTS = env_int("DATASERVICE_MAX_POINTS", 100_000)
DATASERVICE_MIN_DT_HOURS = env_float("DATASERVICE_MIN_DT_HOURS", 0.0001)  # 0.36 s
DATASERVICE_MAX_DT_HOURS = env_float("DATASERVICE_MAX_DT_HOURS", 8760.0)  # one year
DATASERVICE_MAX_INTERVAL_DAYS = env_float("DATASERVICE_MAX_INTERVAL_DAYS", 3650.0)  # ten years

# --- Charts job (apps.charts) ---------------------------------------------------------------
# The PNG the export server draws (pixels); the admin list shows it scaled down.
CHARTS_IMAGE_WIDTH = env_int("CHARTS_IMAGE_WIDTH", 1000)
CHARTS_IMAGE_HEIGHT = env_int("CHARTS_IMAGE_HEIGHT", 500)

# --- Jobs (apps.jobs): the lifecycle both calculations and charts follow ----------------
# The same suffixes for each kind, after its prefix (CALCULATIONS_, CHARTS_):
#   MAX_ATTEMPTS          claims a job gets; past them a job whose worker keeps dying fails
#   SOFT_TIME_LIMIT       seconds one attempt may run before it fails as timed out
#   TIME_LIMIT            seconds after which the worker process is killed (counts as an attempt)
#   STALE_AFTER           seconds `running` without any write before the sweep calls it lost
#   DISPATCH_GRACE        age of an unpublished queued job before the sweep publishes it
#   QUEUED_STALE_AFTER    a job published this long ago and never started lost its message
#   SWEEP_INTERVAL        seconds between beat sweeps
#   PROGRESS_MIN_INTERVAL progress is written and broadcast at most this often (seconds)
#   STEP_DELAY            seconds slept per step: 0 in production, > 0 to watch jobs in a demo
#   RETRY_BACKOFF(_MAX)   backoff between retries of a transient failure: base * 2^n, capped
# See apps/jobs/services.py for the whole story.
# A process that failed to reach the broker does not try again for this many seconds: the
# jobs stay in the outbox for the sweep and no request waits for a broker that is down.
JOBS_PUBLISH_BACKOFF = env_float("JOBS_PUBLISH_BACKOFF", 5.0)
# How long an Idempotency-Key answers with the first answer (seconds).
JOBS_IDEMPOTENCY_TTL = env_float("JOBS_IDEMPOTENCY_TTL", 24 * 3600.0)

CALCULATIONS_MAX_ATTEMPTS = env_int("CALCULATIONS_MAX_ATTEMPTS", 3)
CALCULATIONS_SOFT_TIME_LIMIT = env_float("CALCULATIONS_SOFT_TIME_LIMIT", 600.0)
CALCULATIONS_TIME_LIMIT = env_float("CALCULATIONS_TIME_LIMIT", CALCULATIONS_SOFT_TIME_LIMIT + 30)
CALCULATIONS_STALE_AFTER = env_float("CALCULATIONS_STALE_AFTER", 300.0)
CALCULATIONS_DISPATCH_GRACE = env_float("CALCULATIONS_DISPATCH_GRACE", 10.0)
CALCULATIONS_QUEUED_STALE_AFTER = env_float("CALCULATIONS_QUEUED_STALE_AFTER", 3600.0)
CALCULATIONS_SWEEP_INTERVAL = env_float("CALCULATIONS_SWEEP_INTERVAL", 30.0)
# A one-year run then costs two writes (running, finished) instead of a dozen.
CALCULATIONS_PROGRESS_MIN_INTERVAL = env_float("CALCULATIONS_PROGRESS_MIN_INTERVAL", 0.25)
CALCULATIONS_STEP_DELAY = env_float("CALCULATIONS_STEP_DELAY", 0.0)
CALCULATIONS_RETRY_BACKOFF = env_float("CALCULATIONS_RETRY_BACKOFF", 2.0)
CALCULATIONS_RETRY_BACKOFF_MAX = env_float("CALCULATIONS_RETRY_BACKOFF_MAX", 60.0)

CHARTS_MAX_ATTEMPTS = env_int("CHARTS_MAX_ATTEMPTS", 3)
# One attempt may wait for both services' timeouts; past this the job fails as timed out.
CHARTS_SOFT_TIME_LIMIT = env_float("CHARTS_SOFT_TIME_LIMIT", DATASERVICE_TIMEOUT + EXPORT_SERVER_TIMEOUT + 30)
CHARTS_TIME_LIMIT = env_float("CHARTS_TIME_LIMIT", CHARTS_SOFT_TIME_LIMIT + 30)
# A chart writes progress before each outside call: silent longer than one call can last.
CHARTS_STALE_AFTER = env_float("CHARTS_STALE_AFTER", CHARTS_TIME_LIMIT + 60)
CHARTS_DISPATCH_GRACE = env_float("CHARTS_DISPATCH_GRACE", 10.0)
CHARTS_QUEUED_STALE_AFTER = env_float("CHARTS_QUEUED_STALE_AFTER", 600.0)
CHARTS_SWEEP_INTERVAL = env_float("CHARTS_SWEEP_INTERVAL", 30.0)
CHARTS_PROGRESS_MIN_INTERVAL = env_float("CHARTS_PROGRESS_MIN_INTERVAL", 0.0)
CHARTS_STEP_DELAY = env_float("CHARTS_STEP_DELAY", 0.0)
CHARTS_RETRY_BACKOFF = env_float("CHARTS_RETRY_BACKOFF", 2.0)
CHARTS_RETRY_BACKOFF_MAX = env_float("CHARTS_RETRY_BACKOFF_MAX", 30.0)

# Without this Celery's Django fixup closes the database connection before and after every
# task, so each run paid for a new PostgreSQL connection. Reused for this many tasks; checked
# before each task like a request (project.celery), so a broken one is replaced.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
for _prefix in ("calculations", "charts"):
    _every = globals()[f"{_prefix.upper()}_SWEEP_INTERVAL"]
    # A sweep nobody picked up in time is superseded by the next one: never let them pile up.
    CELERY_BEAT_SCHEDULE[f"{_prefix}-sweep"] = {
        "task": f"{_prefix}.sweep", "schedule": _every, "options": {"expires": _every},
    }

# --- Live status (apps.live) ----------------------------------------------------------------
# Every stream event is kept this long (seconds) and at most this many a stream, so a client
# that reconnects gets what it missed (`since`); older than that it is told to `resync`.
LIVE_EVENT_LOG_RETENTION = env_float("LIVE_EVENT_LOG_RETENTION", 15 * 60.0)
LIVE_EVENT_LOG_MAX_EVENTS = env_int("LIVE_EVENT_LOG_MAX_EVENTS", 10_000)
# An open websocket re-checks its credentials this often (seconds). Revoking a token,
# deactivating a user and logging out close sockets at once (signals); this catches the rest
# (a session expired, a bulk UPDATE of users).
LIVE_AUTH_RECHECK_SECONDS = env_float("LIVE_AUTH_RECHECK_SECONDS", 60.0)
