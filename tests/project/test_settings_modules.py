"""The settings modules: what production derives from its one HTTPS switch is covered in
tests/deploy; here, the job kinds' derived limits and the test settings' one override
mechanism (CALCBOARD_TEST_SETTINGS), each read by a fresh process as a child would."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings as django_settings

from apps.calculations.services import CALCULATION_JOB
from apps.charts.services import FUNCTION_JOB

ROOT = Path(__file__).resolve().parents[2]


def child_settings(**env: str) -> dict:
    code = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "from project.celery import app; from apps.jobs.registry import job_kinds as k; c = app.conf;"
        "charts, calculations = k.get('function'), k.get('calculation'); print(json.dumps({"
        "'queues': [q.name for q in c.task_queues], 'route': c.task_routes['charts.*']['queue'],"
        "'charts_time_limit': charts.setting('TIME_LIMIT'),"
        "'charts_stale_after': charts.setting('STALE_AFTER'),"
        "'sweep': c.beat_schedule['calculations-sweep']['schedule'],"
        "'step_delay': calculations.setting('STEP_DELAY'),"
        "'cache': s.CACHES['default']['LOCATION'],"
        "'layer': s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['address'],"
        "'dataservice': s.DATASERVICE_URL}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_charts_limits_are_derived_from_the_two_service_timeouts():
    s = django_settings
    assert FUNCTION_JOB.setting("SOFT_TIME_LIMIT") == s.DATASERVICE_TIMEOUT + s.EXPORT_SERVER_TIMEOUT + 30
    assert FUNCTION_JOB.setting("TIME_LIMIT") == FUNCTION_JOB.setting("SOFT_TIME_LIMIT") + 30
    assert FUNCTION_JOB.setting("STALE_AFTER") == FUNCTION_JOB.setting("TIME_LIMIT") + 60
    assert CALCULATION_JOB.setting("TIME_LIMIT") == CALCULATION_JOB.setting("SOFT_TIME_LIMIT") + 30


def test_a_child_inherits_the_runs_settings(settings):
    child = child_settings()

    assert child["queues"] == [settings.CALCULATIONS_QUEUE, settings.CHARTS_QUEUE, settings.WELLS_QUEUE]
    assert child["dataservice"] == settings.DATASERVICE_URL
    assert child["step_delay"] == 0


def test_a_child_applies_its_overrides_and_derives_again(settings):
    from project.settings.test import child_settings_env

    child = child_settings(
        **child_settings_env(
            CHARTS_QUEUE="q-charts",
            CHARTS_SOFT_TIME_LIMIT=10,
            CALCULATIONS_SWEEP_INTERVAL=1,
            CALCULATIONS_STEP_DELAY=0.4,
            REDIS_URL="redis://127.0.0.1:1/0",
        )
    )

    assert (
        child["queues"] == [settings.CALCULATIONS_QUEUE, "q-charts", settings.WELLS_QUEUE]
        and child["route"] == "q-charts"
    )
    assert (child["charts_time_limit"], child["charts_stale_after"]) == (40, 100)
    assert (child["sweep"], child["step_delay"]) == (1, 0.4)
    assert child["cache"] == child["layer"] == "redis://127.0.0.1:1/0"
    assert child["dataservice"] == settings.DATASERVICE_URL  # the run's choice travels along
