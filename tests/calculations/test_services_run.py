from datetime import date

import pandas as pd
import pytest
from django.db import OperationalError, transaction

from apps.calculations import kernel
from apps.calculations.events import calculation_event_payload
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import CALCULATION_JOB, calculation_run
from apps.jobs.models import JobStatus
from apps.jobs.services import job_fail


def rows_frame(calculation: Calculation) -> pd.DataFrame:
    values = (
        CalculationRow.objects.filter(calculation=calculation)
        .order_by("date")
        .values_list("date", "liquid", "oil", "water", "wct")
    )
    return pd.DataFrame(list(values), columns=list(kernel.COLUMNS))


def test_a_run_finishes_with_all_the_kernel_rows(make_calculation):
    calculation = make_calculation(date_start=date(2020, 1, 1), date_fin=date(2020, 3, 31), lag=3)
    finished = calculation_run(calculation_id=calculation.pk)
    assert finished.status == JobStatus.FINISHED and finished.progress == 100
    assert finished.attempts == 1 and finished.error == ""
    assert calculation.launched_at <= finished.started_at <= finished.finished_at
    assert finished.duration is not None and finished.duration >= 0
    expected = kernel.run(date_start=date(2020, 1, 1), date_fin=date(2020, 3, 31), lag=3)
    stored = rows_frame(calculation)
    assert len(stored) == len(expected) == 31
    assert list(stored.date) == [d.date() for d in expected.date]
    pd.testing.assert_frame_equal(stored.drop(columns="date"), expected.drop(columns="date"))


def test_a_finished_run_delivered_again_is_skipped(make_finished):
    calculation = make_finished()
    before = list(CalculationRow.objects.filter(calculation=calculation).values_list("pk", flat=True))
    assert calculation_run(calculation_id=calculation.pk) is None
    calculation.refresh_from_db()
    assert calculation.attempts == 1
    assert list(CalculationRow.objects.filter(calculation=calculation).values_list("pk", flat=True)) == before


def test_an_interrupted_run_delivered_again_is_taken_over_and_finishes_once(make_calculation):
    calculation = make_calculation(status=JobStatus.RUNNING, attempts=1, progress=40)
    finished = calculation_run(calculation_id=calculation.pk, resume=True)
    assert finished.status == JobStatus.FINISHED and finished.attempts == 2
    stored = rows_frame(calculation)
    assert len(stored) == 366 and stored.date.is_unique and stored.date.min() == date(2020, 1, 1)


def test_a_duplicate_message_for_a_run_another_attempt_holds_is_a_no_op(make_calculation):
    calculation = make_calculation(status=JobStatus.RUNNING, attempts=1, progress=40)
    assert calculation_run(calculation_id=calculation.pk) is None
    calculation.refresh_from_db()
    assert (calculation.status, calculation.attempts, calculation.progress) == (JobStatus.RUNNING, 1, 40)


def test_a_duplicate_delivery_that_finished_first_keeps_its_rows(make_calculation, monkeypatch):
    calculation = make_calculation(date_fin=date(2020, 1, 10))
    real_kernel = kernel.run

    def kernel_while_a_duplicate_finishes(**kwargs):
        frame = real_kernel(**kwargs)
        # Another worker, delivered the same message, commits first.
        Calculation.objects.filter(pk=calculation.pk).update(status=JobStatus.FINISHED, progress=100)
        CalculationRow.objects.create(
            calculation=calculation, date=date(2020, 1, 1), liquid=2, oil=1, water=1, wct=0.5
        )
        return frame

    monkeypatch.setattr(kernel, "run", kernel_while_a_duplicate_finishes)
    assert calculation_run(calculation_id=calculation.pk) is None  # this attempt lost the run: no write
    calculation.refresh_from_db()
    assert calculation.status == JobStatus.FINISHED
    assert list(CalculationRow.objects.filter(calculation=calculation).values_list("liquid", flat=True)) == [
        2
    ]


def test_a_kernel_error_fails_the_run_with_one_readable_sentence_and_no_rows(
    make_calculation, monkeypatch, caplog
):
    calculation = make_calculation()

    def broken_kernel(**kwargs):
        raise RuntimeError("matrix is singular\n  File 'kernel.py', line 1, in run")

    monkeypatch.setattr(kernel, "run", broken_kernel)
    failed = calculation_run(calculation_id=calculation.pk)
    assert failed.status == JobStatus.FAILED
    assert failed.error == "The calculation failed: RuntimeError: matrix is singular"
    assert failed.finished_at is not None and failed.duration is not None
    assert not CalculationRow.objects.filter(calculation=calculation).exists()
    assert "Traceback" in caplog.text  # operators still get the whole story in the log


def test_a_failure_while_storing_rows_keeps_no_rows(make_calculation, monkeypatch):
    calculation = make_calculation(date_fin=date(2020, 1, 5))
    real_kernel = kernel.run

    def kernel_with_a_repeated_day(**kwargs):
        frame = real_kernel(**kwargs)
        return pd.concat([frame, frame.tail(1)], ignore_index=True)  # the database refuses it

    monkeypatch.setattr(kernel, "run", kernel_with_a_repeated_day)
    failed = calculation_run(calculation_id=calculation.pk)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith(
        "The calculation failed: IntegrityError: duplicate key value violates unique"
    )
    assert len(failed.error) <= 500 and "Traceback" not in failed.error
    assert not CalculationRow.objects.filter(calculation=calculation).exists()


def test_a_database_outage_is_left_to_the_task_to_retry_instead_of_failing_the_run(
    make_calculation, monkeypatch
):
    calculation = make_calculation()

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(kernel, "run", database_gone)
    with pytest.raises(OperationalError):
        calculation_run(calculation_id=calculation.pk)
    calculation.refresh_from_db()
    assert calculation.status == JobStatus.RUNNING and calculation.error == ""


def test_an_error_without_a_message_still_reads_well(make_calculation, monkeypatch):
    calculation = make_calculation()

    def broken_kernel(**kwargs):
        raise MemoryError()

    monkeypatch.setattr(kernel, "run", broken_kernel)
    assert calculation_run(calculation_id=calculation.pk).error == "The calculation failed: MemoryError"


def test_a_failed_run_delivered_again_is_not_rerun(make_calculation):
    calculation = make_calculation(status=JobStatus.FAILED, error="boom")
    assert calculation_run(calculation_id=calculation.pk) is None
    calculation.refresh_from_db()
    assert (calculation.status, calculation.error, calculation.attempts) == (JobStatus.FAILED, "boom", 0)


def test_a_deleted_run_is_nothing_to_do(db):
    assert calculation_run(calculation_id=987654321) is None


def test_a_run_deleted_while_computing_is_dropped_quietly(make_calculation, monkeypatch):
    calculation = make_calculation(date_fin=date(2020, 1, 10))
    real_kernel = kernel.run

    def kernel_then_delete(**kwargs):
        frame = real_kernel(**kwargs)
        Calculation.objects.filter(pk=calculation.pk).delete()
        return frame

    monkeypatch.setattr(kernel, "run", kernel_then_delete)
    assert calculation_run(calculation_id=calculation.pk) is None
    assert not CalculationRow.objects.filter(calculation_id=calculation.pk).exists()


def test_failing_a_finished_run_changes_nothing(make_finished):
    calculation = make_finished()
    assert job_fail(kind=CALCULATION_JOB, job_id=calculation.pk, error="late") is None
    calculation.refresh_from_db()
    assert (calculation.status, calculation.error) == (JobStatus.FINISHED, "")
    assert CalculationRow.objects.filter(calculation=calculation).count() == 366


def test_the_event_payload_of_a_failed_run_carries_its_error(make_calculation):
    calculation = make_calculation(status=JobStatus.FAILED, error="The calculation failed: X")
    payload = calculation_event_payload(calculation)
    assert payload["error"] == "The calculation failed: X" and payload["status"] == "failed"
    assert payload["updated_at"].endswith("Z") and "." in payload["updated_at"]


def test_a_requeue_note_is_not_shown_as_an_error_while_queued(make_calculation):
    calculation = make_calculation(error="Requeued: no progress for over 300 s on attempt 1.")
    assert calculation_event_payload(calculation)["error"] is None


@pytest.mark.django_db(transaction=True)
def test_a_fast_run_broadcasts_running_then_finished_only(make_calculation, live_events):
    calculation = make_calculation()
    calculation_run(calculation_id=calculation.pk)
    events = live_events.events(calculation_id=calculation.pk)
    assert [(event["status"], event["progress"]) for event in events] == [("running", 0), ("finished", 100)]
    finished = events[-1]
    assert finished["duration"] is not None and finished["finished_at"] >= finished["started_at"]
    assert events[0]["updated_at"] < finished["updated_at"]


@pytest.mark.django_db(transaction=True)
def test_a_slow_run_writes_and_broadcasts_its_progress(make_calculation, live_events, settings):
    settings.CALCULATIONS_PROGRESS_MIN_INTERVAL = 0
    settings.CALCULATIONS_STEP_DELAY = 0.01
    calculation = make_calculation()
    seen_in_db: list[int] = []
    real_kernel = kernel.run

    def watching_kernel(**kwargs):
        on_progress = kwargs.pop("on_progress")

        def spy(percent: int) -> None:
            on_progress(percent)
            seen_in_db.append(Calculation.objects.get(pk=calculation.pk).progress)

        return real_kernel(on_progress=spy, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernel, "run", watching_kernel)
        calculation_run(calculation_id=calculation.pk)
    # The 100 % step is not written: the `finished` write that follows covers it.
    assert seen_in_db == [10, 20, 30, 40, 50, 60, 70, 80, 90, 90]
    events = live_events.events(calculation_id=calculation.pk)
    assert [event["progress"] for event in events] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert all(event["status"] == "running" for event in events[:-1]) and events[-1]["status"] == "finished"
    stamps = [event["updated_at"] for event in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_broadcasts_its_error(make_calculation, live_events, monkeypatch):
    calculation = make_calculation()

    def broken_kernel(**kwargs):
        raise ValueError("negative pressure")

    monkeypatch.setattr(kernel, "run", broken_kernel)
    with transaction.atomic():
        calculation_run(calculation_id=calculation.pk)
    events = live_events.events(calculation_id=calculation.pk)
    assert [event["status"] for event in events] == ["running", "failed"]
    assert events[-1]["error"] == "The calculation failed: ValueError: negative pressure"
