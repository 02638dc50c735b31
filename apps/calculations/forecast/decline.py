"""The modified hyperbolic decline (Robertson, SPE-18731): its rates, cumulatives and fit.

Time `tau` is in days from the start of the fit window, rates in volume per producing day,
declines nominal per *day* inside this module (the public parameters are per year; see
`conventions`). Every function broadcasts over its parameters, so the same code evaluates one
model or the 200 resampled models of the uncertainty band at once.

The model is hyperbolic, `q = qi (1 + b Dn tau)^(-1/b)`, until its instantaneous decline
`Dn / (1 + b Dn tau)` falls to the terminal decline `Dt`, then exponential at `Dt`. It is
petbox-dca's `MH` (tests pin rates and cumulatives to it); a fitted `Dn` at or below `Dt` has
no hyperbolic part and stays exponential at `Dn` (petbox refuses such a pair), which keeps the
fit's objective continuous across `Dn = Dt`.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from apps.calculations.forecast.conventions import B_EPSILON, DAYS_PER_YEAR

# A parameter: one model's (a float) or many models' (an array of samples x 1).
Param = np.ndarray | float

# Bounds of the fitted nominal decline, per day: 0.01 %/year (practically flat) to 5000 %/year.
DN_MIN = 1e-4 / DAYS_PER_YEAR
DN_MAX = 50.0 / DAYS_PER_YEAR
# least_squares needs lower < upper: a b_max of 0 (exponential only) gets this sliver.
_B_SLIVER = 1e-12


def _terminal(dn: Param, b: Param, dterm: float) -> tuple[np.ndarray, np.ndarray]:
    """The terminal decline in effect and the time it starts (days; inf: never)."""
    dt = np.minimum(dterm, dn)
    hyperbolic = (b > B_EPSILON) & (dn > dt) & (dt > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        start = np.where(
            hyperbolic, (1.0 / np.where(dt > 0, dt, 1.0) - 1.0 / dn) / np.where(b > 0, b, 1.0), np.inf
        )
    # No hyperbolic part: an exponential from the start (at dn, which equals dt when dn <= dterm).
    start = np.where((dn <= dt) & (dt > 0), 0.0, start)
    return dt, start


def _hyperbolic_log_drop(s: np.ndarray, dn: Param, b: Param) -> np.ndarray:
    """ln(qi / q(s)) on the hyperbolic segment."""
    exponential = np.abs(b) <= B_EPSILON
    safe_b = np.where(exponential, 1.0, b)
    return np.where(exponential, dn * s, np.log1p(safe_b * dn * s) / safe_b)


# log1p(b x) / b is exact to rounding for any b > 0, and within b x / 2 (relative) of the
# exponential's x below it: a floor of 1e-15 on b lets one expression serve every sample.
_B_FLOOR = 1e-15


def log_rate(tau: np.ndarray, ln_qi: Param, dn: Param, b: Param, dterm: float) -> np.ndarray:
    """ln q(tau) of the modified hyperbolic; tau >= 0.

    Written as a few in-place passes over the (samples x points) array with every branch folded
    into per-sample coefficients: the resampling refits call it for 200 series at once.
    """
    dt, start = _terminal(np.asarray(dn, dtype=float), np.asarray(b, dtype=float), dterm)
    b_safe = np.maximum(b, _B_FLOOR)
    # Usually every model is still hyperbolic over all of `tau` (the terminal segment starts
    # years after a fit window ends): then the terminal passes are skipped.
    hyperbolic_only = bool(np.all(start >= np.max(tau, initial=0.0)))
    drop = np.multiply(tau, b_safe * dn) if hyperbolic_only else np.minimum(tau, start) * (b_safe * dn)
    np.log1p(drop, out=drop)
    drop /= b_safe
    if not hyperbolic_only:
        tail = tau - np.where(np.isfinite(start), start, 0.0)
        np.maximum(tail, 0.0, out=tail)
        tail *= np.where(np.isfinite(start), dt, 0.0)
        drop += tail
    return (
        np.subtract(ln_qi, drop, out=drop)
        if drop.shape == np.broadcast_shapes(drop.shape, np.shape(ln_qi))
        else ln_qi - drop
    )


def rate(tau: np.ndarray, qi: Param, dn: Param, b: Param, dterm: float) -> np.ndarray:
    return np.exp(log_rate(tau, np.log(qi), dn, b, dterm))


def cumulative(tau: np.ndarray, qi: Param, dn: Param, b: Param, dterm: float) -> np.ndarray:
    """Volume produced from 0 to tau (rate x producing days)."""
    dt, start = _terminal(dn, b, dterm)
    s = np.minimum(tau, start)
    x = dn * s
    exponential = np.abs(b) <= B_EPSILON
    harmonic = np.abs(1.0 - b) < 1e-10
    safe_b = np.where(exponential | harmonic, 0.5, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        general = -qi / ((1.0 - safe_b) * dn) * np.expm1((1.0 - 1.0 / safe_b) * np.log1p(safe_b * x))
    hyperbolic = np.where(
        exponential, -qi / dn * np.expm1(-x), np.where(harmonic, qi / dn * np.log1p(x), general)
    )
    q_start = qi * np.exp(-_hyperbolic_log_drop(np.where(np.isfinite(start), start, 0.0), dn, b))
    tail = np.where(
        tau > start, -q_start / np.where(dt > 0, dt, 1.0) * np.expm1(-dt * np.maximum(tau - start, 0.0)), 0.0
    )
    return hyperbolic + tail


def terminal_start(dn: float, b: float, dterm: float) -> float:
    """Days from the window start to the terminal segment (inf: never)."""
    return float(_terminal(np.asarray(dn), np.asarray(b), dterm)[1])


def jacobian(tau: np.ndarray, ln_qi: Param, dn: Param, b: Param, dterm: float) -> np.ndarray:
    """d ln q / d(ln qi, ln Dn, b), shape (..., 3).

    The terminal start moves with Dn and b, but ln q is smooth across it (the two segments meet
    with the same slope), so its own derivative drops out: past the start the derivatives are
    those of the hyperbolic at the start. A model with no hyperbolic part (Dn <= Dt) is the
    exponential at Dn from its start.
    """
    dn, b = np.asarray(dn, dtype=float), np.asarray(b, dtype=float)
    _, start = _terminal(dn, b, dterm)
    exponential_only = np.isfinite(start) & (start == 0.0)
    x = np.minimum(tau, start)
    x *= dn
    bx = b * x
    d_ln_dn = -x / (1.0 + bx) - np.where(exponential_only, dn, 0.0) * tau
    # d/db of -ln(1 + b x) / b; its closed form cancels catastrophically as b x -> 0, where the
    # series takes over (per model: a model's b decides for all its points).
    series = b < 1e-3
    b_safe = np.where(series, 1.0, b)
    d_b = np.log1p(bx) / (b_safe * b_safe) - x / (b_safe * (1.0 + bx))
    if np.any(series):
        d_b = np.where(series, x * x * (0.5 - (2.0 / 3.0) * bx + 0.75 * bx * bx), d_b)
    return np.stack(np.broadcast_arrays(np.ones_like(d_b), d_ln_dn, d_b), axis=-1)


@dataclass(frozen=True)
class DeclineFit:
    """A fitted modified hyperbolic: `qi` is the fit's median rate at tau = 0 (volume/day)."""

    ln_qi: float
    dn: float  # nominal, per day
    b: float
    dterm: float  # nominal, per day
    f_scale: float  # the robust loss's scale (log-rate units)
    sigma: float  # robust spread of the log-rate residuals
    rmse: float
    r2: float
    irls_weights: np.ndarray  # the robust loss's weight per point at the optimum
    residuals: np.ndarray
    points: int
    evaluations: int

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.ln_qi, np.log(self.dn), self.b])

    @property
    def mean_factor(self) -> float:
        """exp(sigma^2 / 2): the fit of log rates finds the median; volumes need the mean."""
        return float(np.exp(0.5 * self.sigma**2))


def _robust_scale(residuals: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(residuals - np.median(residuals))))


def _bounds(b_max: float, dterm: float) -> tuple[np.ndarray, np.ndarray]:
    lower = np.array([-np.inf, np.log(DN_MIN), 0.0])
    upper = np.array([np.inf, np.log(DN_MAX), max(b_max, _B_SLIVER)])
    return lower, upper


def initial_guess(tau: np.ndarray, y: np.ndarray, weights: np.ndarray, *, b_max: float) -> np.ndarray:
    slope, intercept = np.polyfit(tau, y, 1, w=np.sqrt(weights))
    dn = float(np.clip(-slope, 2 * DN_MIN, DN_MAX / 2))
    return np.array([intercept, np.log(dn), min(0.5, b_max / 2)])


def fit(
    *,
    tau: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    b_max: float,
    dterm: float,
    x0: np.ndarray | None = None,
) -> DeclineFit:
    """Robust (soft L1) weighted least squares of log rates `y` at days `tau`."""
    start = initial_guess(tau, y, weights, b_max=b_max) if x0 is None else x0.copy()
    lower, upper = _bounds(b_max, dterm)
    start = np.clip(start, lower, upper)
    root_w = np.sqrt(weights)
    # The loss's scale: the noise level seen around a straight line through the log rates, a
    # little over-estimated for a curved decline, which only makes the loss more quadratic.
    line = np.polyval(np.polyfit(tau, y, 1, w=root_w), tau)
    f_scale = max(_robust_scale(y - line), 0.01)

    def residual(theta: np.ndarray) -> np.ndarray:
        return root_w * (log_rate(tau, theta[0], np.exp(theta[1]), theta[2], dterm) - y)

    def jac(theta: np.ndarray) -> np.ndarray:
        return root_w[:, None] * jacobian(tau, theta[0], np.exp(theta[1]), theta[2], dterm)

    result = least_squares(
        residual, start, jac=jac, bounds=(lower, upper), loss="soft_l1", f_scale=f_scale, x_scale="jac"
    )
    theta = result.x
    if np.exp(theta[1]) <= dterm:
        # no hyperbolic part: b has no effect on the curve, report the exponential it is
        theta = np.array([theta[0], theta[1], 0.0])
    model = log_rate(tau, theta[0], np.exp(theta[1]), theta[2], dterm)
    residuals = y - model
    z = (root_w * residuals / f_scale) ** 2
    total = float(np.sum((y - y.mean()) ** 2))
    return DeclineFit(
        ln_qi=float(theta[0]),
        dn=float(np.exp(theta[1])),
        b=float(theta[2]) if theta[2] > _B_SLIVER * 2 else 0.0,
        dterm=dterm,
        f_scale=f_scale,
        sigma=_robust_scale(residuals),
        rmse=float(np.sqrt(np.mean(residuals**2))),
        r2=1.0 - float(np.sum(residuals**2)) / total if total > 0 else 0.0,
        irls_weights=1.0 / np.sqrt(1.0 + z),
        residuals=residuals,
        points=len(tau),
        evaluations=int(result.nfev),
    )


def refit_many(
    *,
    tau: np.ndarray,
    ys: np.ndarray,
    weights: np.ndarray,
    start: DeclineFit,
    b_max: float,
    iterations: int = 8,
    polish: int = 2,
) -> np.ndarray:
    """Refit many resampled series `ys` (samples x points) at once, warm-started at `start`.

    Each resample is the fitted problem with other residuals: weighted least squares of log
    rates, with the soft L1 loss's weights at the optimum. Gauss-Newton with the Jacobian frozen
    at the fitted parameters (the chord method) gets close in a few steps, each one model
    evaluation over samples x points and one matrix product; `polish` full Gauss-Newton steps
    (every sample's own Jacobian) then land on each resample's own optimum. All of it is a few
    array passes instead of one `least_squares` call per sample. Returns (samples x 3) of
    (ln qi, ln Dn, b).
    """
    lower, upper = _bounds(b_max, start.dterm)
    theta0 = start.theta
    w = weights * start.irls_weights
    jac = jacobian(tau, theta0[0], np.exp(theta0[1]), theta0[2], start.dterm)
    weighted = jac * w[:, None]
    normal = weighted.T @ jac
    # b pinned at a bound (often 0) leaves its column zero: keep the system solvable.
    ridge = 1e-12 * max(float(np.trace(normal)), 1e-300)
    projector = np.linalg.solve(normal + ridge * np.eye(3), weighted.T)  # 3 x points
    theta = np.tile(theta0, (ys.shape[0], 1))
    for _ in range(iterations):
        residual = ys - log_rate(tau, theta[:, :1], np.exp(theta[:, 1:2]), theta[:, 2:3], start.dterm)
        step = residual @ projector.T
        theta = _descend(theta, step, ys=ys, tau=tau, w=w, dterm=start.dterm, lower=lower, upper=upper)
        # close enough for the full Gauss-Newton steps below to converge quadratically
        if np.max(np.abs(step)) < 1e-4:
            break
    for _ in range(polish):
        ln_qi, dn, b = theta[:, :1], np.exp(theta[:, 1:2]), theta[:, 2:3]
        residual = ys - log_rate(tau, ln_qi, dn, b, start.dterm)
        j = jacobian(tau, ln_qi, dn, b, start.dterm)
        # J^T W J and J^T W r per sample; column 0 of J is 1
        j1, j2 = j[..., 1], j[..., 2]
        wj1, wj2 = w * j1, w * j2
        sums = np.stack(
            [
                np.full(len(theta), w.sum()),
                wj1.sum(1),
                wj2.sum(1),
                (wj1 * j1).sum(1),
                (wj1 * j2).sum(1),
                (wj2 * j2).sum(1),
            ],
            axis=1,
        )
        normal_s = sums[:, [0, 1, 2, 1, 3, 4, 2, 4, 5]].reshape(-1, 3, 3) + ridge * np.eye(3)
        gradient = np.stack([residual @ w, (wj1 * residual).sum(1), (wj2 * residual).sum(1)], axis=1)
        step = np.linalg.solve(normal_s, gradient[..., None])[..., 0]
        theta = _descend(theta, step, ys=ys, tau=tau, w=w, dterm=start.dterm, lower=lower, upper=upper)
    return theta


def _descend(
    theta: np.ndarray,
    step: np.ndarray,
    *,
    ys: np.ndarray,
    tau: np.ndarray,
    w: np.ndarray,
    dterm: float,
    lower: np.ndarray,
    upper: np.ndarray,
    halvings: int = 30,
) -> np.ndarray:
    """Each sample's step, halved until its weighted sum of squares does not rise.

    Near the lower bound of Dn (a flat liquid rate) the log-rate barely moves with ln Dn, so an
    undamped Gauss-Newton step in ln Dn overshoots by orders of magnitude (to a decline of 50 %
    a day); a sample whose step never improves keeps its parameters."""

    def sse(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        r = ys[rows] - log_rate(tau, values[:, :1], np.exp(values[:, 1:2]), values[:, 2:3], dterm)
        return (w * r**2).sum(axis=1)

    current = sse(theta, np.arange(len(theta)))
    result = theta.copy()
    pending = np.ones(len(theta), dtype=bool)
    scale = 1.0
    for _ in range(halvings):
        candidate = np.clip(theta[pending] + scale * step[pending], lower, upper)
        better = sse(candidate, np.flatnonzero(pending)) <= current[pending] * (1 + 1e-12)
        rows = np.flatnonzero(pending)
        result[rows[better]] = candidate[better]
        pending[rows[better]] = False
        if not pending.any():
            break
        scale /= 2
    return result
