import math
import warnings

import numpy as np
import pytest
from petbox import dca

from apps.calculations.forecast import conventions


@pytest.mark.parametrize("b", [0.0, 0.3, 0.5, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("nominal", [0.01, 0.2, 1.0, 3.0])
def test_nominal_and_secant_effective_round_trip(b, nominal):
    secant = conventions.secant_from_nominal(nominal, b=b)
    assert conventions.nominal_from_secant(secant, b=b) == pytest.approx(nominal, rel=1e-12)


def test_the_secant_effective_decline_is_the_fraction_lost_in_the_first_year():
    # hyperbolic b = 0.5, Dn = 1/year: q(1 year) / qi = (1 + 0.5)^-2
    assert conventions.secant_from_nominal(1.0, b=0.5) == pytest.approx(1 - 1.5**-2, rel=1e-14)
    assert conventions.nominal_from_secant(1 - 1.5**-2, b=0.5) == pytest.approx(1.0, rel=1e-14)


def test_at_b_zero_secant_and_tangent_effective_are_the_same():
    assert conventions.secant_from_nominal(0.5, b=0.0) == conventions.tangent_from_nominal(0.5)
    assert conventions.tangent_from_nominal(0.5) == pytest.approx(1 - math.exp(-0.5), rel=1e-15)
    assert conventions.nominal_from_tangent(1 - math.exp(-0.5)) == pytest.approx(0.5, rel=1e-14)


def test_the_secant_decline_is_below_the_nominal_and_the_tangent_for_any_b():
    nominal = 0.8
    tangent = conventions.tangent_from_nominal(nominal)
    for b in [0.2, 0.8, 1.5]:
        assert conventions.secant_from_nominal(nominal, b=b) < tangent < nominal


@pytest.mark.parametrize("b", [0.0, 0.5, 1.2])
def test_it_converts_as_petbox_does(b):
    assert conventions.nominal_from_secant(0.45, b=b) == pytest.approx(
        dca.MH.nominal_from_secant(0.45, b), rel=1e-14
    )
    assert conventions.secant_from_nominal(0.9, b=b) == pytest.approx(
        dca.MH.secant_from_nominal(0.9, b), rel=1e-14
    )


def test_petbox_mh_takes_di_as_secant_effective_per_year():
    model = dca.MH(100.0, 0.4, 0.8, 0.0)
    assert model.rate(np.array([conventions.DAYS_PER_YEAR]))[0] == pytest.approx(60.0, rel=1e-12)


def test_petbox_mh_takes_dterm_as_tangent_effective_so_an_exponential_tail_matches_our_secant():
    # The terminal decline we take as secant effective goes to petbox unchanged: its tail
    # declines at -ln(1 - Dterm) a year, i.e. loses exactly Dterm of its rate each year.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dca.MH(100.0, 0.6, 1.2, 0.06)
    far = np.array([80 * conventions.DAYS_PER_YEAR, 81 * conventions.DAYS_PER_YEAR])
    nominal = model.D(far[:1])[0] * conventions.DAYS_PER_YEAR
    assert nominal == pytest.approx(conventions.nominal_from_tangent(0.06), rel=1e-12)
    q = model.rate(far)
    assert 1 - q[1] / q[0] == pytest.approx(0.06, rel=1e-9)


@pytest.mark.parametrize(
    "call",
    [
        lambda: conventions.nominal_from_secant(1.0, b=0.5),
        lambda: conventions.nominal_from_secant(-0.1, b=0.5),
        lambda: conventions.nominal_from_tangent(1.0),
        lambda: conventions.secant_from_nominal(-1.0, b=0.5),
        lambda: conventions.tangent_from_nominal(-1.0),
    ],
)
def test_it_refuses_declines_outside_their_range(call):
    with pytest.raises(ValueError, match="decline is"):
        call()
