"""No accepted run is lost: a worker killed mid-run, a broker down at creation time.

Real processes throughout: Celery workers and beat started like the Procfile starts them,
RabbitMQ, PostgreSQL. Faults are injected by killing processes with SIGKILL and by pointing
this process's publisher at a port where no broker listens.
"""

import logging
import time
from datetime import date

import pytest

from apps.calculations import kernel
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import CALCULATION_JOB, calculation_create
from apps.calculations.tasks import calculation_run_task
from apps.jobs.models import JobStatus
from harness import processes
from harness.processes import wait_until
from project.settings.test import child_settings_env
from tests.calculations.conftest import backdate, body
from tests.conftest import ScratchQueue, unique_queue

pytestmark = pytest.mark.django_db(transaction=True)


def reload(pk: int) -> Calculation:
    return Calculation.objects.get(pk=pk)


@pytest.fixture
def slow_worker_env(settings):
    """Settings for workers of this test alone: queues of their own (deleted afterwards) and a
    kernel slowed to 10 steps of 0.4 s, so there is a "mid-run"; more settings on top."""
    queue = unique_queue("test-calculations-slow")
    settings.CALCULATIONS_QUEUE = queue

    def env(**overrides) -> dict[str, str]:
        return child_settings_env(
            **{
                "CALCULATIONS_QUEUE": queue,
                "CHARTS_QUEUE": f"{queue}-charts",
                "CALCULATIONS_STEP_DELAY": 0.4,
                **overrides,
            }
        )

    yield env
    ScratchQueue(queue).delete()
    ScratchQueue(f"{queue}-charts").delete()


def test_a_run_whose_worker_is_killed_mid_run_is_redelivered_and_finishes_once(test_db_name, slow_worker_env):
    env = slow_worker_env(CALCULATIONS_PROGRESS_MIN_INTERVAL=0)
    started: list[processes.Process] = []
    try:
        started.append(
            processes.start_worker(test_db_name, name="calculations-doomed", concurrency=1, extra_env=env)
        )
        calculation = calculation_create(
            date_start="2020-01-01", date_fin="2021-12-31", lag=1, name="Crash test"
        )
        wait_until(lambda: reload(calculation.pk).progress >= 30, timeout=30, what="the run to get under way")

        started[0].kill()  # SIGKILL: no cleanup, no ack
        time.sleep(1)
        orphan = reload(calculation.pk)
        assert orphan.status == JobStatus.RUNNING and 30 <= orphan.progress < 100
        assert orphan.attempts == 1 and not CalculationRow.objects.filter(calculation=orphan).exists()

        started.append(
            processes.start_worker(test_db_name, name="calculations-rescuer", concurrency=1, extra_env=env)
        )
        wait_until(lambda: reload(calculation.pk).status == JobStatus.FINISHED, timeout=60, what="redelivery")
        finished = reload(calculation.pk)
        assert finished.attempts == 2 and finished.progress == 100 and finished.error == ""
        rows = CalculationRow.objects.filter(calculation=finished)
        expected = kernel.row_count(date_start=date(2020, 1, 1), date_fin=date(2021, 12, 31), lag=1)
        assert rows.count() == rows.values("date").distinct().count() == expected == 731
    finally:
        for process in started:
            process.stop()


def test_a_run_accepted_while_the_broker_is_down_is_dispatched_by_the_beat_sweep(
    api_client, celery_worker, test_db_name, broker_down, caplog
):
    with caplog.at_level(logging.WARNING, logger="apps.jobs.services"):
        response = api_client.post(
            "/api/calculations",
            {"date_start": "2020-01-01", "date_fin": "2020-06-30", "lag": 1},
            content_type="application/json",
        )
    assert response.status_code == 201
    pk = body(response)["id"]
    accepted = reload(pk)
    assert accepted.status == JobStatus.QUEUED and accepted.dispatched_at is None
    assert caplog.text.count("saved but not published") == 1  # one try, then the outbox

    broker_down()  # RabbitMQ is reachable again
    backdate(accepted, seconds=3600)  # past the grace period the sweep leaves to the API
    beat = processes.start_beat(test_db_name, extra_env=child_settings_env(CALCULATIONS_SWEEP_INTERVAL=1))
    try:
        wait_until(lambda: reload(pk).status == JobStatus.FINISHED, timeout=60, what="the sweep to dispatch")
    finally:
        beat.stop()
    finished = reload(pk)
    assert finished.dispatched_at is not None and finished.attempts == 1
    assert CalculationRow.objects.filter(calculation=finished).count() == 182


def test_a_run_past_its_soft_time_limit_in_a_real_worker_ends_failed_as_timed_out(
    test_db_name, slow_worker_env, settings
):
    # The worker reads the limit from its settings (the task's soft_time_limit, apps/jobs/tasks.py):
    # 3 s against a run of 10 steps of 1 s. (Celery's clock starts when the task is handed to
    # the pool, and a limit that expires before the child has taken the task is dropped: the
    # margin keeps a slow child start from hiding the limit.)
    env = slow_worker_env(CALCULATIONS_SOFT_TIME_LIMIT=3, CALCULATIONS_STEP_DELAY=1.0)
    # This process registers the task with its own limit (600 s): the worker's must still rule.
    assert calculation_run_task.soft_time_limit == CALCULATION_JOB.setting("SOFT_TIME_LIMIT") == 600
    worker = processes.start_worker(test_db_name, name="calculations-limited", concurrency=1, extra_env=env)
    try:
        calculation = calculation_create(
            date_start="2020-01-01", date_fin="2020-12-31", lag=1, name="Too slow"
        )
        wait_until(
            lambda: reload(calculation.pk).status == JobStatus.FAILED, timeout=30, what="the time limit"
        )
        failed = reload(calculation.pk)
        assert failed.error == "The calculation timed out after 3 s."
        assert failed.attempts == 1 and failed.progress < 100
        assert not CalculationRow.objects.filter(calculation=failed).exists()
        assert worker.alive  # a soft limit ends the run, not the worker
    finally:
        worker.stop()
