"""A well's production history as the forecast reads it: producing-day rates and the fit window.

A record covers `period_days` calendar days from its date (1 for a daily report, a month for a
monthly one) and the well was on stream `on_days` of them (hours on / 24, or days on). Its
producing-day rate is volume / on_days: what the well makes while it flows. Records with no time
on stream (shut-ins) carry no rate; records on stream for less than `min_on_fraction` of their
period (12 of 24 hours by default) are dropped from the fit too, because start-up and shut-down
transients make partial days noisy. Records with a negative or zero volume (allocation
corrections) carry no rate either. Cumulative volumes always count every record as reported.
"""

from dataclasses import dataclass, field
from datetime import date

import numpy as np

# The fewest producing points a decline fit accepts: a hyperbolic has three parameters, and a
# year of monthly reports is the shortest history engineers fit one to.
MIN_PRODUCING_POINTS = 12
# A rate reset (workover, restimulation): the median rate of the next points at least this
# many times the median of the points before.
RESET_JUMP = 1.4


@dataclass(frozen=True)
class History:
    """Records in date order; volumes in m3, times in days since `origin`."""

    origin: date
    start: np.ndarray  # days since origin, float
    period_days: np.ndarray
    on_days: np.ndarray
    oil: np.ndarray
    water: np.ndarray
    cum_oil_end: np.ndarray = field(init=False)  # calendar cumulative oil at each record's end

    def __post_init__(self) -> None:
        object.__setattr__(self, "cum_oil_end", np.cumsum(np.maximum(self.oil, 0.0)))

    @classmethod
    def from_records(
        cls,
        *,
        dates: list[date] | np.ndarray,
        oil: np.ndarray | list[float],
        water: np.ndarray | list[float],
        hours_on: np.ndarray | list[float] | None = None,
        days_on: np.ndarray | list[float] | None = None,
        period_days: np.ndarray | list[float] | None = None,
    ) -> "History":
        """Daily records with `hours_on`, or records of `period_days` with `days_on`."""
        days = np.asarray(dates, dtype="datetime64[D]")
        if len(days) == 0:
            raise ValueError("a history needs at least one record")
        if np.any(np.diff(days.astype(np.int64)) <= 0):
            raise ValueError("records must be in date order, one per date")
        origin = days[0].astype(date)
        start = (days - days[0]).astype(np.int64).astype(np.float64)
        period = np.ones_like(start) if period_days is None else np.asarray(period_days, dtype=np.float64)
        if hours_on is not None:
            on = np.asarray(hours_on, dtype=np.float64) / 24.0
        elif days_on is not None:
            on = np.asarray(days_on, dtype=np.float64)
        else:
            on = period.copy()
        return cls(
            origin=origin,
            start=start,
            period_days=period,
            on_days=np.clip(np.nan_to_num(on), 0.0, None),
            oil=np.nan_to_num(np.asarray(oil, dtype=np.float64)),
            water=np.nan_to_num(np.asarray(water, dtype=np.float64)),
        )

    @property
    def end(self) -> float:
        """Days from origin to the end of the last record."""
        return float(self.start[-1] + self.period_days[-1])

    @property
    def mid(self) -> np.ndarray:
        return self.start + self.period_days / 2.0

    def day(self, offset: float) -> date:
        return (np.datetime64(self.origin, "D") + np.timedelta64(int(np.floor(offset)), "D")).astype(date)

    def offset(self, when: date) -> float:
        return float((np.datetime64(when, "D") - np.datetime64(self.origin, "D")).astype(np.int64))

    def cum_oil_at(self, t: np.ndarray | float) -> np.ndarray:
        """Calendar cumulative oil at days `t` (linear within a record, flat outside the history)."""
        edges = np.concatenate([[self.start[0]], self.start + self.period_days])
        totals = np.concatenate([[0.0], self.cum_oil_end])
        return np.interp(t, edges, totals)

    def uptime(self, *, until: float, days: float = 365.0) -> float:
        """Fraction of calendar days on stream over the `days` before `until` (records present)."""
        inside = (self.start < until) & (self.start + self.period_days > until - days)
        period = float(np.sum(self.period_days[inside]))
        return min(1.0, float(np.sum(self.on_days[inside])) / period) if period > 0 else 1.0


@dataclass(frozen=True)
class ProducingDays:
    """The records that carry a rate, and why the others were dropped."""

    index: np.ndarray  # into the history's records
    t: np.ndarray  # record mid-times, days since origin
    oil: np.ndarray  # producing-day rates, m3/day
    water: np.ndarray
    dropped: dict[str, int]

    @property
    def liquid(self) -> np.ndarray:
        return self.oil + self.water

    def __len__(self) -> int:
        return len(self.index)

    def select(self, keep: np.ndarray) -> "ProducingDays":
        return ProducingDays(
            index=self.index[keep],
            t=self.t[keep],
            oil=self.oil[keep],
            water=self.water[keep],
            dropped=self.dropped,
        )


def producing_days(history: History, *, min_on_fraction: float) -> ProducingDays:
    shut_in = history.on_days <= 0
    partial = ~shut_in & (history.on_days < min_on_fraction * history.period_days)
    no_oil = ~shut_in & ~partial & (history.oil <= 0)
    keep = ~(shut_in | partial | no_oil)
    on = np.where(keep, history.on_days, 1.0)
    return ProducingDays(
        index=np.flatnonzero(keep),
        t=history.mid[keep],
        oil=(history.oil / on)[keep],
        water=(np.maximum(history.water, 0.0) / on)[keep],
        dropped={
            "shut_in": int(shut_in.sum()),
            "below_min_hours": int(partial.sum()),
            "no_oil": int(no_oil.sum()),
        },
    )


def _rolling_median(values: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(values, (half, width - 1 - half), mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def default_window_start(points: ProducingDays) -> tuple[int, int | None]:
    """Index into `points` where the default fit starts (the peak after the last rate reset),
    and the index of that reset (None: no reset, the peak of the whole history).

    A reset is a step up of the median rate (`RESET_JUMP`) between the points before and after
    it: a workover or restimulation, or the well's own start-up. The peak is the highest
    smoothed rate after the last reset that still leaves `MIN_PRODUCING_POINTS` to fit.
    """
    n = len(points)
    log_oil = np.log(points.oil)
    width = int(np.clip(n // 20, 3, 31)) | 1
    last_reset = 0
    reset: int | None = None
    if n >= 2 * width + MIN_PRODUCING_POINTS:
        windows = np.lib.stride_tricks.sliding_window_view(log_oil, width)
        medians = np.median(windows, axis=1)
        # at i: the width points from i against the width points before i
        jumps = medians[width:] - medians[:-width]
        candidates = np.flatnonzero(jumps > np.log(RESET_JUMP)) + width
        candidates = candidates[candidates <= n - MIN_PRODUCING_POINTS]
        if len(candidates):
            # the last cluster of jumping points, and its steepest point
            cluster_start = candidates[-1]
            while np.any(candidates == cluster_start - 1):
                cluster_start -= 1
            cluster = np.arange(cluster_start, candidates[-1] + 1)
            last_reset = reset = int(cluster[np.argmax(jumps[cluster - width])])
    smooth = _rolling_median(log_oil, width)
    usable = smooth[last_reset : max(last_reset + 1, n - MIN_PRODUCING_POINTS + 1)]
    return last_reset + int(np.argmax(usable)), reset
