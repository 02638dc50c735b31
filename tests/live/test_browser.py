"""The admin live widget in a real browser (Debian's chromium through Playwright) against a
real daphne on the test database, the real Redis layer and the real Celery worker."""

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone
from django.utils.formats import date_format

from apps.accounts.services import api_token_create
from harness.processes import ROOT, FrontDoor, PrivateRedis, wait_until
from project.settings.test import child_settings_env
from tests.live.conftest import point_layer_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A test run changes no tracked file: screenshots go to a scratch folder unless
# scripts/screenshots asks for the README's pictures (docs/screenshots) on purpose.
SCREENSHOTS = Path(
    os.environ.get("CALCBOARD_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / f"calcboard-screenshots-{os.getpid()}"
)
PASSWORD = "live-admin-pass-123"
LOGIN_TIMEOUT_MS = 15_000
WORKER_TIMEOUT_MS = 90_000


@pytest.fixture(scope="session")
def collected_static() -> None:
    """The proxy serves /static/ from STATIC_ROOT, as in production."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test"},
    )


@pytest.fixture(scope="module")
def daphne(test_db_name, collected_static):
    """The pages come through the front door (proxy -> web, /ws/ -> ws), as users get them."""
    server = FrontDoor(test_db_name, name="browser")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # The sync API keeps an event loop running in this thread, so Django would refuse the ORM
    # calls the tests make between browser steps; they are plain sync code, allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser(username="live-admin", password=PASSWORD)


def log_in(browser, base_url: str, path: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/admin/login/?next={path}")
    page.fill("#id_username", "live-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}", timeout=LOGIN_TIMEOUT_MS)
    return page


def wait_connected(page, timeout: float = 15_000) -> None:
    page.wait_for_selector('#cb-live[data-state="connected"]', timeout=timeout)


def row(page, pk: int):
    return page.locator(f'#result_list input[name="_selected_action"][value="{pk}"]').locator(
        "xpath=ancestor::tr"
    )


def watch_cell(page, pk: int, field: str) -> None:
    """Record every text the cell shows from now on in window.__cells[field]."""
    page.evaluate(
        """([pk, field]) => {
            window.__cells = window.__cells || {};
            const log = (window.__cells[field] = []);
            const box = document.querySelector(`#result_list input[name="_selected_action"][value="${pk}"]`);
            const cell = box.closest("tr").querySelector(`td.field-${field}`);
            new MutationObserver(() => log.push(cell.textContent.trim()))
                .observe(cell, {childList: true, subtree: true, characterData: true});
        }""",
        [pk, field],
    )


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    items = iter(seen)
    return all(any(item == want for item in items) for want in wanted)


def finished_function(*, expression: str = "sin(t)", image_hash: str = "0" * 64):
    """A function that already has a (placeholder) chart, processed long ago."""
    from apps.charts.models import Function

    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    return Function.objects.create(
        expression=expression,
        dt=1.0,
        interval=1.0,
        status="finished",
        image=b"not a real png",
        image_hash=image_hash,
        queued_at=long_ago,
        started_at=long_ago,
        processed_at=long_ago,
    )


def in_thread(function, /, **kwargs):
    """Run a service in a thread of its own: `broadcast_event` uses async_to_sync, which may
    not run in this thread while Playwright's event loop does."""

    def call():
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=30)


def wait_for_status(model, pk: int, status: str, *, timeout: float = 90) -> None:
    wait_until(
        lambda: model.objects.get(pk=pk).status == status, timeout=timeout, what=f"{model.__name__} {status}"
    )


def test_a_refreshed_chart_changes_status_and_image_without_a_reload(browser, daphne, staff, celery_worker):

    function = finished_function()
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    wait_connected(page)
    old_src = row(page, function.pk).locator("td.field-chart img").get_attribute("src")
    assert old_src.endswith("/0000000000000000.png")
    page.evaluate("window.__sameDocument = 'yes'")
    watch_cell(page, function.pk, "status")

    _, token = api_token_create(user=staff, name="browser")
    response = httpx.post(
        f"{daphne.base_url}/api/functions/refresh",
        json={"ids": [function.pk]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text

    image = row(page, function.pk).locator("td.field-chart img")
    page.wait_for_function(
        """(pk) => {
            const box = document.querySelector(`#result_list input[name="_selected_action"][value="${pk}"]`);
            const img = box.closest("tr").querySelector("td.field-chart img");
            return img && !img.src.endsWith("/0000000000000000.png") && img.complete && img.naturalWidth > 0;
        }""",
        arg=function.pk,
        timeout=WORKER_TIMEOUT_MS,
    )
    function.refresh_from_db()
    assert function.status == "finished"
    assert image.get_attribute("src").endswith(f"/charts/{function.pk}/{function.image_hash[:16]}.png")
    assert row(page, function.pk).locator("td.field-status").inner_text() == "Finished"
    statuses = page.evaluate("window.__cells.status")
    assert is_subsequence(["Queued", "Running", "Finished"], statuses), statuses
    # The processing date is the new one, written the way the admin writes it on a reload.
    expected = date_format(timezone.localtime(function.processed_at), "DATETIME_FORMAT")
    assert row(page, function.pk).locator("td.field-processed_at").inner_text() == expected
    assert page.evaluate("window.__sameDocument") == "yes"  # never reloaded
    page.context.close()


def test_an_error_text_replaces_the_chart_and_is_shown_as_text(browser, daphne, staff):
    from apps.charts.models import Function
    from apps.charts.services import FUNCTION_JOB
    from apps.jobs.services import job_fail

    function = finished_function()
    Function.objects.filter(pk=function.pk).update(status="running")  # only a job in flight can fail
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    wait_connected(page)
    hostile = 'Export server said: <img src=x onerror="window.__pwned=1"> (HTTP 500)'
    in_thread(job_fail, kind=FUNCTION_JOB, job_id=function.pk, error=hostile)
    cell = row(page, function.pk).locator("td.field-chart")
    page.wait_for_selector(".cb-error", timeout=10_000)
    assert cell.inner_text() == hostile  # literally: text, not markup
    assert cell.locator("img").count() == 0
    assert row(page, function.pk).locator("td.field-status").inner_text() == "Failed"
    assert page.evaluate("window.__pwned") is None
    page.context.close()


def test_rows_created_elsewhere_are_announced_and_shown_on_request(browser, daphne, staff):
    from apps.charts.models import Function
    from apps.charts.services import function_create

    existing = finished_function()
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    wait_connected(page)
    notice = page.locator("#cb-live-new")
    assert notice.is_hidden()
    created = [in_thread(function_create, expression="t + 2/t", dt=1.0, interval=1.0) for _ in range(2)]
    page.wait_for_selector("#cb-live-new:not([hidden])", timeout=10_000)
    assert re.sub(r"\s+", " ", notice.inner_text()).strip() == "2 new — show"
    assert row(page, created[0].pk).count() == 0  # nothing jumps around under the user's cursor
    page.click("#cb-live-new a")
    page.wait_for_selector(f'#result_list input[name="_selected_action"][value="{created[1].pk}"]')
    assert row(page, existing.pk).count() == 1
    Function.objects.filter(pk__in=[f.pk for f in created]).delete()
    page.context.close()


def test_a_calculation_row_follows_its_run_to_the_end(browser, daphne, staff, celery_worker):
    from apps.calculations.models import Calculation
    from apps.calculations.services import CALCULATION_JOB
    from apps.jobs.services import jobs_publish

    # Saved but not yet published, so the page shows it queued before the worker starts.
    calculation = Calculation.objects.create(
        name="live run", date_start="2025-01-01", date_fin="2025-12-31", lag=1, status="queued"
    )
    page = log_in(browser, daphne.base_url, "/admin/calculations/calculation/")
    wait_connected(page)
    line = page.locator("#result_list tbody tr").filter(has_text="live run")
    assert line.locator("td.field-status .cb-status").inner_text() == "Queued"
    assert line.locator("td.field-progress .cb-progress-label").inner_text() == "0%"
    page.evaluate("window.__sameDocument = 'yes'")

    assert in_thread(jobs_publish, kind=CALCULATION_JOB, ids=[calculation.pk]) == 1
    page.wait_for_function(
        """() => [...document.querySelectorAll("#result_list tbody tr")].some((tr) =>
            tr.textContent.includes("live run")
            && tr.querySelector("td.field-status").textContent.trim() === "Finished")""",
        timeout=WORKER_TIMEOUT_MS,
    )
    calculation.refresh_from_db()
    assert line.locator("td.field-progress .cb-progress-label").inner_text() == "100%"
    assert line.locator("td.field-duration").inner_text() == f"{calculation.duration:.3f} s"
    assert page.evaluate("window.__sameDocument") == "yes"
    screenshot(page, "admin-calculations.png")
    page.context.close()


def test_the_widget_formats_like_the_admin(browser, daphne, staff):
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    samples = [
        datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
        datetime(2026, 9, 30, 14, 5, 9, 123456, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 6, 1, 1, 0, tzinfo=UTC),
        datetime(2026, 8, 15, 12, 30, tzinfo=UTC),
    ]
    shown = page.evaluate(
        """async (values) => {
            const live = await import("/static/calcboard/live.js");
            return values.map((v) => live.formatDateTime(v, "UTC"));
        }""",
        [value.isoformat().replace("+00:00", "Z") for value in samples],
    )
    assert shown == [date_format(value, "DATETIME_FORMAT") for value in samples]
    order = page.evaluate(
        """async () => {
            const live = await import("/static/calcboard/live.js");
            return [
                live.eventTime("2026-01-01T10:00:00.000002Z") > live.eventTime("2026-01-01T10:00:00.000001Z"),
                live.eventTime("2026-01-01T12:00:00+02:00") === live.eventTime("2026-01-01T10:00:00Z"),
                live.eventTime("not a time"),
                live.formatDuration(1.23456), live.formatDuration(null),
            ];
        }"""
    )
    assert order == [True, True, None, "1.235 s", "-"]
    page.context.close()


def test_the_widget_reconnects_after_a_redis_outage_and_a_server_restart(
    browser, test_db_name, collected_static, staff, settings
):
    from apps.charts.models import Function
    from apps.live.realtime import broadcast_event

    redis_server = PrivateRedis().start()
    env = child_settings_env(REDIS_URL=redis_server.url)
    server = FrontDoor(test_db_name, extra_env=env, name="outage")
    point_layer_at(settings, redis_server.url)  # this process broadcasts through it too
    try:
        function = finished_function()
        page = log_in(browser, server.base_url, "/admin/charts/function/")
        wait_connected(page)
        page.evaluate("window.__sameDocument = 'yes'")
        status = row(page, function.pk).locator("td.field-status")
        in_thread(broadcast_event, kind="function", obj_id=function.pk + 1000, payload={"status": "queued"})
        page.wait_for_function("() => window.calcboardLive.connection.lastEventId !== null", timeout=10_000)
        count_fetches(page)

        # Redis goes away (and with it the event log): the indicator says so; while it is away
        # the row changes in the database.
        redis_server.stop()
        page.wait_for_selector('#cb-live[data-state="reconnecting"]', timeout=15_000)
        Function.objects.filter(pk=function.pk).update(status="running", updated_at=timezone.now())
        redis_server.start()
        wait_connected(page, timeout=40_000)
        # The widget resubscribes with `since`; the restarted Redis has a new log, so the
        # server says `resync` and the widget re-reads the page: the change it missed is shown.
        page.wait_for_function(
            "(el) => el.textContent.trim() === 'Running'", arg=status.element_handle(), timeout=10_000
        )
        assert page.evaluate("window.__fetches") >= 1

        # Events flow again.
        def send(state: str) -> None:
            now = timezone.now()
            in_thread(
                broadcast_event,
                kind="function",
                obj_id=function.pk,
                payload={"status": state, "updated_at": now.isoformat()},
            )

        send("queued")
        page.wait_for_function(
            "(el) => el.textContent.trim() === 'Queued'", arg=status.element_handle(), timeout=10_000
        )

        # The server restarts on the same port: the widget comes back by itself.
        port = server.port
        server.stop()
        page.wait_for_selector('#cb-live[data-state="reconnecting"]', timeout=15_000)
        server = FrontDoor(test_db_name, extra_env=env, name="outage", port=port)
        wait_connected(page, timeout=40_000)
        send("finished")
        page.wait_for_function(
            "(el) => el.textContent.trim() === 'Finished'", arg=status.element_handle(), timeout=10_000
        )
        assert page.evaluate("window.__sameDocument") == "yes"
        page.context.close()
    finally:
        server.stop()
        redis_server.stop()


def count_fetches(page) -> None:
    """window.__fetches counts the widget's page re-reads (it re-reads with fetch)."""
    page.evaluate(
        """() => {
            window.__fetches = 0;
            const original = window.fetch.bind(window);
            window.fetch = (...args) => { window.__fetches += 1; return original(...args); };
        }"""
    )


def test_the_widget_replays_what_it_missed_while_the_server_was_away(
    browser, test_db_name, collected_static, staff
):
    """Both lists open; the websocket server goes away; runs and functions change meanwhile;
    it comes back: every row shows its new state, from the replay (no re-read of the page)."""
    from apps.calculations.models import Calculation
    from apps.calculations.services import CALCULATION_JOB, calculation_run
    from apps.charts.models import Function
    from apps.charts.services import FUNCTION_JOB
    from apps.jobs.services import job_fail

    server = FrontDoor(test_db_name, name="replay")
    try:
        run = Calculation.objects.create(
            name="missed run", date_start="2025-01-01", date_fin="2025-03-31", lag=1, status="queued"
        )
        other_run = Calculation.objects.create(
            name="other run", date_start="2025-01-01", date_fin="2025-01-31", lag=1, status="queued"
        )
        function, other_function = finished_function(), finished_function(expression="t + 2/t")
        # Both charts are queued for a redraw (the job lifecycle fails only a job in flight).
        Function.objects.filter(pk__in=[function.pk, other_function.pk]).update(status="queued")
        calculations = log_in(browser, server.base_url, "/admin/calculations/calculation/")
        functions = calculations.context.new_page()
        functions.goto(f"{server.base_url}/admin/charts/function/")
        pages = (calculations, functions)
        for page in pages:
            wait_connected(page)
            page.evaluate("window.__sameDocument = 'yes'")
        # One event each first, so each widget holds an event_id to resume from.
        in_thread(job_fail, kind=CALCULATION_JOB, job_id=other_run.pk, error="seen live")
        in_thread(job_fail, kind=FUNCTION_JOB, job_id=other_function.pk, error="seen live")
        for page in pages:
            page.wait_for_function(
                "() => window.calcboardLive.connection.lastEventId !== null", timeout=10_000
            )
            count_fetches(page)

        port = server.port
        server.stop()
        for page in pages:
            page.wait_for_selector('#cb-live[data-state="reconnecting"]', timeout=15_000)
        # While nobody is connected: a run goes all the way to finished, a chart fails.
        in_thread(calculation_run, calculation_id=run.pk)
        in_thread(
            job_fail, kind=FUNCTION_JOB, job_id=function.pk, error="Export server said: gone (HTTP 503)"
        )
        server = FrontDoor(test_db_name, name="replay", port=port)
        for page in pages:
            wait_connected(page, timeout=40_000)

        line = calculations.locator("#result_list tbody tr").filter(has_text="missed run")
        calculations.wait_for_function(
            """() => [...document.querySelectorAll("#result_list tbody tr")].some((tr) =>
                tr.textContent.includes("missed run")
                && tr.querySelector("td.field-status").textContent.trim() === "Finished")""",
            timeout=10_000,
        )
        assert line.locator("td.field-progress .cb-progress-label").inner_text() == "100%"
        run.refresh_from_db()
        assert line.locator("td.field-duration").inner_text() == f"{run.duration:.3f} s"
        functions.wait_for_selector(
            f'#result_list input[value="{function.pk}"] >> xpath=ancestor::tr >> .cb-error', timeout=10_000
        )
        assert row(functions, function.pk).locator("td.field-status").inner_text() == "Failed"
        assert row(functions, function.pk).locator("td.field-chart").inner_text() == (
            "Export server said: gone (HTTP 503)"
        )
        for page in pages:
            assert page.evaluate("window.__sameDocument") == "yes"
            assert page.evaluate("window.__fetches") == 0  # replayed, not re-read
        calculations.context.close()
    finally:
        server.stop()


def test_screenshot_of_the_functions_change_list(browser, daphne, staff, celery_worker):
    """docs/screenshots/admin-functions.png, quoted by the README: real charts from the chart job."""
    from apps.charts.models import Function
    from apps.charts.services import function_create

    drawn = [
        in_thread(function_create, expression="sin(t / 3600) * 100", dt=0.5, interval=3),
        in_thread(function_create, expression="sin(t)", dt=1.0, interval=7),
        in_thread(function_create, expression="t + 2/t", dt=1.0, interval=30),
    ]
    # Division by zero at every point: the data service refuses it, the row shows why.
    broken = in_thread(function_create, expression="1 / (t - t)", dt=1.0, interval=1)
    for function in drawn:
        wait_for_status(Function, function.pk, "finished")
    wait_for_status(Function, broken.pk, "failed")
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    wait_connected(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('td.field-chart img')]
            .every((img) => img.complete && img.naturalWidth > 0)"""
    )
    assert page.locator("td.field-status .cb-status-finished").count() == 3
    assert page.locator("td.field-status .cb-status-failed").count() == 1
    assert (
        row(page, broken.pk).locator("td.field-chart").inner_text()
        == Function.objects.get(pk=broken.pk).error
    )
    screenshot(page, "admin-functions.png")
    page.context.close()


def screenshot(page, name: str) -> None:
    """The page as a reader of the README should see it: no navigation sidebar, whole list."""
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page.reload()
    wait_connected(page)
    page.wait_for_load_state("networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000


def test_the_widget_never_goes_back_to_an_older_state(browser, daphne, staff):
    function = finished_function()
    page = log_in(browser, daphne.base_url, "/admin/charts/function/")
    wait_connected(page)
    status = row(page, function.pk).locator("td.field-status")
    rendered = function.updated_at

    def apply(**event) -> bool:
        return page.evaluate(
            "(event) => window.calcboardLive.table.apply(event)", {"kind": "function", **event}
        )

    # Older than the state the page was drawn with: ignored.
    assert not apply(id=function.pk, status="running", updated_at="2019-12-31T00:00:00Z")
    assert status.inner_text() == "Finished"
    later = rendered.replace(microsecond=0).timestamp() + 10
    iso = lambda seconds, micros: datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros).isoformat()  # noqa: E731
    assert apply(id=function.pk, status="failed", error="late failure", updated_at=iso(later, 2))
    assert status.inner_text() == "Failed"
    # One microsecond older than what is shown: ignored (Date.parse alone would call it equal).
    assert not apply(id=function.pk, status="running", updated_at=iso(later, 1))
    assert not apply(id=function.pk, status="running", updated_at=iso(later, 2))  # the same event again
    assert status.inner_text() == "Failed"
    # Another kind, or no id: not for this table.
    assert not apply(id=function.pk, kind="calculation", status="running", updated_at=iso(later, 9))
    assert not page.evaluate("() => window.calcboardLive.table.apply({kind: 'function', status: 'x'})")
    # A javascript: image URL never becomes an image source.
    assert apply(
        id=function.pk, status="finished", image_url="javascript:alert(1)", error="", updated_at=iso(later, 5)
    )
    assert row(page, function.pk).locator("td.field-chart img").count() == 0
    assert status.inner_text() == "Finished"
    page.context.close()
