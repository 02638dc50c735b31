"""The calculation kernel: a small, deterministic well-production model.

Contract (kept from the original kernel): inputs `date_start`, `date_fin` and `lag` (days);
one row on `date_start`, `date_start + lag`, `date_start + 2 * lag`, ... up to `date_fin`
inclusive; the output is a pandas DataFrame with exactly the columns
`date, liquid, oil, water, wct`.

The model replaces the original's random noise and `time.sleep(10)`:

* liquid rate (m3/day) follows an Arps hyperbolic decline from the day the well starts
  (`date_start`), with a small seasonal swing and a small day-to-day scatter;
* the water cut rises along a logistic curve (water breakthrough a few years in);
* oil = liquid * (1 - water cut), water = liquid - oil.

Every number is a pure function of the inputs: the scatter comes from an integer hash of the
calendar day, not from a random generator, so the same inputs always give the same rows.
Rates are rounded to 3 decimals (litres) and the water cut to 6, in an order that keeps the
invariants exact on the rounded values: liquid > 0, 0 <= oil <= liquid, water = liquid - oil,
wct = water / liquid in [0, 1] (wct to within its rounding, 5e-7).

Everything is vectorised with numpy: 100 years of daily rows take a few milliseconds. The
rows are computed in up to `steps` chunks (one per 5,000 rows, so short runs are a single
chunk); after each chunk the kernel reports its progress (an integer percent) through
`on_progress`. When `step_delay` > 0 it always uses `steps` chunks and sleeps that many
seconds after each, so that runs can be watched in a demo (`CALCULATIONS_STEP_DELAY`).
"""

import time
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

COLUMNS = ("date", "liquid", "oil", "water", "wct")
DEFAULT_STEPS = 10
ROWS_PER_STEP = 5_000

# Model parameters: a typical mid-life oil producer.
INITIAL_LIQUID = 320.0  # m3/day on the first day
INITIAL_DECLINE = 0.35  # per year
HYPERBOLIC_EXPONENT = 0.6  # Arps b: 0 exponential, 1 harmonic
SEASONAL_AMPLITUDE = 0.03  # +-3 % over the calendar year
SCATTER_LIQUID = 0.02  # +-2 % day-to-day
WCT_INITIAL = 0.05
WCT_FINAL = 0.95
WCT_RISE_RATE = 0.45  # per year, steepness of the logistic rise
WCT_MIDPOINT_YEARS = 8.0  # years after start when the water cut is half-way
SCATTER_WCT = 0.01  # +-1 percentage point
MIN_LIQUID = 0.001  # a producing well never reports zero liquid

_DAYS_PER_YEAR = 365.25
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)

ProgressCallback = Callable[[int], None]


def row_count(*, date_start: date, date_fin: date, lag: int) -> int:
    """How many rows a run produces (0 if the dates are reversed)."""
    if date_fin < date_start:
        return 0
    return (date_fin - date_start).days // lag + 1


def run(
    *,
    date_start: date,
    date_fin: date,
    lag: int,
    on_progress: ProgressCallback | None = None,
    step_delay: float = 0.0,
    steps: int = DEFAULT_STEPS,
) -> pd.DataFrame:
    """Compute the production table for `date_start..date_fin` every `lag` days."""
    if lag < 1:
        raise ValueError("lag must be a positive number of days")
    if date_fin < date_start:
        raise ValueError("date_fin must not be before date_start")

    first = np.datetime64(date_start, "D")
    offsets = np.arange(0, (date_fin - date_start).days + 1, lag, dtype=np.int64)
    # A step is only worth reporting when it takes a noticeable time: a step per
    # ROWS_PER_STEP rows (a 10-year daily run is one step, 100 years ten), unless the demo
    # delay makes every step slow.
    wanted = steps if step_delay > 0 else len(offsets) // ROWS_PER_STEP
    chunks = np.array_split(offsets, max(1, min(steps, wanted, len(offsets))))
    parts: list[dict[str, np.ndarray]] = []
    for index, chunk in enumerate(chunks, start=1):
        parts.append(_rows(first=first, offsets=chunk))
        if on_progress is not None:
            on_progress(round(100 * index / len(chunks)))
        if step_delay > 0:
            time.sleep(step_delay)

    return pd.DataFrame({name: np.concatenate([part[name] for part in parts]) for name in COLUMNS})


def _rows(*, first: np.datetime64, offsets: np.ndarray) -> dict[str, np.ndarray]:
    days = first + offsets  # datetime64[D]
    years = offsets / _DAYS_PER_YEAR
    day_number = days.astype(np.int64)  # days since 1970-01-01, negative before

    decline = (1.0 + HYPERBOLIC_EXPONENT * INITIAL_DECLINE * years) ** (-1.0 / HYPERBOLIC_EXPONENT)
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + SEASONAL_AMPLITUDE * np.sin(2.0 * np.pi * day_of_year / _DAYS_PER_YEAR)
    scatter = 1.0 + SCATTER_LIQUID * _unit_noise(day_number, salt=1)
    liquid = np.maximum(np.round(INITIAL_LIQUID * decline * season * scatter, 3), MIN_LIQUID)

    logistic = 1.0 / (1.0 + np.exp(-WCT_RISE_RATE * (years - WCT_MIDPOINT_YEARS)))
    wct_raw = (
        WCT_INITIAL + (WCT_FINAL - WCT_INITIAL) * logistic + SCATTER_WCT * _unit_noise(day_number, salt=2)
    )
    wct_raw = np.clip(wct_raw, 0.0, 1.0)

    return published_rows(days=days, liquid=liquid, oil=liquid * (1.0 - wct_raw))


def published_rows(
    *, days: np.ndarray, liquid: np.ndarray, oil: np.ndarray, producing: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The five columns from raw rates, rounded so that the invariants hold exactly.

    Liquid is rounded to litres and kept >= MIN_LIQUID; oil is rounded, then clipped to
    [0, liquid]; water and the water cut are derived from the rounded numbers, so the published
    table satisfies water = liquid - oil and wct = water / liquid exactly. Well forecasts
    (apps.calculations.forecast) publish their rows through this too; their rows where
    `producing` is False (dated before the well's first record) are all zero, water cut 0.
    """
    liquid = np.maximum(np.round(liquid, 3), MIN_LIQUID)
    oil = np.clip(np.round(oil, 3), 0.0, liquid)
    if producing is not None:
        liquid = np.where(producing, liquid, 0.0)
        oil = np.where(producing, oil, 0.0)
    water = np.round(liquid - oil, 3)
    wct = np.clip(np.round(water / np.where(liquid > 0, liquid, 1.0), 6), 0.0, 1.0)
    return {"date": days.astype("datetime64[s]"), "liquid": liquid, "oil": oil, "water": water, "wct": wct}


def _unit_noise(day_number: np.ndarray, *, salt: int) -> np.ndarray:
    """Deterministic scatter in [-1, 1) per calendar day (SplitMix64 finaliser).

    Integer arithmetic, so it is the same on every machine; unsigned overflow wraps by design.
    """
    with np.errstate(over="ignore"):
        x = day_number.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
        x &= _MASK64
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0
