"""A demo field: about a dozen wells with years of daily history that looks like real data.

Deterministic: the same arguments give the same files, byte for byte (a seeded generator, no
clock). Each well has a build-up to its peak, a hyperbolic (Arps) decline of its oil rate,
water breaking through and the water cut rising towards 0.9, shut-in days (single days and a
few longer outages) and partial days on stream, sometimes a workover that resets the rate,
and measurement noise. Volumes are per day: rate x hours on stream / 24.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

FIELD = "Demo field"
WELLS = 12
SEED = 20240407
FIRST_START = date(2015, 1, 1)


@dataclass(frozen=True)
class DemoWell:
    name: str
    start: date
    days: int
    notes: str


def demo_wells(*, count: int = WELLS) -> list[DemoWell]:
    """The wells: staggered starts, 5 to 10 years of history each."""
    wells = []
    for i in range(count):
        years = 5 + (i * 7) % 6  # 5..10
        start = FIRST_START + timedelta(days=45 * i)
        wells.append(DemoWell(name=f"D-{i + 1:02d}", start=start, days=round(years * 365.25), notes=""))
    return wells


def demo_history_csv(well: DemoWell, *, index: int, seed: int = SEED) -> bytes:
    """The well's daily history as a CSV file (date, oil, water, gas, hours_on)."""
    rng = np.random.default_rng([seed, index])
    days = well.days
    t = np.arange(days, dtype=np.float64)  # days since the start
    qi = rng.uniform(120, 420)  # peak oil rate, m3/day
    b = rng.uniform(0.3, 0.9)
    dn = rng.uniform(0.4, 1.2) / 365.25  # nominal initial decline, per day
    ramp = rng.integers(20, 90)  # days of build-up
    workover = int(rng.integers(days // 3, 2 * days // 3)) if index % 3 == 1 else None

    since = np.maximum(t - ramp, 0)
    level = np.ones(days)
    if workover is not None:
        # After the workover the decline starts again from 80 % of the original peak.
        since = np.where(t >= workover, t - workover, since)
        level = np.where(t >= workover, 0.8, 1.0)
    oil_rate = level * qi / (1 + b * dn * since) ** (1 / b)
    oil_rate *= np.clip((t + 1) / ramp, 0, 1) ** 0.7  # the build-up to the peak

    breakthrough = rng.uniform(200, 900)  # days
    water_cut = 0.02 + 0.88 / (1 + np.exp(-(t - breakthrough - 400) / rng.uniform(180, 360)))
    water_cut = np.where(t < breakthrough, 0.02 * t / breakthrough, water_cut)
    oil_rate *= 1 - 0.5 * np.clip(water_cut - 0.02, 0, None)  # water displaces oil at the wells

    hours = np.full(days, 24.0)
    partial = rng.random(days) < 0.05
    hours[partial] = np.round(rng.uniform(4, 23, partial.sum()), 1)
    hours[rng.random(days) < 0.015] = 0  # single shut-in days
    for _ in range(int(rng.integers(1, 4))):  # longer outages
        first = int(rng.integers(ramp, days - 30))
        hours[first : first + int(rng.integers(5, 30))] = 0
    if workover is not None:
        hours[workover - 14 : workover] = 0  # the rig on the well

    noise = rng.lognormal(0, 0.05, days)
    oil = np.round(oil_rate * noise * hours / 24, 2)
    water = np.round(oil_rate * noise * water_cut / (1 - water_cut) * hours / 24, 2)
    gas = np.round(oil * rng.uniform(90, 180) * rng.lognormal(0, 0.03, days), 0)

    lines = ["date,oil,water,gas,hours_on"]
    for day in range(days):
        current = well.start + timedelta(days=day)
        lines.append(f"{current.isoformat()},{oil[day]:.2f},{water[day]:.2f},{gas[day]:.0f},{hours[day]:g}")
    return ("\n".join(lines) + "\n").encode()
