"""A run's production charts and Compare in a real browser (Debian's chromium through
Playwright) against a real daphne on the test database; the live case also uses the real
Redis layer and Celery worker. Screenshots go to pytest's temporary folder, never the tree."""

from datetime import date

import pytest

from apps.calculations.models import Calculation
from apps.calculations.services import CALCULATION_JOB, calculation_run
from apps.jobs.services import jobs_publish
from tests.live.test_browser import (  # noqa: F401  (fixtures)
    LOGIN_TIMEOUT_MS,
    PASSWORD,
    WORKER_TIMEOUT_MS,
    browser,
    collected_static,
    daphne,
    in_thread,
    staff,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS_TIMEOUT_MS = 30_000


def finished_run(name: str, **inputs) -> Calculation:
    inputs = {"date_start": date(2020, 1, 1), "date_fin": date(2029, 12, 31), "lag": 1, **inputs}
    calculation = Calculation.objects.create(name=name, status="queued", **inputs)
    in_thread(calculation_run, calculation_id=calculation.pk)
    calculation.refresh_from_db()
    assert calculation.status == "finished"
    return calculation


def open_page(browser, base_url: str, path: str):
    """Log in and open `path`, recording the URL of every request the pages make."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    requested: list[tuple[str, str]] = []
    context.on("request", lambda request: requested.append((request.resource_type, request.url)))
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/admin/login/?next={path}")
    page.fill("#id_username", "live-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}", timeout=LOGIN_TIMEOUT_MS)
    page.requested, page.errors = requested, errors
    return page


def assert_only_this_site(page, base_url: str) -> None:
    scripts = [url for kind, url in page.requested if kind == "script"]
    assert any(url.endswith("/static/calcboard/vendor/highcharts/highcharts.js") for url in scripts)
    outside = [url for _, url in page.requested if not url.startswith((base_url, "ws://127.0.0.1", "data:"))]
    assert outside == [], outside
    assert page.evaluate(
        "[...document.scripts].every((s) => !s.src || new URL(s.src).origin === location.origin)"
    )


def series_count(page, selector: str) -> int:
    return page.locator(f"{selector} svg g.highcharts-series").count()


def legend_of(page, selector: str) -> list[str]:
    """The legend's texts (SVG text has no innerText)."""
    return page.locator(f"{selector} .highcharts-legend-item").evaluate_all(
        "(items) => items.map((i) => i.textContent)"
    )


def test_a_finished_runs_page_draws_three_charts_a_summary_and_a_log_axis(browser, daphne, staff, tmp_path):
    calculation = finished_run("Ten years <daily>")
    page = open_page(browser, daphne.base_url, f"/admin/calculations/calculation/{calculation.pk}/change/")
    page.wait_for_function(
        "() => document.querySelectorAll('#cb-calc svg.highcharts-root').length === 3",
        timeout=CHARTS_TIMEOUT_MS,
    )
    assert page.locator("#cb-calc-progress").is_hidden() and page.locator("#cb-calc-error").is_hidden()
    assert series_count(page, "#cb-chart-rates") == 3
    assert series_count(page, "#cb-chart-wct") == 1
    assert series_count(page, "#cb-chart-cumulative") == 3
    assert legend_of(page, "#cb-chart-rates") == ["Liquid", "Oil", "Water"]
    points = page.evaluate("window.calcboardProduction.charts.rates.series.map((s) => s.options.data.length)")
    assert points == [3653, 3653, 3653]

    # The summary block: the API's figures, and the cumulative curves end on them.
    summary = dict(
        zip(
            page.locator("#cb-calc-summary dt").all_inner_texts(),
            page.locator("#cb-calc-summary dd").all_inner_texts(),
            strict=True,
        )
    )
    assert summary["Rows"] == "3,653"
    assert summary["First date"] == "2020-01-01" and summary["Last date"] == "2029-12-31"
    assert summary["Cumulative oil"].endswith(" m³") and summary["Oil rate decline"].endswith(" %")
    ends = page.evaluate(
        """async () => {
            const page = window.calcboardProduction;
            const api = await (await fetch(page.config.detailUrl)).json();
            return [page.series.cumOil.at(-1)[1], api.summary.cumulative_oil,
                    page.series.cumLiquid.at(-1)[1], api.summary.cumulative_liquid];
        }"""
    )
    assert ends[0] == pytest.approx(ends[1]) and ends[2] == pytest.approx(ends[3])

    # The rate axis switches to logarithmic and back.
    page.click("button[data-axis=logarithmic]")
    assert page.evaluate("window.calcboardProduction.charts.rates.yAxis[0].logarithmic !== undefined")
    assert page.get_attribute("button[data-axis=logarithmic]", "aria-pressed") == "true"
    assert series_count(page, "#cb-chart-rates") == 3
    page.locator("#cb-calc").screenshot(path=str(tmp_path / "calculation-log.png"))
    page.click("button[data-axis=linear]")
    assert page.evaluate("window.calcboardProduction.charts.rates.yAxis[0].logarithmic === undefined")
    assert page.get_attribute("button[data-axis=logarithmic]", "aria-pressed") == "false"

    assert_only_this_site(page, daphne.base_url)
    assert page.errors == []
    page.context.close()


def test_a_running_runs_page_shows_progress_then_the_charts_without_a_reload(
    browser, daphne, staff, celery_worker, tmp_path
):
    # Saved but not yet published: the page shows it queued until the worker takes it.
    calculation = Calculation.objects.create(
        name="live run", date_start=date(2020, 1, 1), date_fin=date(2024, 12, 31), lag=1, status="queued"
    )
    page = open_page(browser, daphne.base_url, f"/admin/calculations/calculation/{calculation.pk}/change/")
    page.wait_for_selector('#cb-calc #cb-live[data-state="connected"]', timeout=15_000)
    assert page.locator("#cb-calc-progress").is_visible()
    assert page.locator("#cb-calc-progress .cb-status").inner_text() == "Queued"
    assert page.locator("#cb-calc-body").is_hidden()
    page.evaluate("window.__sameDocument = 'yes'")

    assert in_thread(jobs_publish, kind=CALCULATION_JOB, ids=[calculation.pk]) == 1
    page.wait_for_function(
        "() => document.querySelectorAll('#cb-calc svg.highcharts-root').length === 3",
        timeout=WORKER_TIMEOUT_MS,
    )
    assert page.evaluate("window.__sameDocument") == "yes"  # never reloaded
    assert page.locator("#cb-calc-progress").is_hidden() and page.locator("#cb-calc-error").is_hidden()
    assert series_count(page, "#cb-chart-rates") == 3
    assert page.locator("#cb-calc-summary dd").first.inner_text() == "1,827"
    page.locator("#cb-calc").screenshot(path=str(tmp_path / "calculation-finished-live.png"))
    assert page.errors == []
    page.context.close()


def test_compare_overlays_two_runs_from_the_list(browser, daphne, staff, tmp_path):
    runs = [
        finished_run("Base case", date_fin=date(2024, 12, 31)),
        finished_run("Infill <2026>", date_start=date(2022, 1, 1), date_fin=date(2026, 12, 31), lag=7),
    ]
    page = open_page(browser, daphne.base_url, "/admin/calculations/calculation/")
    for run in runs:
        page.check(f'#result_list input[name="_selected_action"][value="{run.pk}"]')
    page.select_option("select[name=action]", "compare_runs")
    page.click("button[name=index]")
    page.wait_for_url("**/admin/calculations/calculation/compare/?ids=*", timeout=LOGIN_TIMEOUT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('.cb-compare svg.highcharts-root').length === 2",
        timeout=CHARTS_TIMEOUT_MS,
    )
    for chart in ("#cb-compare-oil", "#cb-compare-wct"):
        assert series_count(page, chart) == 2
        assert legend_of(page, chart) == ["Base case", "Infill <2026>"]
    colours = page.evaluate(
        """() => ["oil", "wct"].map((name) => window.calcboardCompare[name].series.map((s) => s.color))"""
    )
    assert colours[0] == colours[1] and len(set(colours[0])) == 2  # one colour per run, in both charts
    # Zooming the oil chart zooms the water cut chart to the same dates.
    zoomed = page.evaluate(
        """() => {
            const { oil, wct } = window.calcboardCompare;
            oil.xAxis[0].setExtremes(Date.UTC(2023, 0, 1), Date.UTC(2024, 0, 1));
            return [wct.xAxis[0].getExtremes().min, wct.xAxis[0].getExtremes().max];
        }"""
    )
    assert zoomed == [1672531200000, 1704067200000]
    assert page.locator("#cb-compare-error").is_hidden()
    rows = page.locator("#cb-compare-summary tbody tr th").all_inner_texts()
    assert rows == ["Base case", "Infill <2026>"]
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert_only_this_site(page, daphne.base_url)
    assert page.errors == []
    page.context.close()
