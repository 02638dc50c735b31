"""Highcharts options of a calculation's image (rates and water cut on one chart), drawn by
the export server for `GET /api/calculations/{id}/chart.png|svg`.

The colours and series names are the ones the admin's interactive charts use
(`frontend/calcboard/calculation_charts.js`), so an exported image and the page look alike.
"""

from collections.abc import Callable
from typing import Annotated

from django.utils.html import escape
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from apps.integrations.export_server import still_image_options

# The image sizes the chart endpoints draw, in pixels: a few steps each, so one run has at
# most 16 images of a type, each drawn once and stored (anything else is a 422).
CHART_WIDTHS = (600, 800, 1200, 1600)
CHART_HEIGHTS = (300, 400, 600, 800)
CHART_WIDTH_DEFAULT, CHART_HEIGHT_DEFAULT = 1200, 600


def _one_of(steps: tuple[int, ...]) -> Callable[[int], int]:
    """The check of an integer query parameter limited to `steps`. Not a `Literal`: a query
    string's "800" must match 800. The rule is `literal_error`, as for the other whitelisted
    parameters."""
    allowed = ", ".join(map(str, steps[:-1])) + f" or {steps[-1]}"

    def check(value: int) -> int:
        if value not in steps:
            raise PydanticCustomError("literal_error", "Input should be {allowed}", {"allowed": allowed})
        return value

    return check


ChartWidth = Annotated[
    int,
    AfterValidator(_one_of(CHART_WIDTHS)),
    WithJsonSchema({"type": "integer", "enum": list(CHART_WIDTHS)}),
]
ChartHeight = Annotated[
    int,
    AfterValidator(_one_of(CHART_HEIGHTS)),
    WithJsonSchema({"type": "integer", "enum": list(CHART_HEIGHTS)}),
]

RATE_SERIES = (
    # (row column, legend name, colour)
    ("liquid", "Liquid, m³/day", "#4a5568"),
    ("oil", "Oil, m³/day", "#2f855a"),
    ("water", "Water, m³/day", "#3182ce"),
)
WCT_SERIES = ("wct", "Water cut, %", "#c53030")


HISTORY_SERIES = (
    # (history column, legend name, colour): markers, the rows' colours
    ("oil", "Oil history, m³/day", "#2f855a"),
    ("water", "Water history, m³/day", "#3182ce"),
)
BAND_SERIES = ("Oil P10-P90, m³/day", "#2f855a")


def calculation_chart_options(
    *,
    name: str,
    series: dict[str, list],
    width: int,
    height: int,
    history: dict[str, list] | None = None,
    band: list[list[float]] | None = None,
) -> dict:
    """A still image: rates (m3/day, left axis) and water cut (%, right axis) over a datetime
    x axis. `series` maps each column to `[[unix milliseconds, value], ...]`, the water cut
    already in percent. A well run adds its history (monthly calendar-day rates, as markers)
    and the P10-P90 band of its oil rate (`[[ms, p90, p10], ...]`)."""
    column, wct_name, wct_colour = WCT_SERIES
    extra: list[dict] = []
    if band is not None:
        band_name, band_colour = BAND_SERIES
        extra.append(
            {
                "type": "arearange",
                "name": band_name,
                "color": band_colour,
                "fillOpacity": 0.2,
                "lineWidth": 0,
                "yAxis": 0,
                "data": band,
            }
        )
    for key, label, colour in HISTORY_SERIES if history is not None else ():
        assert history is not None  # the loop runs only with a history
        extra.append(
            {
                "type": "scatter",
                "name": label,
                "color": colour,
                "yAxis": 0,
                "marker": {"radius": 2},
                "data": history[key],
            }
        )
    return {
        "chart": {"type": "line", "width": width, "height": height, "animation": False},
        # Highcharts reads text options as a subset of HTML and drops what looks like a tag: a
        # name such as "Well 7 <base case>" is escaped so it is drawn as written.
        "title": {"text": escape(name)},
        "xAxis": {"type": "datetime", "title": {"text": "Date"}},
        "yAxis": [
            {"title": {"text": "Rate, m³/day"}, "min": 0},
            {"title": {"text": "Water cut, %"}, "min": 0, "max": 100, "opposite": True},
        ],
        "legend": {"enabled": True},
        **still_image_options(),
        "series": [
            *(
                {"name": label, "color": colour, "yAxis": 0, "data": series[key]}
                for key, label, colour in RATE_SERIES
            ),
            {
                "name": wct_name,
                "color": wct_colour,
                "yAxis": 1,
                "dashStyle": "ShortDash",
                "data": series[column],
            },
            *extra,
        ],
    }
