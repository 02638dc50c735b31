"""Forecast a well: fit, choose, extrapolate, bound, backtest. Pure numpy/scipy, no ORM.

Times are days since the history's first record; `t0` is the first point of the fit window
and the decline models run on `tau = t - t0`. The anchor is the end of the fit window (the end
of the history, or the day after `fit_to`): rows before it are the fitted model on the well's
actual cumulative oil (a hindcast), rows after it the forecast. Rows from the first record to
the fit start (the build-up) carry the model's rates at the fit start; rows dated before the
first record are zero (the well was not producing yet). Rates in the rows are
calendar-day rates (the producing-day model rate times the uptime).
"""

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from apps.calculations import kernel
from apps.calculations.forecast import conventions, decline, wor
from apps.calculations.forecast import history as hist
from apps.calculations.forecast.history import MIN_PRODUCING_POINTS, History, ProducingDays

Method = Literal["auto", "arps", "fractional_flow"]
METHODS: tuple[str, ...] = ("auto", "arps", "fractional_flow")

# Defaults (docs/reference/forecasts.md says why each).
DEFAULT_HALF_LIFE_DAYS = 365.0
DEFAULT_B_MAX = 1.5
DEFAULT_TERMINAL_DECLINE = 0.06  # secant effective per year
DEFAULT_ECONOMIC_LIMIT = 1.0  # m3/day of oil, calendar day
DEFAULT_MIN_HOURS_ON = 12.0
RESAMPLES = 200
SEED = 22
HORIZON_YEARS = 100
# The auto method's backtest holds out the last quarter of the window, 90 days to 2 years of it.
HOLDOUT_SHARE, HOLDOUT_MIN_DAYS, HOLDOUT_MAX_DAYS = 0.25, 90.0, 730.0
_GRID_STEP = conventions.DAYS_PER_YEAR / 12
_BAND_CHUNK = 4096


class ForecastInputError(ValueError):
    """Input the forecast cannot use; `field` names the model key (or `well`) at fault."""

    def __init__(self, message: str, *, field: str, rule: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class Options:
    method: str = "auto"
    fit_from: date | None = None
    fit_to: date | None = None
    recency_half_life_days: float = DEFAULT_HALF_LIFE_DAYS  # 0: no weighting
    b_max: float = DEFAULT_B_MAX
    terminal_decline: float = DEFAULT_TERMINAL_DECLINE
    economic_limit: float = DEFAULT_ECONOMIC_LIMIT
    uptime: float | None = None  # None: the last 365 days' before the anchor
    min_hours_on: float = DEFAULT_MIN_HOURS_ON
    resamples: int = RESAMPLES
    seed: int = SEED

    def validate(self) -> None:
        checks: list[tuple[bool, str, str, str]] = [
            (self.method in METHODS, "method", "choice", f"method must be one of {', '.join(METHODS)}."),
            (
                self.fit_from is None or self.fit_to is None or self.fit_from <= self.fit_to,
                "fit_to",
                "date_order",
                "fit_to must be on or after fit_from.",
            ),
            (
                self.recency_half_life_days >= 0,
                "recency_half_life_days",
                "min",
                "recency_half_life_days must be >= 0.",
            ),
            (0 <= self.b_max <= 5, "b_max", "range", "b_max must be from 0 to 5."),
            (
                0 < self.terminal_decline < 1,
                "terminal_decline",
                "range",
                "terminal_decline must be in (0, 1).",
            ),
            (self.economic_limit > 0, "economic_limit", "min", "economic_limit must be above 0 m3/day."),
            (self.uptime is None or 0 < self.uptime <= 1, "uptime", "range", "uptime must be in (0, 1]."),
            (0 <= self.min_hours_on <= 24, "min_hours_on", "range", "min_hours_on must be from 0 to 24."),
            (self.resamples >= 0, "resamples", "min", "resamples must be >= 0."),
        ]
        for ok, name, rule, message in checks:
            if not ok:
                raise ForecastInputError(message, field=name, rule=rule)

    @property
    def dterm_per_day(self) -> float:
        # exponential: secant effective = tangent effective (conventions module)
        return conventions.nominal_from_tangent(self.terminal_decline) / conventions.DAYS_PER_YEAR


# --- one fitted model --------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """A fitted method: the decline of its phase (oil or liquid) and the water-oil ratio."""

    method: str  # "arps" (phase oil) or "fractional_flow" (phase liquid)
    t0: float
    anchor: float
    half_life: float
    decline: decline.DeclineFit
    wor: wor.WorModel
    points: ProducingDays
    weights: np.ndarray
    b_max: float

    @property
    def phase(self) -> str:
        return "oil" if self.method == "arps" else "liquid"


@dataclass(frozen=True)
class Params:
    """One model's parameters, or many (arrays of samples, shape (S, 1) to broadcast over time)."""

    ln_qi: np.ndarray
    dn: np.ndarray
    b: np.ndarray
    wor_a: np.ndarray
    wor_c: np.ndarray


def _recency(t: np.ndarray, *, anchor: float, half_life: float) -> np.ndarray:
    if half_life <= 0:
        return np.ones_like(t)
    return 0.5 ** ((anchor - t) / half_life)


def fit_method(
    *,
    method: str,
    history: History,
    window: ProducingDays,
    anchor: float,
    half_life: float,
    options: Options,
    x0: np.ndarray | None = None,
) -> Fitted:
    t0 = float(window.t[0])
    weights = _recency(window.t, anchor=anchor, half_life=half_life)
    phase = window.oil if method == "arps" else window.liquid
    fit = decline.fit(
        tau=window.t - t0,
        y=np.log(phase),
        weights=weights,
        b_max=options.b_max,
        dterm=options.dterm_per_day,
        x0=x0,
    )
    water_model = wor.fit(
        np_oil=history.cum_oil_at(window.t), oil=window.oil, water=window.water, t=window.t, weights=weights
    )
    return Fitted(
        method=method,
        t0=t0,
        anchor=anchor,
        half_life=half_life,
        decline=fit,
        wor=water_model,
        points=window,
        weights=weights,
        b_max=options.b_max,
    )


def _params(fitted: Fitted) -> Params:
    d = fitted.decline
    return Params(
        ln_qi=np.array(d.ln_qi + 0.5 * d.sigma**2),
        dn=np.array(d.dn),
        b=np.array(d.b),
        wor_a=np.array(fitted.wor.a),
        wor_c=np.array(fitted.wor.c),
    )


def rates(
    fitted: Fitted, params: Params, *, t: np.ndarray, history: History, uptime: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Producing-day oil and water rates and cumulative oil at days `t` (broadcast over params).

    Before the anchor the water-oil ratio is the model's at the well's actual cumulative oil;
    after it, cumulative oil grows with the forecast (calendar volumes: uptime applied).
    """
    dterm = fitted.decline.dterm
    # the build-up before the fit window carries the model's rates at the fit start
    t = np.maximum(t, fitted.t0)
    tau = t - fitted.t0
    tau_a = fitted.anchor - fitted.t0
    qi = np.exp(params.ln_qi)
    phase = decline.rate(tau, qi, params.dn, params.b, dterm)
    after = t > fitted.anchor
    np_anchor = float(history.cum_oil_at(fitted.anchor))
    np_hist = history.cum_oil_at(np.minimum(t, fitted.anchor))
    produced_phase = uptime * np.maximum(
        decline.cumulative(np.maximum(tau, tau_a), qi, params.dn, params.b, dterm)
        - decline.cumulative(np.asarray(tau_a), qi, params.dn, params.b, dterm),
        0.0,
    )
    with np.errstate(over="ignore"):
        if fitted.method == "arps":
            oil = phase
            cum = np.where(after, np_anchor + produced_phase, np_hist)
            ratio = np.exp(params.wor_a + params.wor_c * cum)
        else:
            w_anchor = np.exp(params.wor_a + params.wor_c * np_anchor)
            produced = wor.oil_produced(w_anchor=w_anchor, c=params.wor_c, liquid_volume=produced_phase)
            cum = np.where(after, np_anchor + produced, np_hist)
            ratio = np.exp(params.wor_a + params.wor_c * cum)
            oil = phase / (1.0 + ratio)
    return oil, oil * ratio, cum


# --- backtests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    held_out_from: date
    held_out_to: date
    records: int
    actual_cum_oil: float
    forecast_cum_oil: float
    cum_oil_error_pct: float
    monthly_rate_error_pct: float
    months: list[dict[str, object]]
    band: dict[str, float] | None = None

    @property
    def score(self) -> float:
        """What auto ranks candidates by: the mean of the two errors, in %."""
        return 0.5 * (abs(self.cum_oil_error_pct) + self.monthly_rate_error_pct)

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "held_out_from": self.held_out_from.isoformat(),
            "held_out_to": self.held_out_to.isoformat(),
            "records": self.records,
            "actual_cum_oil": round(self.actual_cum_oil, 3),
            "forecast_cum_oil": round(self.forecast_cum_oil, 3),
            "cum_oil_error_pct": round(self.cum_oil_error_pct, 3),
            "monthly_rate_error_pct": round(self.monthly_rate_error_pct, 3),
            "months": self.months,
        }
        if self.band is not None:
            body["forecast_cum_oil_band"] = self.band
        return body


def backtest(
    fitted: Fitted, *, history: History, until: float, samples: Params | None = None, seed: int = SEED
) -> Backtest | None:
    """The forecast made at the anchor against the records from the anchor to `until`.

    Forecast volumes use each held-out record's actual time on stream, so the error measures the
    decline model, not a guess of future downtime.
    """
    held = (history.start >= fitted.anchor) & (history.start < until)
    if not np.any(held):
        return None
    start, period, on = history.start[held], history.period_days[held], history.on_days[held]
    actual = np.maximum(history.oil[held], 0.0)
    uptime = float(on.sum() / period.sum()) if period.sum() > 0 else 1.0
    mid = start + period / 2
    oil, _, _ = rates(fitted, _params(fitted), t=mid, history=history, uptime=uptime)
    volumes = oil * on
    actual_total = float(actual.sum())
    forecast_total = float(volumes.sum())
    error = 100.0 * (forecast_total - actual_total) / actual_total if actual_total > 0 else 0.0

    months = (np.datetime64(history.origin, "D") + start.astype(np.int64)).astype("datetime64[M]")
    rows: list[dict[str, object]] = []
    errors = []
    for month in np.unique(months):
        inside = months == month
        days = float(period[inside].sum())
        a, f = float(actual[inside].sum()) / days, float(volumes[inside].sum()) / days
        rows.append({"month": str(month), "actual_rate": round(a, 3), "forecast_rate": round(f, 3)})
        if a > 0:
            errors.append(abs(f - a) / a)
    band = None
    if samples is not None:
        oil_s, _, _ = rates(fitted, samples, t=mid, history=history, uptime=uptime)
        # A prediction band for what the well actually made: each sample's parameters plus the
        # day-to-day scatter around the curve, resampled from the fit's residuals in blocks.
        d = fitted.decline
        rng = np.random.default_rng(seed)
        scatter = np.exp(d.residuals[_block_indices(rng, n=len(d.residuals), samples=oil_s.shape[0])])
        reps = -(-len(mid) // scatter.shape[1])
        scatter = np.tile(scatter, (1, reps))[:, : len(mid)] / d.mean_factor
        totals = (oil_s * on * scatter).sum(axis=1)
        p90, p50, p10 = np.percentile(totals, [10, 50, 90])
        band = {"p10": round(float(p10), 3), "p50": round(float(p50), 3), "p90": round(float(p90), 3)}
    last = int(np.flatnonzero(held)[-1])
    return Backtest(
        held_out_from=history.day(float(start[0])),
        held_out_to=history.day(float(history.start[last] + history.period_days[last] - 1)),
        records=int(held.sum()),
        actual_cum_oil=actual_total,
        forecast_cum_oil=forecast_total,
        cum_oil_error_pct=error,
        monthly_rate_error_pct=100.0 * float(np.mean(errors)) if errors else 0.0,
        months=rows,
        band=band,
    )


# --- uncertainty -------------------------------------------------------------------------


def _block_indices(rng: np.random.Generator, *, n: int, samples: int) -> np.ndarray:
    """Moving-block bootstrap indices: blocks of consecutive points (a month of daily reports,
    at most a twentieth of the series) keep the residuals' short-range correlation, such as a
    few weeks of a pump running badly, in each resample."""
    block = int(np.clip(n // 20, 1, 30))
    blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(samples, blocks))
    return (starts[:, :, None] + np.arange(block)).reshape(samples, -1)[:, :n]


def resample(fitted: Fitted, *, samples: int, seed: int, b_max: float) -> Params:
    rng = np.random.default_rng(seed)
    d = fitted.decline
    tau = fitted.points.t - fitted.t0
    y_fit = decline.log_rate(tau, d.ln_qi, d.dn, d.b, d.dterm)
    ys = y_fit + d.residuals[_block_indices(rng, n=len(tau), samples=samples)]
    theta = decline.refit_many(tau=tau, ys=ys, weights=fitted.weights, start=d, b_max=b_max)
    # Blocks land anywhere in the series, so the recent residuals (which weigh most under the
    # recency weighting) move to where they weigh little: when the model misfits the trend (a
    # rising liquid rate against a decline held at its lower bound) that biases every resample's
    # level. The level is centred on the fit's (the median resample has the fitted ln qi).
    theta[:, 0] += d.ln_qi - float(np.median(theta[:, 0]))
    w = fitted.wor
    if w.residuals is not None:
        a, c = wor.refit_many(w, w.residuals[_block_indices(rng, n=len(w.residuals), samples=samples)])
    else:
        a, c = np.full(samples, w.a), np.full(samples, w.c)
    return Params(
        ln_qi=(theta[:, 0] + 0.5 * d.sigma**2)[:, None],
        dn=np.exp(theta[:, 1])[:, None],
        b=theta[:, 2][:, None],
        wor_a=a[:, None],
        wor_c=c[:, None],
    )


# --- reserves ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reserves:
    eur: np.ndarray
    limit_t: np.ndarray  # days since origin; nan when not reached within the horizon


def reserves(fitted: Fitted, params: Params, *, history: History, uptime: float, limit: float) -> Reserves:
    """EUR: cumulative oil when the calendar-day oil rate falls to `limit`, found on a monthly
    grid and refined by interpolating ln(rate) inside the month it crosses."""
    # Monthly for 20 years, then quarterly: far out the rates change slowly.
    grid = fitted.anchor + np.concatenate(
        [np.arange(0, 240) * _GRID_STEP, np.arange(240, HORIZON_YEARS * 12 + 1, 3) * _GRID_STEP]
    )
    oil, _, cum = rates(fitted, params, t=grid, history=history, uptime=uptime)
    oil = np.atleast_2d(oil * uptime)
    cum = np.atleast_2d(cum)
    below = oil <= limit
    reached = below.any(axis=1)
    first = np.where(reached, below.argmax(axis=1), len(grid) - 1)
    rows = np.arange(oil.shape[0])
    before = np.maximum(first - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = np.log(np.maximum(oil[rows, before], 1e-300)), np.log(np.maximum(oil[rows, first], 1e-300))
        share = np.where(hi < lo, (lo - np.log(limit)) / (lo - hi), 0.0)
    share = np.clip(np.where(first == 0, 0.0, share), 0.0, 1.0)
    # already at or below the limit: it was reached by the last day of the fit window
    limit_t = np.where(first == 0, grid[0] - 1.0, grid[before] + share * (grid[first] - grid[before]))
    eur = cum[rows, before] + share * (cum[rows, first] - cum[rows, before])
    eur = np.where(first == 0, cum[rows, 0], eur)
    return Reserves(eur=eur, limit_t=np.where(reached, limit_t, np.nan))


# --- the forecast ------------------------------------------------------------------------


@dataclass
class Forecast:
    frame_days: np.ndarray  # datetime64[D] of the rows
    oil: np.ndarray  # calendar-day rates, m3/day, unrounded
    water: np.ndarray
    band: dict[str, np.ndarray]  # p10/p50/p90 calendar-day oil rate per row
    summary: dict[str, object] = field(default_factory=dict)
    fitted: Fitted | None = None
    producing: np.ndarray | None = None  # False on rows dated before the first record

    def frame(self) -> pd.DataFrame:
        """The five columns, rounded as the kernel rounds them (its invariants hold exactly)."""
        rows = kernel.published_rows(
            days=self.frame_days, liquid=self.oil + self.water, oil=self.oil, producing=self.producing
        )
        return pd.DataFrame({name: rows[name] for name in kernel.COLUMNS})


def _window(history: History, points: ProducingDays, options: Options) -> tuple[ProducingDays, float, str]:
    anchor = history.end
    if options.fit_to is not None:
        anchor = min(anchor, history.offset(options.fit_to) + 1.0)
    usable = points.select(points.t < anchor)
    if options.fit_from is not None:
        window = usable.select(usable.t >= history.offset(options.fit_from))
        reason = "fit_from as given"
    elif len(usable) >= MIN_PRODUCING_POINTS:
        first, reset = hist.default_window_start(usable)
        window = usable.select(np.arange(len(usable)) >= first)
        reason = (
            "the peak of the history"
            if reset is None
            else f"the peak after the rate reset on {history.day(float(usable.t[reset])).isoformat()}"
        )
    else:
        window = usable
        reason = ""
    if len(window) < MIN_PRODUCING_POINTS:
        field_name = (
            "fit_from" if options.fit_from is not None and len(usable) >= MIN_PRODUCING_POINTS else "well"
        )
        if options.fit_to is not None and field_name == "well":
            field_name = "fit_to"
        raise ForecastInputError(
            f"Too little history to fit: {len(window)} producing points in the fit window, "
            f"{MIN_PRODUCING_POINTS} needed (records with oil and at least "
            f"{options.min_hours_on:g} hours on stream).",
            field=field_name,
            rule="too_little_history",
        )
    return window, anchor, reason


def _candidates(options: Options) -> list[tuple[str, str, float]]:
    half_life = options.recency_half_life_days or DEFAULT_HALF_LIFE_DAYS
    return [
        ("arps", "arps", 0.0),
        (f"arps, half-life {half_life:g} days", "arps", half_life),
        (f"fractional_flow, half-life {half_life:g} days", "fractional_flow", half_life),
    ]


def _select(
    *, history: History, window: ProducingDays, anchor: float, options: Options
) -> tuple[str, float, dict[str, object]]:
    """Auto: backtest each candidate on the last part of the window; the smallest error wins."""
    duration = anchor - float(window.t[0])
    holdout = float(np.clip(HOLDOUT_SHARE * duration, HOLDOUT_MIN_DAYS, HOLDOUT_MAX_DAYS))
    split = anchor - holdout
    train = window.select(window.t < split)
    half_life = options.recency_half_life_days or DEFAULT_HALF_LIFE_DAYS
    if duration < 2 * HOLDOUT_MIN_DAYS or len(train) < 2 * MIN_PRODUCING_POINTS:
        return (
            "arps",
            half_life,
            {
                "candidates": [],
                "winner": f"arps, half-life {half_life:g} days",
                "reason": (
                    f"The fit window ({duration:.0f} days, {len(window)} producing points) is too short to hold "
                    f"out {HOLDOUT_MIN_DAYS:g} days for a backtest: the recency-weighted modified hyperbolic is used."
                ),
            },
        )
    results: list[dict[str, object]] = []
    best: tuple[float, str, str, float] | None = None
    for name, method, weight in _candidates(options):
        try:
            fitted = fit_method(
                method=method, history=history, window=train, anchor=split, half_life=weight, options=options
            )
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - scipy's own refusals
            results.append({"name": name, "skipped": str(exc)})
            continue
        if method == "fractional_flow" and fitted.wor.kind != "trend":
            results.append({"name": name, "skipped": "the water-oil ratio does not rise with cumulative oil"})
            continue
        test = backtest(fitted, history=history, until=anchor)
        assert test is not None  # the window has points after the split
        results.append(
            {
                "name": name,
                "method": method,
                "recency_half_life_days": weight,
                "score_pct": round(test.score, 3),
                "cum_oil_error_pct": round(test.cum_oil_error_pct, 3),
                "monthly_rate_error_pct": round(test.monthly_rate_error_pct, 3),
            }
        )
        if best is None or test.score < best[0]:
            best = (test.score, name, method, weight)
    assert best is not None
    score, name, method, weight = best
    others = [r for r in results if r["name"] != name and "score_pct" in r]
    against = "; ".join(f"{r['name']} {r['score_pct']:.1f} %" for r in others) or "no other candidate"
    reason = (
        f"{name} forecast the held-out {history.day(split).isoformat()} to {history.day(anchor - 1).isoformat()} "
        f"best: score {score:.1f} % (mean of the cumulative oil error and the monthly rate error), "
        f"against {against}."
    )
    selection: dict[str, object] = {
        "held_out_from": history.day(split).isoformat(),
        "held_out_to": history.day(anchor - 1).isoformat(),
        "candidates": results,
        "winner": name,
        "reason": reason,
    }
    return method, weight, selection


def check(*, history: History, options: Options) -> int:
    """Validate the options against the history without fitting: the producing points in the
    fit window, or ForecastInputError naming the field (the API's 422 before a run is queued)."""
    options.validate()
    points = hist.producing_days(history, min_on_fraction=options.min_hours_on / 24.0)
    window, _, _ = _window(history, points, options)
    return len(window)


def forecast(
    *,
    history: History,
    date_start: date,
    date_fin: date,
    lag: int,
    options: Options | None = None,
) -> Forecast:
    options = options or Options()
    options.validate()
    points = hist.producing_days(history, min_on_fraction=options.min_hours_on / 24.0)
    window, anchor, window_reason = _window(history, points, options)

    selection: dict[str, object] | None = None
    if options.method == "auto":
        method, half_life, selection = _select(history=history, window=window, anchor=anchor, options=options)
    else:
        method, half_life = options.method, options.recency_half_life_days
    fitted = fit_method(
        method=method, history=history, window=window, anchor=anchor, half_life=half_life, options=options
    )
    uptime = options.uptime if options.uptime is not None else history.uptime(until=anchor)
    best = _params(fitted)
    samples = (
        resample(fitted, samples=options.resamples, seed=options.seed, b_max=options.b_max)
        if options.resamples
        else None
    )

    days = np.arange(np.datetime64(date_start, "D"), np.datetime64(date_fin, "D") + 1, lag)
    t = (days - np.datetime64(history.origin, "D")).astype(np.float64) + 0.5
    # rows dated before the first record: the well was not producing yet
    producing = t >= 0.0
    oil, water, _ = rates(fitted, best, t=t, history=history, uptime=uptime)
    oil, water = np.where(producing, oil, 0.0), np.where(producing, water, 0.0)
    band = {
        name: np.where(producing, values, 0.0)
        for name, values in _band(fitted, samples, t=t, history=history, uptime=uptime).items()
    }

    limit = options.economic_limit
    best_reserves = reserves(fitted, best, history=history, uptime=uptime, limit=limit)
    cum_to_date = float(history.cum_oil_at(anchor))
    summary: dict[str, object] = {
        "method": method,
        "requested_method": options.method,
        "selection": selection,
        "parameters": _describe_parameters(fitted, best, history=history),
        "fit": {
            "from": history.day(fitted.t0).isoformat(),
            "to": history.day(anchor - 1).isoformat(),
            "window": window_reason,
            "points_used": len(window),
            "points_dropped": {
                **points.dropped,
                "outside_window": int(len(points) - len(window)),
            },
            "recency_half_life_days": half_life,
            "rmse_log_rate": round(fitted.decline.rmse, 6),
            "r2_log_rate": round(fitted.decline.r2, 6),
            "min_hours_on": options.min_hours_on,
        },
        "uptime": round(uptime, 6),
        "as_of": history.day(anchor - 1).isoformat(),
        "cum_oil_to_date": round(cum_to_date, 3),
        "economic_limit": limit,
        **_reserve_fields(best_reserves, cum_to_date=cum_to_date, history=history),
        "uncertainty": None,
        "backtest": None,
    }
    if samples is not None:
        many = reserves(fitted, samples, history=history, uptime=uptime, limit=limit)
        summary["uncertainty"] = {
            "resamples": options.resamples,
            "seed": options.seed,
            "method": "moving-block bootstrap of the fit's log-rate residuals, each resample refitted",
            "eur": _percentiles(many.eur),
            "remaining": _percentiles(np.maximum(many.eur - cum_to_date, 0.0)),
        }
    if anchor < history.end:
        test = backtest(fitted, history=history, until=history.end, samples=samples, seed=options.seed + 1)
        summary["backtest"] = test.as_dict() if test is not None else None
    return Forecast(
        frame_days=days,
        oil=oil * uptime,
        water=water * uptime,
        band=band,
        summary=summary,
        fitted=fitted,
        producing=producing,
    )


def _band(
    fitted: Fitted, samples: Params | None, *, t: np.ndarray, history: History, uptime: float
) -> dict[str, np.ndarray]:
    if samples is None:
        return {}
    parts: list[np.ndarray] = []
    for chunk in np.array_split(t, max(1, math.ceil(len(t) / _BAND_CHUNK))):
        oil, _, _ = rates(fitted, samples, t=chunk, history=history, uptime=uptime)
        parts.append(np.percentile(oil * uptime, [90, 50, 10], axis=0))
    p10, p50, p90 = np.concatenate(parts, axis=1)
    return {"p10": p10, "p50": p50, "p90": p90}


def _percentiles(values: np.ndarray) -> dict[str, float]:
    """P10 is the optimistic case (exceeded with 10 % probability): the 90th percentile."""
    p90, p50, p10 = np.percentile(values, [10, 50, 90])
    return {"p10": round(float(p10), 3), "p50": round(float(p50), 3), "p90": round(float(p90), 3)}


def _reserve_fields(result: Reserves, *, cum_to_date: float, history: History) -> dict[str, object]:
    eur = float(result.eur[0]) if result.eur.ndim else float(result.eur)
    limit_t = float(np.ravel(result.limit_t)[0])
    return {
        "eur": round(eur, 3),
        "remaining": round(max(eur - cum_to_date, 0.0), 3),
        "economic_limit_date": None if math.isnan(limit_t) else history.day(limit_t).isoformat(),
        "economic_limit_reached": not math.isnan(limit_t),
    }


def _describe_parameters(fitted: Fitted, params: Params, *, history: History) -> dict[str, object]:
    d = fitted.decline
    dn_year = d.dn * conventions.DAYS_PER_YEAR
    terminal_nominal = d.dterm * conventions.DAYS_PER_YEAR
    starts = decline.terminal_start(d.dn, d.b, d.dterm)
    within = fitted.t0 + starts <= fitted.anchor + HORIZON_YEARS * conventions.DAYS_PER_YEAR
    return {
        "phase": fitted.phase,
        "qi": round(float(np.exp(params.ln_qi)), 6),
        "qi_date": history.day(fitted.t0).isoformat(),
        "di_nominal": round(dn_year, 6),
        "di_secant_effective": round(conventions.secant_from_nominal(dn_year, b=d.b), 6),
        "b": round(d.b, 6),
        # a b at its upper bound usually means the window mixes flow regimes
        "b_at_bound": bool(fitted.b_max > 0 and d.b >= 0.999 * fitted.b_max),
        "terminal_decline_secant_effective": round(conventions.tangent_from_nominal(terminal_nominal), 6),
        "terminal_decline_nominal": round(terminal_nominal, 6),
        # null: not within the forecast horizon (or never, for an exponential)
        "terminal_starts_on": history.day(fitted.t0 + starts).isoformat() if within else None,
        "water_cut_model": fitted.wor.describe(),
    }
