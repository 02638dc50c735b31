import warnings

import numpy as np
import pytest
from petbox import dca
from scipy.optimize import least_squares

from apps.calculations.forecast import conventions, decline

T = np.array([0.0, 0.5, 1.0, 10.0, 100.0, 365.25, 1000.0, 3000.0, 10_000.0, 40_000.0])
DT = conventions.nominal_from_tangent(0.06) / conventions.DAYS_PER_YEAR


def petbox_mh(qi: float, dn_year: float, b: float, dterm: float = 0.06) -> dca.MH:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # petbox warns that an exponential ignores Dterm
        return dca.MH(qi, conventions.secant_from_nominal(dn_year, b=b), b, dterm)


@pytest.mark.parametrize(
    ("qi", "dn_year", "b"),
    [
        (100.0, 0.8, 0.9),
        (50.0, 0.3, 0.0),
        (200.0, 2.0, 1.0),
        (80.0, 1.5, 1.5),
        (120.0, 0.5, 0.3),
        (10.0, 5.0, 2.0),
    ],
)
def test_rates_and_cumulatives_match_petbox_mh_to_1e_9(qi, dn_year, b):
    reference = petbox_mh(qi, dn_year, b)
    dn = dn_year / conventions.DAYS_PER_YEAR
    np.testing.assert_allclose(decline.rate(T, qi, dn, b, DT), reference.rate(T), rtol=1e-9, atol=0)
    np.testing.assert_allclose(
        decline.cumulative(T[1:], qi, dn, b, DT), reference.cum(T[1:]), rtol=1e-9, atol=0
    )
    assert decline.cumulative(np.array([0.0]), qi, dn, b, DT)[0] == 0.0


def test_without_a_terminal_decline_it_is_petbox_hyperbolic():
    reference = petbox_mh(100.0, 0.8, 0.9, dterm=0.0)
    dn = 0.8 / conventions.DAYS_PER_YEAR
    np.testing.assert_allclose(decline.rate(T, 100.0, dn, 0.9, 0.0), reference.rate(T), rtol=1e-9)
    np.testing.assert_allclose(
        decline.cumulative(T[1:], 100.0, dn, 0.9, 0.0), reference.cum(T[1:]), rtol=1e-9
    )


def test_the_terminal_segment_starts_where_petbox_puts_it():
    reference = petbox_mh(100.0, 0.8, 0.9)
    start = decline.terminal_start(0.8 / conventions.DAYS_PER_YEAR, 0.9, DT)
    assert start == pytest.approx(reference.segment_params[1, 0], rel=1e-12)


def test_an_initial_decline_below_the_terminal_one_stays_exponential_at_its_own_rate():
    dn = 0.03 / conventions.DAYS_PER_YEAR
    np.testing.assert_allclose(decline.rate(T, 50.0, dn, 0.8, DT), 50.0 * np.exp(-dn * T), rtol=1e-12)
    assert decline.terminal_start(dn, 0.8, DT) == 0.0


def test_it_evaluates_many_models_at_once():
    qi = np.array([[100.0], [50.0]])
    dn = np.array([[0.002], [0.001]])
    b = np.array([[0.5], [1.2]])
    many = decline.rate(T, qi, dn, b, DT)
    assert many.shape == (2, len(T))
    np.testing.assert_allclose(many[1], decline.rate(T, 50.0, 0.001, 1.2, DT), rtol=1e-14)


@pytest.mark.parametrize(("dn", "b"), [(0.003, 0.7), (0.003, 0.0), (0.003, 1e-5), (0.0001, 0.9), (0.01, 1.5)])
def test_the_jacobian_matches_finite_differences(dn, b):
    tau = np.linspace(0.0, 6000.0, 50)
    theta = np.array([np.log(80.0), np.log(dn), b])
    analytic = decline.jacobian(tau, theta[0], np.exp(theta[1]), theta[2], DT)
    for k in range(3):
        step = np.zeros(3)
        step[k] = 1e-6
        up = decline.log_rate(tau, *(theta + step)[:1], np.exp((theta + step)[1]), (theta + step)[2], DT)
        down = decline.log_rate(
            tau, *(theta - step)[:1], np.exp((theta - step)[1]), max((theta - step)[2], 0), DT
        )
        width = 2e-6 if (theta - step)[2] >= 0 else 1e-6 + theta[2]
        np.testing.assert_allclose(analytic[:, k], (up - down) / width, rtol=1e-4, atol=1e-6)


def test_it_fits_a_noiseless_curve_exactly():
    tau = np.arange(0.0, 2000.0, 3.0)
    truth = decline.log_rate(tau, np.log(150.0), 0.003, 0.8, DT)
    fit = decline.fit(tau=tau, y=truth, weights=np.ones_like(tau), b_max=1.5, dterm=DT)
    assert fit.ln_qi == pytest.approx(np.log(150.0), abs=1e-6)
    assert fit.dn == pytest.approx(0.003, rel=1e-5)
    assert fit.b == pytest.approx(0.8, abs=1e-4)
    assert fit.r2 == pytest.approx(1.0)


def test_it_keeps_b_inside_its_bounds():
    tau = np.arange(0.0, 2000.0, 3.0)
    truth = decline.log_rate(tau, np.log(150.0), 0.01, 2.0, DT)
    fit = decline.fit(tau=tau, y=truth, weights=np.ones_like(tau), b_max=1.0, dterm=DT)
    assert fit.b == pytest.approx(1.0)
    exponential = decline.fit(tau=tau, y=truth, weights=np.ones_like(tau), b_max=0.0, dterm=DT)
    assert exponential.b == 0.0


def test_the_batched_refits_agree_with_one_least_squares_call_each():
    rng = np.random.default_rng(5)
    tau = np.arange(0.0, 1500.0, 1.0)
    truth = decline.log_rate(tau, np.log(150.0), 0.003, 0.8, DT)
    weights = 0.5 ** ((tau[-1] - tau) / 365.0)
    start = decline.fit(tau=tau, y=truth + rng.normal(0, 0.1, len(tau)), weights=weights, b_max=1.5, dterm=DT)
    ys = truth + rng.normal(0, 0.1, (3, len(tau)))
    batched = decline.refit_many(tau=tau, ys=ys, weights=weights, start=start, b_max=1.5)
    for sample, theta in zip(ys, batched, strict=True):
        # the same problem: weighted least squares with the robust weights fixed at the optimum
        root = np.sqrt(weights * start.irls_weights)

        def residual(p, y=sample, root=root):
            return root * (decline.log_rate(tau, p[0], np.exp(p[1]), p[2], DT) - y)

        reference = least_squares(
            residual, start.theta, bounds=([-np.inf, -20, 0], [np.inf, 0, 1.5]), xtol=1e-12
        )
        np.testing.assert_allclose(theta, reference.x, atol=2e-4)
