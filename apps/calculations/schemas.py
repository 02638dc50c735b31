"""API schemas: what clients send (`*In`) and what they get back (`*Out`), kept apart."""

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, StrictInt, WithJsonSchema
from pydantic_core import PydanticCustomError

from apps.calculations.models import LAG_MAX, LAG_MIN, NAME_MAX_LENGTH, Calculation
from apps.core.formatting import DateInputError, parse_iso_date
from apps.core.schemas import (
    ListQuery,
    PageOut,
    SearchFilter,
    UtcDateTime,
    status_filter_description,
    status_filter_type,
)
from apps.jobs.schemas import CREATED_BY_DESCRIPTION, ActorOut, CreatedByFilter, JobStatusName, actor_out

Ordering = Literal["launched_at", "-launched_at"]


def _strict_date(value: Any) -> date:
    try:
        return parse_iso_date(value, field="date")
    except DateInputError as exc:
        raise PydanticCustomError(exc.rule, "Must be a real calendar date in the format YYYY-MM-DD.") from exc


# Exactly "YYYY-MM-DD": pydantic alone would also take unix timestamps and datetimes.
IsoDate = Annotated[
    date,
    BeforeValidator(_strict_date),
    WithJsonSchema({"type": "string", "format": "date", "example": "2024-01-01"}),
]


class ForecastModelIn(Schema):
    """A well run's decline-curve model; every key optional (the defaults are documented in
    docs/reference/forecasts.md)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["auto", "arps", "fractional_flow"] | None = Field(
        None,
        description="`auto` (default): the candidates below backtested on the last part of the fit window, "
        "the smallest error wins; `arps`: the modified hyperbolic (exponential to harmonic and beyond, "
        "b in [0, b_max], then the terminal exponential decline) fitted to oil; `fractional_flow`: the same "
        "decline fitted to liquid, times 1 - water cut, the water cut from the line of ln(water-oil ratio) "
        "against cumulative oil.",
    )
    fit_from: IsoDate | None = Field(
        None, description="First day of the fit window (default: the peak after the last rate reset)."
    )
    fit_to: IsoDate | None = Field(
        None,
        description="Last day of the fit window (default: the end of the history); history after it is held "
        "out and the forecast is backtested against it.",
    )
    recency_half_life_days: float | None = Field(
        None,
        ge=0,
        le=36_525,
        description="Days after which a point's weight in the fit halves (default 365; 0: all points alike).",
    )
    b_max: float | None = Field(
        None, ge=0, le=5, description="Upper bound of the hyperbolic exponent b (default 1.5)."
    )
    terminal_decline: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Terminal decline, secant effective per year as a fraction (default 0.06, i.e. 6 %/year).",
    )
    economic_limit: float | None = Field(
        None, gt=0, description="Economic limit, m3/day of oil per calendar day (default 1)."
    )
    uptime: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Fraction of calendar time on stream in the forecast (default: the last 365 days' before the "
        "end of the fit window).",
    )
    min_hours_on: float | None = Field(
        None,
        ge=0,
        le=24,
        description="Days with fewer hours on stream are left out of the fit (default 12; monthly history: the "
        "same fraction of the month).",
    )


class CalculationCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date_start: IsoDate = Field(description="First day, YYYY-MM-DD.")
    date_fin: IsoDate = Field(description="Last day (inclusive), YYYY-MM-DD, not before date_start.")
    lag: StrictInt = Field(ge=LAG_MIN, le=LAG_MAX, description="Days between two result rows.", examples=[7])
    name: str | None = Field(
        None,
        max_length=NAME_MAX_LENGTH,
        description="Optional label; defaults to a readable summary of the inputs.",
    )
    well: StrictInt | None = Field(
        None,
        ge=1,
        description="A well's id: the run forecasts its production history by decline-curve analysis "
        "instead of the synthetic kernel.",
    )
    model: ForecastModelIn | None = Field(None, description="The forecast's options; only with `well`.")


class CalculationCreatedOut(Schema):
    id: int


class WellsForecastIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[StrictInt] = Field(
        ..., min_length=1, max_length=1000, description="Wells to forecast: one run per well, in this order."
    )
    date_start: IsoDate = Field(description="First day of the rows, YYYY-MM-DD.")
    date_fin: IsoDate = Field(description="Last day (inclusive), YYYY-MM-DD, not before date_start.")
    lag: StrictInt = Field(ge=LAG_MIN, le=LAG_MAX, description="Days between two result rows.", examples=[30])
    model: ForecastModelIn | None = Field(
        None, description="The forecast's options, the same for every well."
    )


class WellsForecastOut(Schema):
    ids: list[int] = Field(description="The runs' ids, one per well in the order given.")


class CalculationListItemOut(Schema):
    id: int
    name: str
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    status: JobStatusName
    pinned: bool = Field(description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        description="Who queued it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(
        None, description="Who cancelled it; absent unless cancelled by someone."
    )

    @staticmethod
    def resolve_created_by(obj: Any) -> dict | None:
        return actor_out(obj.created_by, token=obj.created_by_token)

    @staticmethod
    def resolve_cancelled_by(obj: Any) -> dict | None:
        return actor_out(obj.cancelled_by)


if TYPE_CHECKING:
    StatusFilter = list[str] | None  # what the parameter holds; its schema is built at import
else:
    StatusFilter = status_filter_type(Calculation)


class CalculationListQuery(ListQuery):
    ordering: Ordering = Field("-launched_at", description="By launch date, ascending or descending.")
    status: StatusFilter = Field(None, description=status_filter_description(Calculation))
    search: SearchFilter = Field(None, description="Only runs whose name contains this, case-insensitively.")
    created_by: CreatedByFilter = Field(None, description=CREATED_BY_DESCRIPTION)


class CalculationListOut(PageOut):
    """A page of runs; `count` and `pages` cover every run the filters keep."""

    results: list[CalculationListItemOut]


Day = date  # a field named `date` cannot be annotated with the name it hides


class CalculationRowOut(Schema):
    """One result row. The units are stated here once (the CSV header carries only names)."""

    date: Day = Field(description="Day of the row, YYYY-MM-DD.")
    liquid: float = Field(description="Liquid rate, m3/day (oil + water).")
    oil: float = Field(description="Oil rate, m3/day.")
    water: float = Field(description="Water rate, m3/day.")
    wct: float = Field(description="Water cut, a fraction from 0 to 1 (water / liquid).")


class CalculationSummaryOut(Schema):
    """Figures of a finished run's rows, computed by PostgreSQL (`?fields=summary`).

    Each row stands for the days until the next row (`lag`), the last row only up to
    `date_fin` inclusive, so the cumulative volumes cover exactly the run's period.
    """

    rows: int = Field(description="Number of result rows.")
    first_date: date = Field(description="Date of the first row, YYYY-MM-DD.")
    last_date: date = Field(description="Date of the last row, YYYY-MM-DD.")
    cumulative_oil: float = Field(description="Cumulative oil, m3: oil rate x step days, summed.")
    cumulative_water: float = Field(description="Cumulative water, m3: water rate x step days, summed.")
    cumulative_liquid: float = Field(description="Cumulative liquid, m3: liquid rate x step days, summed.")
    wct_first: float = Field(description="Water cut of the first row, fraction 0-1.")
    wct_last: float = Field(description="Water cut of the last row, fraction 0-1.")
    wct_mean: float = Field(description="Mean water cut over the rows, fraction 0-1.")
    peak_liquid: float = Field(description="Highest liquid rate, m3/day.")
    peak_liquid_date: date = Field(description="First date the highest liquid rate occurs, YYYY-MM-DD.")
    oil_decline: float | None = Field(
        description="Decline of the oil rate over the period, % of the first row's oil rate: "
        "(first - last) / first x 100 (negative when it rose; null when the first rate is 0)."
    )


class Percentiles(Schema):
    """P10 is the optimistic case (a 10 % chance of more), P90 the conservative one."""

    p10: float
    p50: float
    p90: float


class ForecastCandidateOut(Schema):
    name: str
    method: str | None = None
    recency_half_life_days: float | None = Field(None, description="Days.")
    score_pct: float | None = Field(
        None, description="Mean of |cum_oil_error_pct| and monthly_rate_error_pct, %."
    )
    cum_oil_error_pct: float | None = Field(
        None, description="(forecast - actual) / actual cumulative oil, %."
    )
    monthly_rate_error_pct: float | None = Field(None, description="Mean absolute error of monthly rates, %.")
    skipped: str | None = Field(None, description="Why the candidate was not tried.")


class ForecastSelectionOut(Schema):
    held_out_from: date | None = None
    held_out_to: date | None = None
    candidates: list[ForecastCandidateOut]
    winner: str
    reason: str


class ForecastParametersOut(Schema):
    phase: Literal["oil", "liquid"] = Field(description="The rate the decline was fitted to.")
    qi: float = Field(description="Rate at qi_date, m3 per producing day (a mean rate).")
    qi_date: date = Field(description="Start of the fit window, where tau = 0.")
    di_nominal: float = Field(description="Initial decline, nominal, 1/year (slope of -ln q).")
    di_secant_effective: float = Field(description="Initial decline, secant effective, fraction per year.")
    b: float = Field(description="Hyperbolic exponent (0 exponential, 1 harmonic).")
    b_at_bound: bool = Field(description="b reached b_max: the window may mix flow regimes.")
    terminal_decline_secant_effective: float = Field(description="Fraction per year.")
    terminal_decline_nominal: float = Field(description="1/year.")
    terminal_starts_on: date | None = Field(
        description="When the decline turns exponential (null: not within 100 years of as_of)."
    )
    water_cut_model: dict[str, Any] = Field(
        description="kind `trend` (ln WOR = ln_wor_intercept + ln_wor_slope_per_1000_m3 x cumulative oil in "
        "1000 m3), `constant` (ln WOR = ln_wor_intercept) or `none` (no water), and its points."
    )


class ForecastFitOut(Schema):
    from_: date = Field(alias="from", description="First day of the fit window.")
    to: date = Field(description="Last day of the fit window.")
    window: str = Field(description="Why the window starts where it does.")
    points_used: int
    points_dropped: dict[str, int] = Field(
        description="Records without a rate by reason: shut_in, below_min_hours, no_oil, outside_window."
    )
    recency_half_life_days: float = Field(description="Days; 0: no weighting.")
    rmse_log_rate: float = Field(description="RMSE of ln(rate) residuals (about the relative scatter).")
    r2_log_rate: float = Field(description="R-squared of ln(rate).")
    min_hours_on: float = Field(description="Hours.")


class ForecastUncertaintyOut(Schema):
    resamples: int
    seed: int
    method: str
    eur: Percentiles = Field(description="m3.")
    remaining: Percentiles = Field(description="m3.")


class ForecastBacktestOut(Schema):
    held_out_from: date
    held_out_to: date
    records: int
    actual_cum_oil: float = Field(description="m3 produced over the held-out records.")
    forecast_cum_oil: float = Field(
        description="m3 the forecast gives for them (their actual time on stream)."
    )
    cum_oil_error_pct: float = Field(description="(forecast - actual) / actual, %.")
    monthly_rate_error_pct: float = Field(description="Mean absolute error of monthly calendar-day rates, %.")
    months: list[dict[str, Any]] = Field(description="month, actual_rate, forecast_rate (m3/day).")
    forecast_cum_oil_band: Percentiles | None = Field(
        None, description="m3, parameters and scatter resampled."
    )


class ForecastOut(Schema):
    """A finished well run's forecast (`?fields=forecast`). Volumes in m3, rates in m3/day."""

    well: int | None = Field(description="The well's id.")
    method: Literal["arps", "fractional_flow"] = Field(description="The method that produced the rows.")
    requested_method: Literal["auto", "arps", "fractional_flow"]
    selection: ForecastSelectionOut | None = Field(
        description="For `auto`: each candidate's backtest and why."
    )
    parameters: ForecastParametersOut
    fit: ForecastFitOut
    uptime: float = Field(description="Fraction of calendar time on stream applied to the forecast rates.")
    as_of: date = Field(description="Last day of the fit window: rows after it are the forecast.")
    cum_oil_to_date: float = Field(description="Cumulative oil up to as_of, m3.")
    economic_limit: float = Field(description="m3/day of oil per calendar day.")
    eur: float = Field(
        description="Estimated ultimate recovery of oil, m3 (to the economic limit, within 100 years)."
    )
    remaining: float = Field(description="Remaining reserves: eur - cum_oil_to_date, m3.")
    economic_limit_date: date | None = Field(
        description="When the oil rate reaches the limit (null: not in 100 years)."
    )
    economic_limit_reached: bool
    uncertainty: ForecastUncertaintyOut | None
    backtest: ForecastBacktestOut | None = Field(description="When fit_to ends before the history.")
    oil_rate_band: dict[str, list[float]] = Field(
        description="p10, p50, p90 of the oil rate per result row, m3/day per calendar day."
    )


class CalculationDetailOut(Schema):
    """`result` is the table of a finished run and null otherwise (queued, running, failed);
    `?fields=-result` leaves it out (the key is absent).

    `error` is the failure of a failed run, null otherwise; `name`, `duration` and `summary`
    only when asked for with `?fields=name,duration,summary` (`duration`: seconds the run spent
    running, null until it ended; `summary`: null until the run has finished).
    """

    id: int
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    status: JobStatusName
    pinned: bool = Field(description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        description="Who queued it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(None, description="Who cancelled it; present once someone did.")
    error: str | None = Field(description="Why the run failed; null unless `status` is `failed`.")
    result: list[CalculationRowOut] | None = Field(
        None,
        description="The rows of a finished run, by date; null until then; absent with `fields=-result`.",
    )
    name: str | None = None
    duration: float | None = None
    summary: CalculationSummaryOut | None = None
    forecast: ForecastOut | None = None
