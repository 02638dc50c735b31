"""`GET /healthz`: the liveness probe of the web process (compose health check, load balancers);
`GET /readyz`: whether it can do its whole job right now (monitoring, a load balancer's
readiness probe).

Unauthenticated on purpose: a probe has no credentials. It reveals nothing but "ok" or
"unavailable" per dependency, never error text or hostnames.

Only the database decides the status code: without it the web process can serve nothing,
while a broker or Redis outage is survived (runs wait in the outbox, statuses still land in
the database), so those two are reported, not fatal.

/readyz checks every dependency, each timed: PostgreSQL, RabbitMQ, Redis, the data service,
the export server, and that a Celery worker consumes every job queue. Any failure
answers 503 and names the failing dependencies. Compose's health checks keep /healthz: a
container restarted because the export server is down would not bring it back.
"""

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

from apps.jobs.registry import job_kinds

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# A probe that hangs is as bad as a failed one: every check gives up after this many seconds.
CHECK_TIMEOUT = 2.0

OK = "ok"
UNAVAILABLE = "unavailable"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT)


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def _http_health(url: str) -> None:
    response = httpx.get(f"{url.rstrip('/')}/health", timeout=CHECK_TIMEOUT)
    response.raise_for_status()


def _dataservice() -> None:
    _http_health(settings.DATASERVICE_URL)


def _export_server() -> None:
    _http_health(settings.EXPORT_SERVER_URL)


def _worker() -> None:
    """Every job queue has a consumer: a worker is connected and answered the broker's last
    heartbeats (RabbitMQ drops a consumer that misses two, about a minute). Asked of the
    broker, so it takes milliseconds, where a broadcast ping waits its whole timeout."""
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT)
        channel = conn.channel()
        for queue in {kind.setting("QUEUE") for kind in job_kinds}:
            # passive: only asks; a queue no worker ever declared is an error, like no consumer.
            _, _, consumers = channel.queue_declare(queue=queue, passive=True)
            if not consumers:
                raise RuntimeError(f"no worker consumes the {queue} queue")


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "broker": _broker, "redis": _redis}
REQUIRED = {"database"}
# /readyz: all of these, all required. The database is checked on the request's own thread
# (its connection is the request's); the others at once, each on a thread of its own.
READINESS_CHECKS: dict[str, Callable[[], None]] = {
    **CHECKS,
    "dataservice": _dataservice,
    "export_server": _export_server,
    "worker": _worker,
}


def health_report() -> tuple[int, dict]:
    """Run every check; return the HTTP status and the body `{"status", "checks": {name: state}}`."""
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:  # any failure is "unavailable"; the log keeps the reason
            logger.warning("health check %s failed", name, exc_info=True)
            checks[name] = UNAVAILABLE
        else:
            checks[name] = OK
    healthy = all(checks[name] == OK for name in REQUIRED)
    return (200 if healthy else 503), {"status": OK if healthy else UNAVAILABLE, "checks": checks}


def _timed(name: str, check: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception:  # any failure is "unavailable"; the log keeps the reason
        logger.warning("readiness check %s failed", name, exc_info=True)
        state = UNAVAILABLE
    else:
        state = OK
    return {"status": state, "ms": round((time.perf_counter() - started) * 1000, 1)}


def readiness_report() -> tuple[int, dict]:
    """Every dependency, timed: the HTTP status and `{"status", "failing": [names],
    "checks": {name: {"status", "ms"}}}`."""
    others = {name: check for name, check in READINESS_CHECKS.items() if name != "database"}
    with ThreadPoolExecutor(max_workers=len(others)) as pool:
        futures = {name: pool.submit(_timed, name, check) for name, check in others.items()}
        checks = {"database": _timed("database", READINESS_CHECKS["database"])}
        checks.update({name: future.result() for name, future in futures.items()})
    failing = [name for name, result in checks.items() if result["status"] != OK]
    return (503 if failing else 200), {
        "status": UNAVAILABLE if failing else OK,
        "failing": failing,
        "checks": checks,
    }


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    status, body = readiness_report()
    return JsonResponse(body, status=status)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    status, body = health_report()
    return JsonResponse(body, status=status)


class HealthzMiddleware:
    """Answers `GET /healthz`, `/readyz` and `/metrics` before host validation and the HTTPS
    redirect (production only).

    The container's own probe calls http://127.0.0.1:8000/healthz, a scraper
    http://web:8000/metrics: plain HTTP on the internal network, and a Host that is not one of
    the public names in DJANGO_ALLOWED_HOSTS. CommonMiddleware would refuse that Host and
    SecurityMiddleware would redirect to HTTPS, so these are served first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        from project.metrics import METRICS_PATH, metrics

        self.probes: dict[str, Callable[[HttpRequest], HttpResponse]] = {
            HEALTH_PATH: healthz,
            READY_PATH: readyz,
            METRICS_PATH: metrics,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
