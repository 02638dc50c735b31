"""`GET /healthz`: the liveness probe of the web process (compose health check, load balancers).

Unauthenticated on purpose: a probe has no credentials. It reveals nothing but "ok" or
"unavailable" per dependency, never error text or hostnames.

Only the database decides the status code: without it the web process can serve nothing,
while a broker or Redis outage is survived (runs wait in the outbox, statuses still land in
the database), so those two are reported, not fatal.
"""

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
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


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "broker": _broker, "redis": _redis}
REQUIRED = {"database"}


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


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    status, body = health_report()
    return JsonResponse(body, status=status)


class HealthzMiddleware:
    """Answers `GET /healthz` before host validation and the HTTPS redirect (production only).

    The container's own probe calls http://127.0.0.1:8000/healthz: plain HTTP, and a Host that
    is not one of the public names in DJANGO_ALLOWED_HOSTS. CommonMiddleware would refuse that
    Host and SecurityMiddleware would redirect to HTTPS, so the probe is served first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
