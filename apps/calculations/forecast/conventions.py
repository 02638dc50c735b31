"""Decline-rate conventions: nominal, secant-effective and tangent-effective, per year.

* nominal `Dn` (1/year): the slope of -ln q, the number the equations use;
* tangent effective `De_t = 1 - exp(-Dn)`: the fraction an exponential decline at `Dn` loses in
  a year;
* secant effective `De_s = 1 - q(1 year) / qi` (the SPEE "annual effective % decline"): for a
  hyperbolic with exponent `b`, `De_s = 1 - (1 + b Dn)^(-1/b)`, so `Dn = ((1 - De_s)^(-b) - 1) / b`.
  At `b = 0` it is the tangent effective decline.

petbox-dca's `MH(qi, Di, bi, Dterm)` takes `Di` as secant effective per year (with the
hyperbolic `b`) and `Dterm` as *tangent* effective per year. A terminal decline is exponential,
and for an exponential the secant and tangent effective declines are the same number, so the
terminal decline users give as secant effective goes to petbox unchanged (tests pin both).
"""

import math

DAYS_PER_YEAR = 365.25
# Below this |b| the hyperbolic formulas are replaced by their exponential limit (petbox's own
# threshold, so the two agree on which branch a model takes).
B_EPSILON = 1e-10


def nominal_from_secant(secant: float, *, b: float) -> float:
    """Nominal decline (1/year) from a secant effective decline (fraction per year)."""
    if not 0.0 <= secant < 1.0:
        raise ValueError("a secant effective decline is a fraction in [0, 1)")
    if abs(b) <= B_EPSILON:
        return nominal_from_tangent(secant)
    return math.expm1(-b * math.log1p(-secant)) / b


def secant_from_nominal(nominal: float, *, b: float) -> float:
    """Secant effective decline (fraction per year) from a nominal decline (1/year)."""
    if nominal < 0.0:
        raise ValueError("a nominal decline is not negative")
    if abs(b) <= B_EPSILON:
        return tangent_from_nominal(nominal)
    return -math.expm1(-math.log1p(b * nominal) / b)


def nominal_from_tangent(tangent: float) -> float:
    """Nominal decline (1/year) from a tangent effective decline (fraction per year)."""
    if not 0.0 <= tangent < 1.0:
        raise ValueError("a tangent effective decline is a fraction in [0, 1)")
    return -math.log1p(-tangent)


def tangent_from_nominal(nominal: float) -> float:
    """Tangent effective decline (fraction per year) from a nominal decline (1/year)."""
    if nominal < 0.0:
        raise ValueError("a nominal decline is not negative")
    return -math.expm1(-nominal)
