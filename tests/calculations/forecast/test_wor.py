import numpy as np
import pytest
from scipy.integrate import solve_ivp

from apps.calculations.forecast import wor


@pytest.mark.parametrize(("w_anchor", "c"), [(0.5, 1e-4), (0.01, 5e-4), (20.0, 1e-5), (1.0, 0.0)])
def test_oil_produced_solves_dnp_dl_equals_one_over_one_plus_wor(w_anchor, c):
    liquid = np.array([0.0, 100.0, 5_000.0, 50_000.0, 400_000.0])
    solved = wor.oil_produced(w_anchor=np.array(w_anchor), c=np.array(c), liquid_volume=liquid)
    reference = solve_ivp(
        lambda _, n: 1.0 / (1.0 + w_anchor * np.exp(c * n)),
        (0, liquid[-1]),
        [0.0],
        t_eval=liquid,
        rtol=1e-11,
        atol=1e-9,
    ).y[0]
    np.testing.assert_allclose(solved, reference, rtol=1e-7, atol=1e-6)


def test_it_fits_the_line_of_log_wor_against_cumulative_oil():
    rng = np.random.default_rng(3)
    np_oil = np.linspace(0, 100_000, 500)
    oil = np.full(500, 50.0)
    water = oil * np.exp(-2.0 + np_oil / 40_000 + rng.normal(0, 0.05, 500))
    model = wor.fit(np_oil=np_oil, oil=oil, water=water, t=np.arange(500.0), weights=np.ones(500))
    assert model.kind == "trend"
    assert model.a == pytest.approx(-2.0, abs=0.02)
    assert model.c == pytest.approx(1 / 40_000, rel=0.02)
    _a, c = wor.refit_many(model, model.residuals[np.random.default_rng(1).integers(0, 500, (50, 500))])
    assert np.std(c) > 0 and abs(np.mean(c) - model.c) < 0.02 * model.c


def test_a_falling_water_cut_is_held_not_extrapolated():
    np_oil = np.linspace(0, 100_000, 100)
    oil = np.full(100, 50.0)
    water = oil * np.exp(1.0 - np_oil / 40_000)
    model = wor.fit(np_oil=np_oil, oil=oil, water=water, t=np.arange(100.0), weights=np.ones(100))
    assert model.kind == "constant" and model.c == 0.0


def test_few_wet_points_hold_the_recent_ratio_and_a_dry_well_makes_no_water():
    t = np.arange(100.0)
    oil = np.full(100, 50.0)
    water = np.zeros(100)
    water[-5:] = 5.0
    held = wor.fit(np_oil=t * 50, oil=oil, water=water, t=t, weights=np.ones(100))
    assert held.kind == "constant" and np.exp(held.a) == pytest.approx(25 / (91 * 50))
    dry = wor.fit(np_oil=t * 50, oil=oil, water=np.zeros(100), t=t, weights=np.ones(100))
    assert dry.kind == "none" and dry.describe() == {"kind": "none", "points": 0}


def test_water_only_long_ago_makes_none_now():
    t = np.arange(200.0)
    oil = np.full(200, 50.0)
    water = np.zeros(200)
    water[:5] = 5.0
    model = wor.fit(np_oil=t * 50, oil=oil, water=water, t=t, weights=np.ones(200))
    assert model.kind == "none" and model.points == 5
