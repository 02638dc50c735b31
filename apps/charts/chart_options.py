"""Highcharts options of a function's chart (a line of y over t), drawn by the export server
for the chart job (apps.charts.services.function_render)."""

from apps.integrations.export_server import still_image_options


def function_chart_options(
    *, expression: str, dt: float, interval: float, points: list, width: int, height: int
) -> dict:
    """Highcharts options: a line over a datetime x axis, which takes milliseconds."""
    return {
        "chart": {"type": "line", "width": width, "height": height, "animation": False},
        "title": {"text": expression},
        "subtitle": {"text": f"dt = {dt:g} h, interval = {interval:g} days"},
        "xAxis": {"type": "datetime", "title": {"text": "t"}},
        "yAxis": {"title": {"text": "y"}},
        "legend": {"enabled": False},
        **still_image_options(),
        # [x, y] pairs: past the default turboThreshold (1000) Highcharts reads them on its fast
        # path, without checking every point.
        "series": [{"name": "y", "data": [[t * 1000, y] for t, y in points]}],
    }
