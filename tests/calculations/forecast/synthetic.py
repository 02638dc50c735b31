"""Synthetic wells from known parameters, as the forecast tests and bench/forecast.py use them.

Daily records with hours on stream: a build-up to the peak, then a modified hyperbolic (rates
from petbox-dca, the reference), lognormal noise with mean 1, shut-in days and partial days.
A water-drive well's liquid declines slowly while its water-oil ratio rises exponentially with
cumulative oil, so its oil falls faster than its liquid.
"""

import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from petbox import dca

from apps.calculations.forecast import conventions
from apps.calculations.forecast.history import History

START = date(2015, 1, 1)


@dataclass(frozen=True)
class Truth:
    qi: float  # m3/day at the peak
    di_secant: float  # per year
    b: float
    dterm: float = 0.06  # secant (= tangent) effective per year
    build_up_days: int = 45

    @property
    def dn_per_year(self) -> float:
        return conventions.nominal_from_secant(self.di_secant, b=self.b)

    def model(self) -> dca.MH:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dca.MH(self.qi, self.di_secant, self.b, self.dterm)

    def rate(self, tau: np.ndarray) -> np.ndarray:
        """Rate `tau` days after the peak; the build-up rises linearly from 20 % of qi."""
        tau = np.asarray(tau, dtype=float)
        ramp = self.qi * (0.2 + 0.8 * np.clip((tau + self.build_up_days) / self.build_up_days, 0, 1))
        return np.where(tau < 0, ramp, self.model().rate(np.maximum(tau, 0.0)))

    def decline_at(self, tau: float) -> float:
        """Nominal decline per year `tau` days after the peak."""
        return float(self.model().D(np.array([tau]))[0] * conventions.DAYS_PER_YEAR)


def _schedule(rng: np.random.Generator, days: int, shut_in: float, partial: float) -> np.ndarray:
    hours = np.full(days, 24.0)
    roll = rng.random(days)
    hours[roll < shut_in] = 0.0
    hours[(roll >= shut_in) & (roll < shut_in + partial)] = 6.0
    return hours


def hyperbolic_well(
    truth: Truth,
    *,
    days: int = 3000,
    seed: int = 1,
    noise: float = 0.10,
    shut_in: float = 0.05,
    partial: float = 0.02,
) -> History:
    rng = np.random.default_rng(seed)
    tau = np.arange(days) + 0.5 - truth.build_up_days
    hours = _schedule(rng, days, shut_in, partial)
    rate = truth.rate(tau) * np.exp(rng.normal(0.0, noise, days) - noise**2 / 2)
    oil = rate * hours / 24.0
    water = oil * 0.0
    return History.from_records(
        dates=[START + timedelta(days=i) for i in range(days)], oil=oil, water=water, hours_on=hours
    )


def water_drive_well(
    *, days: int = 3000, seed: int = 1, noise: float = 0.08, liquid_decline: float = 0.05
) -> History:
    """Liquid 400 m3/day declining `liquid_decline` per year (0: flat, the pump at its
    capacity); ln WOR = -2.5 + Np / 45,000 m3."""
    rng = np.random.default_rng(seed)
    hours = _schedule(rng, days, 0.05, 0.02)
    t = np.arange(days) + 0.5
    liquid = 400.0 * np.exp(-liquid_decline * t / conventions.DAYS_PER_YEAR)
    oil = np.empty(days)
    water = np.empty(days)
    cum = 0.0
    for i in range(days):
        ratio = np.exp(-2.5 + cum / 45_000.0) * np.exp(rng.normal(0.0, noise))
        oil[i] = liquid[i] / (1.0 + ratio) * np.exp(rng.normal(0.0, noise) - noise**2 / 2) * hours[i] / 24.0
        water[i] = oil[i] * ratio
        cum += oil[i]
    return History.from_records(
        dates=[START + timedelta(days=i) for i in range(days)], oil=oil, water=water, hours_on=hours
    )
