"""A well run's page in a real browser: the forecast against the history on a semilog chart
with its P10-P90 band, rate against cumulative, water cut and the Chan plot on log-log axes."""

from datetime import date

import pytest

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_create, calculation_run
from apps.wells.services import well_create
from tests.calculations.forecast.synthetic import water_drive_well
from tests.calculations.test_well_runs import store_history
from tests.live.test_browser import (  # noqa: F401  (fixtures)
    browser,
    collected_static,
    daphne,
    in_thread,
    staff,
    wait_for_status,
)
from tests.live.test_browser_production import CHARTS_TIMEOUT_MS, assert_only_this_site, legend_of, open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_well_runs_page_draws_the_forecast_against_the_history(browser, daphne, staff, tmp_path):
    well = well_create(name="W-7", field="West")
    store_history(well, water_drive_well(days=1500, seed=5))
    created = calculation_create(
        date_start=date(2015, 1, 1), date_fin=date(2030, 12, 31), lag=30, well=well.pk
    )
    # A worker of this test run may claim the queued run first: either way, wait for its end.
    in_thread(calculation_run, calculation_id=created.pk)
    wait_for_status(Calculation, created.pk, "finished")

    page = open_page(browser, daphne.base_url, f"/admin/calculations/calculation/{created.pk}/change/")
    page.wait_for_function(
        "() => document.querySelectorAll('#cb-calc svg.highcharts-root').length === 7",
        timeout=CHARTS_TIMEOUT_MS,
    )
    assert page.errors == []
    assert_only_this_site(page, daphne.base_url)
    assert page.locator("#cb-chart-forecast g.highcharts-series.highcharts-arearange-series").count() == 1
    assert legend_of(page, "#cb-chart-forecast") == [
        "Oil P10-P90",
        "Oil, fit and forecast",
        "Oil, history (monthly)",
    ]
    axes = page.evaluate(
        """() => Object.fromEntries(Highcharts.charts.filter(Boolean).map((chart) => [
            chart.renderTo.dataset.chart,
            [chart.xAxis[0].options.type || 'linear', chart.yAxis[0].options.type || 'linear'],
        ]))"""
    )
    assert axes["forecast"] == ["datetime", "logarithmic"]
    assert axes["chan"] == ["logarithmic", "logarithmic"]
    history_points = page.evaluate(
        "() => Highcharts.charts.find((c) => c && c.renderTo.dataset.chart === 'forecast').get('history').points.length"
    )
    assert history_points == 50  # 1,500 daily records: 50 monthly markers
    summary = page.locator("#cb-forecast-summary").inner_text()
    for label in ("EUR", "Remaining reserves", "Economic limit", "Fit R²"):
        assert label in summary
    assert "best" in page.locator("#cb-forecast-reason").inner_text()
    page.screenshot(path=str(tmp_path / "well-run.png"), full_page=True)
