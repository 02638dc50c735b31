"""The Grafana dashboard shipped in docs/ charts only metrics the endpoints export."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "reference" / "grafana" / "calcboard.json"
# The series a family of each type exposes (prometheus-client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("_count", "_sum", "_created"),
    "untyped": ("",),
}


def charted_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs, "the dashboard charts nothing"
    return {name for expr in exprs for name in re.findall(r"\b((?:calcboard|django)_[a-z0-9_]+)\b", expr)}


@pytest.mark.django_db
def test_every_metric_the_dashboard_charts_is_exported():
    text = Client().get("/metrics").content.decode()
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES[family.type]
    }

    charted = charted_metrics()

    assert charted - exported == set()
    # Each concern of the issue has its panel.
    for family in (
        "django_http_requests_total_by_view_transport_method_total",
        "calcboard_jobs",
        "calcboard_queue_depth",
        "calcboard_queue_oldest_age_seconds",
        "calcboard_job_duration_seconds_bucket",
        "calcboard_outside_calls_total",
        "calcboard_websocket_connections",
        "calcboard_websocket_events_delivered_total",
        "calcboard_retention_purged_rows_total",
    ):
        assert family in charted, family
