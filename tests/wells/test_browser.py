"""A well's history charts in a real browser (Debian's chromium through Playwright), through
the front door on the test database: three charts from the API, the log rate axis, months."""

import pytest

from apps.wells import demo
from apps.wells.models import HistoryImport
from apps.wells.services import history_import_create, history_import_run, well_create
from tests.live.test_browser import (  # noqa: F401  (fixtures)
    browser,
    collected_static,
    daphne,
    in_thread,
    staff,
    wait_for_status,
)
from tests.live.test_browser_production import CHARTS_TIMEOUT_MS, open_page, series_count

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_wells_page_draws_its_history_with_a_log_axis_and_months(browser, daphne, staff):
    spec = demo.demo_wells()[0]
    well = well_create(name=spec.name, field="Browser field")
    accepted = history_import_create(stream=[demo.demo_history_csv(spec, index=0)], well_id=well.pk)
    # A worker of this test run may claim the queued import first: either way, wait for its end.
    in_thread(history_import_run, import_id=accepted.pk)
    wait_for_status(HistoryImport, accepted.pk, "finished")
    well.refresh_from_db()

    page = open_page(browser, daphne.base_url, f"/admin/wells/well/{well.pk}/change/")
    page.wait_for_function(
        "() => document.querySelectorAll('#cb-well svg.highcharts-root').length === 3",
        timeout=CHARTS_TIMEOUT_MS,
    )
    assert series_count(page, "#cb-chart-rates") == 3
    assert series_count(page, "#cb-chart-wct") == 1
    assert series_count(page, "#cb-chart-cumulative") == 2
    points = page.evaluate("window.calcboardWell.charts.rates.series.map((s) => s.options.data.length)")
    assert points == [well.record_count] * 3
    # The cumulative oil curve ends on the well's figure.
    end = page.evaluate("window.calcboardWell.series.cumOil.at(-1)[1]")
    assert end == pytest.approx(well.cumulative_oil, rel=1e-6)

    page.click("button.cb-axis[data-axis=logarithmic]")
    assert page.evaluate("window.calcboardWell.charts.rates.yAxis[0].options.type") == "logarithmic"
    page.click("button.cb-period[data-period=month]")
    page.evaluate("window.calcboardWell.loaded")
    months = page.evaluate("window.calcboardWell.charts.rates.series[0].options.data.length")
    assert months == len({record.date.replace(day=1) for record in well.records.all()})
    assert page.evaluate("window.calcboardWell.charts.rates.yAxis[0].options.type") == "logarithmic"
    assert page.errors == []
