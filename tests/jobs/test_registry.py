"""The registry of job kinds: a kind declared once drives Celery's queues, routes and beat
schedule and the kind's settings; a second kind cannot take a name already given."""

import pytest
from django.contrib.auth.models import Group

from apps.accounts.models import ApiToken
from apps.calculations.services import CALCULATION_JOB
from apps.jobs.registry import JobKind, JobKindRegistry, JobPolicy, job_kinds
from project.celery import app

# A throwaway kind over a model no job app uses (`accounts.apitoken`), as a new job app would
# declare its own in its ready().
THROWAWAY = JobKind(
    model=ApiToken,
    task_name="imports.run",
    sweep_task_name="imports.sweep",
    payload=lambda job: {"status": "queued"},
    queue="imports",
    stream="imports",
    policy=JobPolicy(soft_time_limit=100.0, stale_after=None, sweep_interval=15.0),
)


@pytest.fixture
def throwaway():
    job_kinds.register(THROWAWAY)
    yield THROWAWAY
    job_kinds.unregister(THROWAWAY.live_kind)


def test_the_job_apps_register_their_kinds():
    assert [kind.task_name for kind in job_kinds] == ["calculations.run", "charts.render", "wells.import"]
    assert job_kinds.get("calculation") is CALCULATION_JOB
    assert job_kinds.by_stream("functions").live_kind == "function"


def test_a_kind_declared_once_gets_its_queue_routes_and_beat_sweep(throwaway):
    queue = {"queue": "imports", "routing_key": "imports"}
    assert app.conf.task_routes["imports.*"] == queue
    assert "imports" in [q.name for q in app.conf.task_queues]
    assert app.conf.beat_schedule["accounts-sweep"] == {
        "task": "imports.sweep",
        "schedule": 15.0,
        "options": {"expires": 15.0},
    }
    assert app.amqp.router.route({}, "imports.run")["queue"].name == "imports"


def test_an_unregistered_kind_leaves_celery(throwaway):
    job_kinds.unregister(throwaway.live_kind)
    try:
        assert "imports.*" not in app.conf.task_routes
        assert "accounts-sweep" not in app.conf.beat_schedule
        assert "imports" not in [q.name for q in app.conf.task_queues]
    finally:
        job_kinds.register(throwaway)  # the fixture unregisters it


def test_a_kinds_stream_and_view_permission_follow_its_model(throwaway):
    assert (throwaway.stream_name, throwaway.view_permission) == ("imports", "accounts.view_apitoken")
    assert (CALCULATION_JOB.stream_name, CALCULATION_JOB.view_permission) == (
        "calculations",
        "calculations.view_calculation",
    )


def test_settings_named_after_the_app_override_the_declared_policy(throwaway, settings):
    assert throwaway.setting("MAX_ATTEMPTS") == 3
    assert (throwaway.setting("TIME_LIMIT"), throwaway.setting("STALE_AFTER")) == (130.0, 190.0)
    settings.ACCOUNTS_MAX_ATTEMPTS = 5
    settings.ACCOUNTS_SOFT_TIME_LIMIT = 10
    assert throwaway.setting("MAX_ATTEMPTS") == 5
    # The derived limits follow the soft limit in force.
    assert (throwaway.setting("TIME_LIMIT"), throwaway.setting("STALE_AFTER")) == (40, 100)
    settings.ACCOUNTS_TIME_LIMIT = 50
    assert throwaway.setting("STALE_AFTER") == 110


def test_the_queue_defaults_to_the_app_label():
    kind = JobKind(model=ApiToken, task_name="accounts.run", payload=dict)
    assert kind.setting("QUEUE") == "accounts"


def test_an_unknown_setting_is_refused():
    with pytest.raises(AttributeError, match="no setting 'COLOUR'"):
        CALCULATION_JOB.setting("COLOUR")


def test_a_second_kind_cannot_take_a_registered_kind_or_stream(throwaway):
    job_kinds.register(throwaway)  # the same declaration again: harmless
    with pytest.raises(ValueError, match="already registered"):
        job_kinds.register(JobKind(model=ApiToken, task_name="other.run", payload=dict))
    with pytest.raises(ValueError, match="'calculations' is already another kind's"):
        job_kinds.register(JobKind(model=Group, task_name="x.run", payload=dict, stream="calculations"))
    with pytest.raises(KeyError):
        job_kinds.by_stream("nowhere")
    assert "apitoken" in job_kinds and "well" not in job_kinds


def test_a_kind_without_a_sweep_gets_a_route_and_no_beat_entry():
    registry = JobKindRegistry()  # not the project's: Celery's configuration stays as it is
    assert registry.celery_config() == {"task_queues": [], "task_routes": {}, "beat_schedule": {}}
    registry.register(JobKind(model=ApiToken, task_name="imports.run", payload=dict, queue="imports"))
    config = registry.celery_config()
    assert config["task_routes"] == {"imports.*": {"queue": "imports", "routing_key": "imports"}}
    assert (config["beat_schedule"], config["task_default_queue"]) == ({}, "imports")
    assert "imports.*" not in app.conf.task_routes
