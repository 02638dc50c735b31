from datetime import date, timedelta

import numpy as np
import pytest

from apps.calculations.forecast import conventions, engine
from apps.calculations.forecast.history import MIN_PRODUCING_POINTS, History
from tests.calculations.forecast.synthetic import START, Truth, hyperbolic_well, water_drive_well

END = START + timedelta(days=12_000)


def run(history: History, **options) -> engine.Forecast:
    return engine.forecast(
        history=history, date_start=START, date_fin=END, lag=30, options=engine.Options(**options)
    )


def true_eur(truth: Truth, history: History, result: engine.Forecast, *, limit: float = 1.0) -> float:
    """What the truth makes: the history's cumulative, then the noiseless curve at the same uptime."""
    uptime = result.summary["uptime"]
    tau = np.arange(history.end - truth.build_up_days, history.end - truth.build_up_days + 100 * 365.25, 1.0)
    rates = truth.model().rate(tau)
    above = uptime * rates > limit
    return float(history.cum_oil_end[-1] + uptime * np.sum(rates[above]))


CASES = [
    Truth(qi=150.0, di_secant=0.55, b=0.8),
    Truth(qi=60.0, di_secant=0.35, b=0.3),
    Truth(qi=300.0, di_secant=0.70, b=1.2),
    Truth(qi=90.0, di_secant=0.25, b=0.0),
]


@pytest.mark.parametrize("truth", CASES, ids=lambda t: f"b={t.b}")
def test_it_recovers_known_parameters_from_a_noisy_history_with_shut_ins_and_a_build_up(truth):
    history = hyperbolic_well(truth, days=3000, seed=11)
    result = run(history, method="arps")
    parameters = result.summary["parameters"]
    # qi and Di are the curve's at the start of the fit window (the peak it found)
    tau = (date.fromisoformat(parameters["qi_date"]) - START).days + 0.5 - truth.build_up_days
    assert 0 <= tau < 30
    assert parameters["qi"] == pytest.approx(float(truth.rate(np.array([tau]))[0]), rel=0.05)
    assert parameters["di_nominal"] == pytest.approx(truth.decline_at(tau), rel=0.10)
    assert abs(parameters["b"] - truth.b) <= 0.15
    assert result.summary["eur"] == pytest.approx(true_eur(truth, history, result), rel=0.05)


def test_the_window_starts_after_the_last_workover():
    truth = Truth(qi=150.0, di_secant=0.55, b=0.8)
    before = hyperbolic_well(truth, days=1500, seed=2)
    after = hyperbolic_well(Truth(qi=120.0, di_secant=0.5, b=0.6), days=1500, seed=3)
    history = History.from_records(
        dates=[START + timedelta(days=i) for i in range(3000)],
        oil=np.concatenate([before.oil, after.oil]),
        water=np.zeros(3000),
        hours_on=np.concatenate([before.on_days, after.on_days]) * 24,
    )
    result = run(history, method="arps")
    fit = result.summary["fit"]
    assert "rate reset" in fit["window"]
    # the second well came on 2019-02-09 and peaked 45 days later
    assert date(2019, 3, 1) <= date.fromisoformat(fit["from"]) <= date(2019, 4, 30)
    assert result.summary["parameters"]["b"] == pytest.approx(0.6, abs=0.15)


def test_the_same_inputs_give_the_same_numbers_band_included():
    history = water_drive_well(days=1500, seed=4)
    first, second = run(history), run(history)
    assert first.summary == second.summary
    for name in ("p10", "p50", "p90"):
        np.testing.assert_array_equal(first.band[name], second.band[name])
    np.testing.assert_array_equal(first.oil, second.oil)


def test_another_seed_gives_another_band_but_the_same_fit():
    history = hyperbolic_well(CASES[0], days=1500, seed=4)
    first, second = run(history, method="arps"), run(history, method="arps", seed=99)
    assert first.summary["parameters"] == second.summary["parameters"]
    assert first.summary["uncertainty"]["eur"] != second.summary["uncertainty"]["eur"]


def test_p90_is_the_conservative_end_of_the_band():
    result = run(hyperbolic_well(CASES[0], days=1500, seed=4), method="arps")
    eur = result.summary["uncertainty"]["eur"]
    assert eur["p90"] < eur["p50"] < eur["p10"]
    assert np.all(result.band["p90"] <= result.band["p50"]) and np.all(
        result.band["p50"] <= result.band["p10"]
    )
    assert eur["p90"] < result.summary["eur"] < eur["p10"]


def test_on_a_water_drive_well_auto_beats_a_whole_history_hyperbolic_in_backtest():
    history = water_drive_well(days=3000, seed=1)
    fit_to = START + timedelta(days=2200)
    auto = run(history, fit_to=fit_to)
    naive = run(history, method="arps", fit_from=START, fit_to=fit_to, recency_half_life_days=0)
    assert auto.summary["method"] == "fractional_flow"
    selection = auto.summary["selection"]
    assert selection["winner"].startswith("fractional_flow")
    assert "best" in selection["reason"] and "arps" in selection["reason"]
    scores = {c["name"]: c["score_pct"] for c in selection["candidates"]}
    assert min(scores, key=scores.get) == selection["winner"]
    auto_error = abs(auto.summary["backtest"]["cum_oil_error_pct"])
    naive_error = abs(naive.summary["backtest"]["cum_oil_error_pct"])
    assert auto_error < 3.0 < 2 * auto_error + 5.0 < naive_error


def test_the_p10_p90_band_covers_the_held_out_cumulative_about_80_percent_of_the_time():
    rng = np.random.default_rng(2026)
    inside = []
    for well in range(40):
        truth = Truth(
            qi=float(rng.uniform(30, 300)),
            di_secant=float(rng.uniform(0.2, 0.7)),
            b=float(rng.uniform(0, 1.3)),
        )
        history = hyperbolic_well(truth, days=1600, seed=1000 + well)
        result = engine.forecast(
            history=history,
            date_start=START,
            date_fin=START + timedelta(days=1599),
            lag=30,
            options=engine.Options(method="arps", fit_to=START + timedelta(days=1200)),
        )
        backtest = result.summary["backtest"]
        band = backtest["forecast_cum_oil_band"]
        inside.append(band["p90"] <= backtest["actual_cum_oil"] <= band["p10"])
    assert 0.65 <= np.mean(inside) <= 0.93


def test_a_backtest_compares_the_forecast_with_the_held_out_history_month_by_month():
    history = hyperbolic_well(CASES[0], days=1500, seed=4)
    result = run(history, method="arps", fit_to=START + timedelta(days=1099))
    backtest = result.summary["backtest"]
    assert backtest["held_out_from"] == (START + timedelta(days=1100)).isoformat()
    assert backtest["held_out_to"] == (START + timedelta(days=1499)).isoformat()
    assert backtest["records"] == 400
    assert abs(backtest["cum_oil_error_pct"]) < 5
    assert len(backtest["months"]) == 14
    assert result.summary["as_of"] == (START + timedelta(days=1099)).isoformat()
    assert result.summary["cum_oil_to_date"] == pytest.approx(float(history.cum_oil_end[1099]), abs=1e-3)
    assert run(history, method="arps").summary["backtest"] is None


def test_rows_keep_the_kernel_invariants_and_are_calendar_day_rates():
    history = water_drive_well(days=1500, seed=4)
    result = run(history, method="arps", uptime=0.5)
    frame = result.frame()
    assert list(frame.columns) == ["date", "liquid", "oil", "water", "wct"]
    assert (frame.liquid > 0).all() and (frame.oil >= 0).all() and (frame.oil <= frame.liquid).all()
    np.testing.assert_allclose(frame.water, frame.liquid - frame.oil, rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame.wct, frame.water / frame.liquid, rtol=0, atol=5e-7 + 1e-12)
    # the oil decline is per producing day; a calendar day makes uptime times as much
    full = run(history, method="arps", uptime=1.0)
    np.testing.assert_allclose(result.oil, 0.5 * full.oil, rtol=1e-12)


def test_the_economic_limit_ends_the_reserves():
    history = hyperbolic_well(CASES[0], days=1500, seed=4)
    low, high = (
        run(history, method="arps", economic_limit=1.0),
        run(history, method="arps", economic_limit=20.0),
    )
    assert high.summary["eur"] < low.summary["eur"]
    assert high.summary["economic_limit_date"] < low.summary["economic_limit_date"]
    limit_day = date.fromisoformat(high.summary["economic_limit_date"])
    at = engine.forecast(
        history=history,
        date_start=limit_day,
        date_fin=limit_day,
        lag=1,
        options=engine.Options(method="arps", economic_limit=20.0),
    )
    assert at.oil[0] == pytest.approx(20.0, rel=0.01)
    assert high.summary["remaining"] == pytest.approx(
        high.summary["eur"] - high.summary["cum_oil_to_date"], abs=1e-2
    )


def test_a_well_already_below_its_economic_limit_has_no_remaining_reserves():
    history = hyperbolic_well(Truth(qi=5.0, di_secant=0.6, b=0.5), days=1500, seed=4)
    result = run(history, method="arps", economic_limit=3.0)
    assert result.summary["remaining"] == 0.0
    assert result.summary["economic_limit_date"] == result.summary["as_of"]


def test_the_parameters_state_both_decline_conventions():
    result = run(hyperbolic_well(CASES[0], days=1500, seed=4), method="arps")
    parameters = result.summary["parameters"]
    assert parameters["di_secant_effective"] == pytest.approx(
        conventions.secant_from_nominal(parameters["di_nominal"], b=parameters["b"]), rel=1e-5
    )
    assert parameters["terminal_decline_secant_effective"] == pytest.approx(0.06)
    assert parameters["terminal_decline_nominal"] == pytest.approx(-np.log(0.94), rel=1e-5)


def test_it_says_how_many_producing_points_it_has_and_needs():
    history = hyperbolic_well(CASES[0], days=10, seed=4)
    with pytest.raises(engine.ForecastInputError) as error:
        run(history)
    assert error.value.field == "well" and error.value.rule == "too_little_history"
    assert f"{MIN_PRODUCING_POINTS} needed" in str(error.value)
    assert "producing points" in str(error.value)


def test_a_fit_window_too_short_names_the_field_that_made_it_short():
    history = hyperbolic_well(CASES[0], days=400, seed=4)
    with pytest.raises(engine.ForecastInputError) as error:
        run(history, fit_from=START + timedelta(days=395))
    assert error.value.field == "fit_from"
    with pytest.raises(engine.ForecastInputError) as error:
        run(history, fit_to=START + timedelta(days=5))
    assert error.value.field == "fit_to"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"method": "cubic"}, "method"),
        ({"fit_from": date(2020, 1, 2), "fit_to": date(2020, 1, 1)}, "fit_to"),
        ({"b_max": -1}, "b_max"),
        ({"terminal_decline": 1.0}, "terminal_decline"),
        ({"economic_limit": 0}, "economic_limit"),
        ({"uptime": 1.5}, "uptime"),
        ({"recency_half_life_days": -3}, "recency_half_life_days"),
        ({"min_hours_on": 25}, "min_hours_on"),
    ],
)
def test_it_refuses_options_out_of_range_naming_the_field(options, field):
    with pytest.raises(engine.ForecastInputError) as error:
        run(hyperbolic_well(CASES[0], days=100, seed=4), **options)
    assert error.value.field == field


def test_a_short_window_falls_back_to_the_weighted_hyperbolic_and_says_why():
    result = run(hyperbolic_well(CASES[0], days=150, seed=4))
    assert result.summary["method"] == "arps"
    assert "too short" in result.summary["selection"]["reason"]


def test_a_well_without_water_forecasts_none():
    result = run(hyperbolic_well(CASES[0], days=800, seed=4))
    assert result.summary["parameters"]["water_cut_model"]["kind"] == "none"
    assert np.all(result.water == 0)
    skipped = [c for c in result.summary["selection"]["candidates"] if "skipped" in c]
    assert skipped and skipped[0]["name"].startswith("fractional_flow")


def test_without_resamples_there_is_no_band():
    result = run(hyperbolic_well(CASES[0], days=800, seed=4), method="arps", resamples=0)
    assert result.summary["uncertainty"] is None and result.band == {}


def test_a_backtest_needs_held_out_records():
    history = hyperbolic_well(CASES[0], days=800, seed=4)
    result = run(history, method="arps")
    assert engine.backtest(result.fitted, history=history, until=history.end) is None


def test_a_held_out_month_without_production_is_shown_but_not_scored():
    history = hyperbolic_well(CASES[0], days=800, seed=4)
    shut = (history.start >= 700) & (history.start < 760)
    history = History.from_records(
        dates=[START + timedelta(days=i) for i in range(800)],
        oil=np.where(shut, 0.0, history.oil),
        water=history.water,
        hours_on=np.where(shut, 0.0, history.on_days * 24),
    )
    backtest = run(history, method="arps", fit_to=START + timedelta(days=599)).summary["backtest"]
    assert any(month["actual_rate"] == 0 for month in backtest["months"])
    assert backtest["monthly_rate_error_pct"] < 50


@pytest.mark.parametrize("liquid_decline", [0.05, -0.1], ids=["declining_liquid", "rising_liquid"])
def test_a_fractional_flow_band_surrounds_the_best_estimate(liquid_decline):
    history = water_drive_well(days=3000, seed=3, liquid_decline=liquid_decline)
    result = run(history, method="fractional_flow")
    summary = result.summary
    remaining = summary["uncertainty"]["remaining"]
    assert 0 < remaining["p90"] < remaining["p50"] < remaining["p10"]
    eur = summary["uncertainty"]["eur"]
    assert eur["p90"] <= summary["eur"] <= eur["p10"]
    assert remaining["p90"] <= summary["remaining"] <= remaining["p10"]
    above = result.oil > summary["economic_limit"]
    assert above.sum() > 12
    assert np.all(result.band["p90"][above] > 0) and np.all(result.band["p50"][above] > 0)
    assert np.all(result.band["p90"] <= result.band["p50"]) and np.all(
        result.band["p50"] <= result.band["p10"]
    )


def test_rows_before_the_first_record_are_zero_and_the_build_up_carries_the_fit_start():
    truth = CASES[2]
    history = hyperbolic_well(truth, days=1500, seed=5)
    result = engine.forecast(
        history=history,
        date_start=START - timedelta(days=300),
        date_fin=START + timedelta(days=3000),
        lag=1,
        options=engine.Options(method="arps"),
    )
    frame = result.frame()
    before = frame.date < np.datetime64(START)
    assert before.sum() == 300
    assert (frame.loc[before, ["liquid", "oil", "water", "wct"]] == 0).all().all()
    assert np.all(result.band["p50"][:300] == 0) and np.all(result.band["p10"][:300] == 0)
    producing = frame.loc[~before]
    assert (producing.liquid > 0).all() and (producing.oil <= producing.liquid).all()
    assert (producing.water == (producing.liquid - producing.oil).round(3)).all()
    # the build-up (first record to fit start) is never above the model at the fit start
    fit_start = np.datetime64(result.summary["fit"]["from"])
    at_start = float(frame.oil[frame.date == fit_start].iloc[0])
    build_up = frame.oil[(frame.date >= np.datetime64(START)) & (frame.date < fit_start)]
    assert len(build_up) > 0 and (build_up <= at_start + 1e-9).all()
    assert frame.oil.max() <= at_start + 1e-9
    # the rows' cumulative over the history stays below the EUR
    assert float(frame.oil.sum()) < result.summary["eur"]


def test_a_fractional_flow_hindcast_is_zero_before_the_first_record():
    history = water_drive_well(days=2000, seed=2)
    result = engine.forecast(
        history=history,
        date_start=START - timedelta(days=60),
        date_fin=START + timedelta(days=200),
        lag=10,
        options=engine.Options(method="fractional_flow", resamples=20),
    )
    frame = result.frame()
    before = frame.date < np.datetime64(START)
    assert before.any() and (frame.loc[before, ["liquid", "oil", "water", "wct"]] == 0).all().all()
    assert (frame.loc[~before, "liquid"] > 0).all()
