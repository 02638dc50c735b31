"""The browser's Highcharts is a static file of this site, the version the export server's
lock file pins (scripts/vendor-highcharts copies it; collectstatic finds it)."""

import json
import re
from pathlib import Path

from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]


def locked_version() -> str:
    lock = json.loads((ROOT / "docker" / "highcharts" / "package-lock.json").read_text())
    return lock["packages"]["node_modules/highcharts"]["version"]


def test_collectstatic_finds_the_pinned_highcharts_and_its_accessibility_module():
    for name in ("highcharts.js", "modules/accessibility.js"):
        path = finders.find(f"calcboard/vendor/highcharts/{name}")
        assert path, f"{name} is not a static file: run scripts/install-highcharts"
        banner = Path(path).read_text(encoding="utf-8")[:400]
        match = re.search(r"Highcharts JS v(\d+\.\d+\.\d+)", banner) or re.search(
            r"\bv(\d+\.\d+\.\d+)", banner
        )
        assert match and match.group(1) == locked_version(), banner


def test_the_pages_scripts_are_static_files_too():
    for name in ("calculation_charts.js", "calculation_compare.js", "calculation_charts.css", "live.js"):
        assert finders.find(f"calcboard/{name}"), name
