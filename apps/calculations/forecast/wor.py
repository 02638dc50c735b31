"""The water-oil ratio model: ln(WOR) linear in cumulative oil.

Late in a water-drive well's life ln(WOR) against cumulative oil Np is close to a straight
line, `ln WOR = a + c Np`. The forecast follows it from an anchor (the end of the fit window,
where the model's WOR is `w_a`) as oil accumulates: `WOR = w_a exp(c (Np - Np_a))`. `c` is kept
>= 0: a falling water cut is not extrapolated. With too few points with water the ratio is held
at its recent level; a well that made no water makes none.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

MIN_WOR_POINTS = 10
# The recent level of a held ratio: the last 90 days of the window.
RECENT_DAYS = 90.0


@dataclass(frozen=True)
class WorModel:
    kind: str  # "trend", "constant" or "none"
    a: float  # ln WOR at Np = 0 (trend), ln WOR (constant), -inf (none)
    c: float  # per m3 of cumulative oil; 0 unless a trend
    points: int
    f_scale: float = 0.1
    design: np.ndarray | None = None  # for resampling: the points' Np
    residuals: np.ndarray | None = None
    weights: np.ndarray | None = None  # recency x robust weights at the optimum

    def describe(self) -> dict[str, object]:
        if self.kind == "none":
            return {"kind": "none", "points": self.points}
        return {
            "kind": self.kind,
            "ln_wor_intercept": self.a,
            "ln_wor_slope_per_1000_m3": self.c * 1000.0,
            "points": self.points,
        }


def fit(
    *, np_oil: np.ndarray, oil: np.ndarray, water: np.ndarray, t: np.ndarray, weights: np.ndarray
) -> WorModel:
    """Fit to producing points: cumulative oil at each, their oil and water rates and times."""
    wet = (water > 0) & (oil > 0)
    if not np.any(wet):
        return WorModel(kind="none", a=-np.inf, c=0.0, points=0)
    if wet.sum() < MIN_WOR_POINTS:
        recent = t >= t.max() - RECENT_DAYS
        ratio = water[recent].sum() / max(oil[recent].sum(), 1e-12)
        if ratio <= 0:
            return WorModel(kind="none", a=-np.inf, c=0.0, points=int(wet.sum()))
        return WorModel(kind="constant", a=float(np.log(ratio)), c=0.0, points=int(wet.sum()))
    x, y, w = np_oil[wet], np.log(water[wet] / oil[wet]), weights[wet]
    scale = max(float(x.max() - x.min()), 1.0)
    root_w = np.sqrt(w)
    slope, intercept = np.polyfit(x / scale, y, 1, w=root_w)
    line = intercept + slope * x / scale
    f_scale = max(float(1.4826 * np.median(np.abs(y - line))), 0.02)

    def residual(theta: np.ndarray) -> np.ndarray:
        return root_w * (theta[0] + theta[1] * x / scale - y)

    design = np.stack([np.ones_like(x), x / scale], axis=1)
    result = least_squares(
        residual,
        np.array([intercept, max(slope, 0.0)]),
        jac=lambda theta: root_w[:, None] * design,
        bounds=([-np.inf, 0.0], [np.inf, np.inf]),
        loss="soft_l1",
        f_scale=f_scale,
    )
    a, c_scaled = result.x
    if c_scaled < 1e-6:  # at its bound: the ratio over the window's oil does not rise
        c_scaled = 0.0
    residuals = y - (a + c_scaled * x / scale)
    robust = 1.0 / np.sqrt(1.0 + w * (residuals / f_scale) ** 2)
    return WorModel(
        kind="trend" if c_scaled > 0 else "constant",
        a=float(a),
        c=float(c_scaled / scale),
        points=int(wet.sum()),
        f_scale=f_scale,
        design=x,
        residuals=residuals,
        weights=w * robust,
    )


def refit_many(model: WorModel, resampled_residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, c) for each row of resampled residuals: weighted least squares with the optimum's
    robust weights, one matrix product for all samples; c kept >= 0."""
    assert model.design is not None and model.residuals is not None and model.weights is not None
    x = model.design
    scale = max(float(x.max() - x.min()), 1.0)
    design = np.stack([np.ones_like(x), x / scale], axis=1)
    y = (model.a + model.c * x)[None, :] + resampled_residuals
    weighted = design * model.weights[:, None]
    solution = np.linalg.solve(weighted.T @ design, weighted.T @ y.T)  # 2 x samples
    return solution[0], np.maximum(solution[1], 0.0) / scale


def oil_produced(*, w_anchor: np.ndarray, c: np.ndarray, liquid_volume: np.ndarray) -> np.ndarray:
    """Oil produced beyond the anchor while `liquid_volume` m3 of liquid is produced.

    dNp = dL / (1 + WOR(Np)) with WOR = w_a exp(c n) integrates to
    n + (w_a / c) (exp(c n) - 1) = L. With exp(c n) = 1 + d this is w_a d + ln(1 + d) = c L,
    solved for d by Newton's method (concave and increasing, so from d = c L / (1 + w_a), a
    point left of the root, the iterates rise monotonically to it), then n = L - w_a d / c.
    """
    w_anchor, c, liquid_volume = np.broadcast_arrays(w_anchor, c, liquid_volume)
    flat = c < 1e-15
    safe_c = np.where(flat, 1.0, c)
    target = safe_c * liquid_volume
    d = target / (1.0 + w_anchor)
    for _ in range(60):
        f = w_anchor * d + np.log1p(d) - target
        step = f / (w_anchor + 1.0 / (1.0 + d))
        d = d - step
        if np.all(np.abs(step) <= 1e-13 * (1.0 + np.abs(d))):
            break
    steady = liquid_volume / (1.0 + w_anchor)
    return np.where(flat, steady, np.maximum(liquid_volume - w_anchor * d / safe_c, 0.0))
