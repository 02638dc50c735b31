"""Helpers of the cross-cutting security tests: the one error shape, rows in every state,
users of every kind and a walk over every URL the project serves."""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from types import EllipsisType

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core import signals
from django.db import close_old_connections
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_run
from apps.charts.models import Function
from apps.jobs.models import JobStatus
from tests.charts.conftest import tiny_png


def assert_error(
    response: HttpResponse, status: int, *, field: str | EllipsisType | None = ..., rule: str | None = None
) -> dict:
    """The response is `status` in the one error shape; when given, one error names `field`
    (and `rule`). Returns the body."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["errors"], body
    for error in body["errors"]:
        assert {"field", "rule", "message"} <= set(error), error
        assert isinstance(error["rule"], str) and error["rule"] and isinstance(error["message"], str)
    if field is not ...:
        matching = [error for error in body["errors"] if error["field"] == field]
        assert matching, f"no error names field {field!r}: {body['errors']}"
        if rule is not None:
            assert rule in [error["rule"] for error in matching], body["errors"]
    return body


class Reply:
    """An httpx response (a real server's answer) as `assert_error` reads a test client's."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self._response = response

    def __getitem__(self, name: str) -> str:
        return self._response.headers[name]

    def json(self):
        return self._response.json()


# A valid body for each API operation that takes one.
VALID_BODIES = {
    "/api/calculations": {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7, "name": "ok"},
    "/api/functions": {"expression": "sin(t)", "dt": 1, "interval": 3},
    "/api/functions/refresh": {"ids": [1]},
    "/api/wells": {"name": "W-1", "field": "North"},
    "/api/wells/forecast": {"ids": [1], "date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7},
}


# --- every URL the project serves ---------------------------------------------------------

# A value each kind of URL parameter accepts, so every route can be called.
SAMPLE_BY_CONVERTER = {"int": "1", "path": "1", "str": "1", "slug": "abc123"}
SAMPLE_BY_REGEX_GROUP = {"app_label": "calculations", "url": "no-such-page/"}


@dataclass(frozen=True)
class Route:
    route: str  # as Django joins it, e.g. "api/calculations/<id>"
    name: str | None
    namespace: str | None
    url: str  # a concrete URL that this route (and no earlier one) resolves

    @property
    def key(self) -> str:
        return f"{self.namespace}:{self.name}" if self.namespace else str(self.name)


def _join(prefix: str, pattern: str) -> str:
    # How Django builds ResolverMatch.route: a regex child loses its leading "^".
    return prefix + pattern.removeprefix("^")


def _concrete(route: str) -> str:
    # Regex groups first: "(?P<name>...)" also looks like a "<name>" converter.
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_BY_REGEX_GROUP[m[1]], route)
    url = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE_BY_CONVERTER[m[1] or "str"], url)
    return "/" + url.replace("^", "").replace("$", "")


def _walk(patterns, prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        route = _join(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield Route(route=route, name=pattern.name, namespace=namespace, url=_concrete(route))


def all_routes() -> list[Route]:
    """Every HTTP route in the URLconf, each with a URL that really reaches it."""
    routes = list(_walk(get_resolver().url_patterns))
    for route in routes:
        assert resolve(route.url).route == route.route, f"{route.url} does not reach {route.route}"
    return routes


# --- users, clients and rows --------------------------------------------------------------


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user(username="staff", password="staff-pass-123", is_staff=True)


@pytest.fixture
def plain_client(user) -> Client:
    """A logged-in user who is not staff."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@dataclass
class Rows:
    finished: Calculation
    failed: Calculation
    running: Calculation
    queued: Calculation
    charted: Function
    chart_failed: Function
    chart_queued: Function


@pytest.fixture
def rows(db) -> Rows:
    """Calculations and functions in every state, the finished ones with real results."""

    def calculation(status: str, **fields) -> Calculation:
        return Calculation.objects.create(
            name=f"security {status}",
            date_start=date(2020, 1, 1),
            date_fin=date(2020, 1, 10),
            lag=1,
            status=status,
            **fields,
        )

    finished = calculation(JobStatus.QUEUED)
    calculation_run(calculation_id=finished.pk)
    finished.refresh_from_db()
    assert finished.status == JobStatus.FINISHED

    # A well with a queued import: the wells lists have rows to act on too.
    from apps.wells.models import HistoryImport, OilField, Well

    well = Well.objects.create(field=OilField.objects.create(name="Security field"), name="S-1")
    HistoryImport.objects.create(well=well, status=JobStatus.QUEUED, file_size=10)

    image = tiny_png()
    return Rows(
        finished=finished,
        failed=calculation(JobStatus.FAILED, error="The data was inconsistent."),
        running=calculation(JobStatus.RUNNING, progress=40),
        queued=calculation(JobStatus.QUEUED),
        charted=Function.objects.create(
            expression="t + 2/t",
            dt=1,
            interval=30,
            status="finished",
            image=image,
            image_hash=hashlib.sha256(image).hexdigest(),
        ),
        chart_failed=Function.objects.create(
            expression="ln(t - 1e12)", dt=1, interval=30, status="failed", error="Export server unavailable."
        ),
        chart_queued=Function.objects.create(expression="sin(t)", dt=1, interval=30, status="queued"),
    )


@pytest.fixture
def in_process_wsgi(db):
    """Lets a plain WSGI call (schemathesis' in-process transport) run inside the test's
    transaction: Django's test Client disconnects these handlers the same way, otherwise the
    request closes the connection the test is using."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
