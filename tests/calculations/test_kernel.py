import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.calculations import kernel

START = date(2020, 1, 1)


def run(**kwargs) -> pd.DataFrame:
    return kernel.run(**{"date_start": START, "date_fin": date(2030, 12, 31), "lag": 7, **kwargs})


def assert_invariants(frame: pd.DataFrame) -> None:
    assert (frame.liquid > 0).all()
    assert (frame.oil >= 0).all()
    assert (frame.oil <= frame.liquid).all()
    np.testing.assert_allclose(frame.water, frame.liquid - frame.oil, rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame.wct, frame.water / frame.liquid, rtol=0, atol=5e-7 + 1e-12)
    assert ((frame.wct >= 0) & (frame.wct <= 1)).all()


def test_a_known_input_gives_these_rows():
    # Pinned: a change to the model shows here first, as a change of these numbers.
    frame = kernel.run(date_start=START, date_fin=date(2020, 1, 31), lag=3)
    rows = [(r.date.date(), r.liquid, r.oil, r.water, r.wct) for r in frame.itertuples(index=False)]
    assert len(rows) == 11
    assert rows[:3] + rows[-1:] == [
        (date(2020, 1, 1), 317.091, 296.005, 21.086, 0.066498),
        (date(2020, 1, 4), 319.507, 298.527, 20.98, 0.065664),
        (date(2020, 1, 7), 324.547, 299.17, 25.377, 0.078192),
        (date(2020, 1, 31), 321.857, 298.507, 23.35, 0.072548),
    ]


def test_it_returns_exactly_the_five_columns_of_the_original_kernel():
    frame = run()
    assert list(frame.columns) == ["date", "liquid", "oil", "water", "wct"]
    assert str(frame.dtypes["date"]).startswith("datetime64")
    assert all(frame.dtypes[name] == np.float64 for name in ["liquid", "oil", "water", "wct"])


def test_it_puts_rows_every_lag_days_from_start_up_to_the_last_day_inclusive():
    frame = kernel.run(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 22), lag=7)
    assert [d.date() for d in frame.date] == [
        date(2020, 1, 1),
        date(2020, 1, 8),
        date(2020, 1, 15),
        date(2020, 1, 22),
    ]


def test_it_stops_before_the_last_day_when_the_lag_does_not_land_on_it():
    frame = kernel.run(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 21), lag=7)
    assert frame.date.iloc[-1].date() == date(2020, 1, 15)
    assert len(frame) == kernel.row_count(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 21), lag=7) == 3


def test_a_single_day_gives_a_single_row():
    frame = kernel.run(date_start=START, date_fin=START, lag=3650)
    assert len(frame) == 1 and frame.date.iloc[0].date() == START


def test_the_same_inputs_always_give_the_same_rows():
    pd.testing.assert_frame_equal(run(), run())


def test_a_day_gets_the_same_values_whatever_the_lag():
    daily = kernel.run(date_start=START, date_fin=date(2021, 12, 31), lag=1).set_index("date")
    weekly = kernel.run(date_start=START, date_fin=date(2021, 12, 31), lag=7).set_index("date")
    pd.testing.assert_frame_equal(weekly, daily.loc[weekly.index])


def test_liquid_declines_and_water_cut_rises_over_the_years():
    frame = kernel.run(date_start=START, date_fin=date(2059, 12, 31), lag=365)
    assert frame.liquid.iloc[-1] < frame.liquid.iloc[0] / 4
    assert frame.wct.iloc[-1] > 0.9 > 0.1 > frame.wct.iloc[0]


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    span=st.integers(min_value=0, max_value=20_000),
    lag=st.integers(min_value=1, max_value=3650),
)
def test_every_row_satisfies_the_production_invariants(start, span, lag):
    fin = min(start + timedelta(days=min(span, (date(9999, 12, 31) - start).days)), date(9999, 12, 31))
    frame = kernel.run(date_start=start, date_fin=fin, lag=lag)
    assert len(frame) == kernel.row_count(date_start=start, date_fin=fin, lag=lag)
    assert frame.date.iloc[0].date() == start and frame.date.iloc[-1].date() <= fin
    assert_invariants(frame)


def test_the_invariants_hold_over_the_whole_calendar():
    assert_invariants(kernel.run(date_start=date(1, 1, 1), date_fin=date(9999, 12, 31), lag=1))


def test_it_reports_progress_in_a_handful_of_increasing_steps_ending_at_100():
    steps: list[int] = []
    kernel.run(date_start=START, date_fin=date(2119, 12, 31), lag=1, on_progress=steps.append)
    assert steps == [14, 29, 43, 57, 71, 86, 100]  # 36,524 rows: one step per 5,000


def test_a_short_run_is_a_single_step():
    steps: list[int] = []
    run(on_progress=steps.append)
    assert steps == [100]


def test_a_slowed_down_run_reports_every_step_however_short():
    steps: list[int] = []
    kernel.run(
        date_start=START,
        date_fin=START + timedelta(days=1),
        lag=1,
        on_progress=steps.append,
        step_delay=0.001,
    )
    assert steps == [50, 100]  # never more steps than rows


def test_the_step_delay_is_slept_after_each_step_once_its_progress_is_reported(monkeypatch):
    seen: list[tuple[str, float]] = []
    sleep = time.sleep

    def recorded(seconds: float) -> None:
        seen.append(("sleep", seconds))
        sleep(seconds)

    monkeypatch.setattr(kernel.time, "sleep", recorded)
    kernel.run(
        date_start=START,
        date_fin=date(2020, 12, 31),
        lag=1,
        step_delay=0.02,
        steps=5,
        on_progress=lambda percent: seen.append(("progress", percent)),
    )
    assert seen == [
        entry for percent in (20, 40, 60, 80, 100) for entry in (("progress", percent), ("sleep", 0.02))
    ]


@pytest.mark.parametrize(
    ("fin", "lag", "message"),
    [(date(2019, 12, 31), 1, "date_fin"), (date(2020, 12, 31), 0, "lag")],
)
def test_it_refuses_inputs_it_cannot_compute(fin, lag, message):
    with pytest.raises(ValueError, match=message):
        kernel.run(date_start=START, date_fin=fin, lag=lag)


def test_row_count_is_zero_for_reversed_dates():
    assert kernel.row_count(date_start=START, date_fin=START - timedelta(days=1), lag=1) == 0
