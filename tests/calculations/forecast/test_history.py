from datetime import date, timedelta

import numpy as np
import pytest

from apps.calculations.forecast import history as hist
from apps.calculations.forecast.history import History

DAYS = [date(2020, 1, 1) + timedelta(days=i) for i in range(6)]


def test_producing_day_rates_skip_shut_ins_partial_days_and_negative_corrections():
    history = History.from_records(
        dates=DAYS,
        oil=[100.0, 0.0, 30.0, 50.0, -5.0, 104.0],
        water=[10.0, 0.0, 3.0, 5.0, 0.0, 0.0],
        hours_on=[24, 0, 6, 12, 24, 25],
    )
    points = hist.producing_days(history, min_on_fraction=0.5)
    assert points.index.tolist() == [0, 3, 5]
    # volume * 24 / hours: a 25-hour day (the clocks went back) is still a rate per 24 hours
    np.testing.assert_allclose(points.oil, [100.0, 100.0, 104.0 * 24 / 25])
    np.testing.assert_allclose(points.water, [10.0, 10.0, 0.0])
    assert points.dropped == {"shut_in": 1, "below_min_hours": 1, "no_oil": 1}


def test_cumulative_oil_counts_every_record_as_reported_except_negative_corrections():
    history = History.from_records(
        dates=DAYS[:3], oil=[10.0, -2.0, 5.0], water=[0, 0, 0], hours_on=[24, 24, 24]
    )
    assert history.cum_oil_at(3.0) == 15.0
    assert history.cum_oil_at(0.5) == pytest.approx(5.0)


def test_monthly_records_use_days_on():
    history = History.from_records(
        dates=[date(2020, 1, 1), date(2020, 2, 1)],
        oil=[3100.0, 1450.0],
        water=[0, 0],
        days_on=[31, 14.5],
        period_days=[31, 29],
    )
    points = hist.producing_days(history, min_on_fraction=0.5)
    np.testing.assert_allclose(points.oil, [100.0, 100.0])
    assert history.uptime(until=history.end) == pytest.approx(45.5 / 60)


def test_uptime_is_the_share_of_the_last_365_days_on_stream():
    hours = np.full(730, 24.0)
    hours[-365:][::5] = 0.0  # one day in five shut in during the last year
    history = History.from_records(
        dates=[date(2020, 1, 1) + timedelta(days=i) for i in range(730)],
        oil=np.ones(730),
        water=np.zeros(730),
        hours_on=hours,
    )
    assert history.uptime(until=history.end) == pytest.approx(0.8)


def test_records_out_of_order_are_refused():
    with pytest.raises(ValueError, match="date order"):
        History.from_records(dates=[DAYS[1], DAYS[0]], oil=[1, 1], water=[0, 0])
    with pytest.raises(ValueError, match="at least one record"):
        History.from_records(dates=[], oil=[], water=[])


def test_without_a_reset_the_window_starts_at_the_peak():
    rates = np.concatenate([np.linspace(20, 100, 30), 100 * np.exp(-np.arange(300) / 200)])
    history = History.from_records(
        dates=[date(2020, 1, 1) + timedelta(days=i) for i in range(330)], oil=rates, water=np.zeros(330)
    )
    points = hist.producing_days(history, min_on_fraction=0.5)
    start, _reset = hist.default_window_start(points)
    assert 25 <= start <= 40


def test_a_short_history_starts_at_its_highest_smoothed_rate():
    rates = np.array([50.0, 80, 100, 90, 85, 80, 76, 72, 70, 66, 64, 60, 58, 56, 55])
    history = History.from_records(
        dates=[date(2020, 1, 1) + timedelta(days=i) for i in range(len(rates))],
        oil=rates,
        water=np.zeros(len(rates)),
    )
    start, reset = hist.default_window_start(hist.producing_days(history, min_on_fraction=0.5))
    assert reset is None and start <= 3
