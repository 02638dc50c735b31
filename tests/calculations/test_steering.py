"""Runs users can steer through the API: cancel, run again, retry a create safely."""

from datetime import date

import pytest

from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import calculation_run, rerun_name
from apps.jobs.models import IdempotencyRecord, JobStatus
from tests.calculations.conftest import body
from tests.conftest import PublishedTask, ScratchQueue

BODY = {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7, "name": "Well 12"}


@pytest.fixture(autouse=True)
def published(scratch_queues) -> ScratchQueue:
    """Runs are published to the real broker, on a queue no worker consumes (these tests run
    no worker), where the test reads them."""
    return scratch_queues.calculations


# --- cancel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_cancel_of_a_queued_or_running_run_answers_its_cancelled_envelope(
    api_client, make_calculation, status
):
    calculation = make_calculation(status=status)
    response = api_client.post(f"/api/calculations/{calculation.pk}/cancel")
    assert response.status_code == 200
    assert body(response)["id"] == calculation.pk
    assert body(response)["status"] == "cancelled" and body(response)["result"] is None
    calculation.refresh_from_db()
    assert calculation.status == JobStatus.CANCELLED and calculation.finished_at is not None


@pytest.mark.parametrize("status", [JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancel_of_an_ended_run_is_a_409_naming_its_status(api_client, make_calculation, status):
    calculation = make_calculation(status=status)
    response = api_client.post(f"/api/calculations/{calculation.pk}/cancel")
    assert response.status_code == 409
    detail = f"Calculation {calculation.pk} is {status}: only a queued or running job can be cancelled."
    assert body(response) == {
        "detail": detail,
        "errors": [{"field": "status", "rule": "job_ended", "message": detail}],
    }


@pytest.mark.parametrize("pk", [999999, 2**63])
def test_cancel_of_an_unknown_run_is_a_404(api_client, db, pk):
    assert api_client.post(f"/api/calculations/{pk}/cancel").status_code == 404


def test_the_message_of_a_cancelled_run_is_a_no_op(make_calculation):
    calculation = make_calculation(status=JobStatus.CANCELLED)
    assert calculation_run(calculation_id=calculation.pk) is None
    calculation.refresh_from_db()
    assert (calculation.status, calculation.attempts) == (JobStatus.CANCELLED, 0)
    assert not CalculationRow.objects.filter(calculation=calculation).exists()


def test_a_run_cancelled_at_a_progress_step_stops_there_and_keeps_no_rows(
    make_calculation, settings, monkeypatch
):
    from apps.calculations import kernel
    from apps.calculations.services import calculations_cancel

    settings.CALCULATIONS_PROGRESS_MIN_INTERVAL = 0
    settings.CALCULATIONS_STEP_DELAY = 0.001
    calculation = make_calculation()
    steps: list[int] = []
    real_kernel = kernel.run

    def kernel_cancelled_midway(**kwargs):
        on_progress = kwargs.pop("on_progress")

        def step(percent: int) -> None:
            steps.append(percent)
            if percent == 30:
                calculations_cancel(ids=[calculation.pk])  # the user's cancel lands between chunks
            on_progress(percent)

        return real_kernel(on_progress=step, **kwargs)

    monkeypatch.setattr(kernel, "run", kernel_cancelled_midway)
    assert calculation_run(calculation_id=calculation.pk) is None
    assert steps[-1] == 30  # no chunk ran after the cancel
    calculation.refresh_from_db()
    assert (calculation.status, calculation.progress) == (JobStatus.CANCELLED, 20)
    assert not CalculationRow.objects.filter(calculation=calculation).exists()


# --- rerun ------------------------------------------------------------------------------------


def test_rerun_queues_a_new_run_with_the_same_inputs_marked_as_a_re_run(
    api_client, make_finished, published, django_capture_on_commit_callbacks
):
    original = make_finished(name="Well 12", date_fin=date(2020, 3, 31), lag=3)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/calculations/{original.pk}/rerun")
    assert response.status_code == 201
    again = Calculation.objects.get(pk=body(response)["id"])
    assert again.pk != original.pk and body(response) == {"id": again.pk}
    assert (again.date_start, again.date_fin, again.lag) == (
        original.date_start,
        original.date_fin,
        original.lag,
    )
    assert (again.name, again.status, again.attempts) == ("Well 12 (re-run)", JobStatus.QUEUED, 0)
    assert published.take() == [PublishedTask(name="calculations.run", args=[again.pk])]


def test_a_re_run_of_a_re_run_keeps_one_mark_and_the_length_limit():
    assert rerun_name("Well 12 (re-run)") == "Well 12 (re-run)"
    assert len(rerun_name("x" * 200)) == 200 and rerun_name("x" * 200).endswith(" (re-run)")


def test_rerun_of_an_unknown_run_is_a_404(api_client, db):
    assert api_client.post("/api/calculations/999999/rerun").status_code == 404


# --- idempotent create ------------------------------------------------------------------------


def test_the_same_key_and_body_answer_the_first_run_and_queue_nothing_more(
    api_client, db, published, django_capture_on_commit_callbacks
):
    headers = {"Idempotency-Key": "retry-7f3a"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
        again = api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201 and body(first) == body(again)
    assert Calculation.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    assert published.job_ids() == [body(first)["id"]]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_with_one_key_on_two_connections_create_one_run_and_answer_alike(
    api_token, published, monkeypatch
):
    """The first request holds the key (uncommitted) while the second, on its own database
    connection, waits for it on the key's unique index; then both answer the one run."""
    import threading

    from django.db import connection
    from django.test import Client

    from apps.calculations import api as calculations_api
    from harness.processes import wait_until

    def waiting_for_me() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks "
                "WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            return cursor.fetchone()[0]

    create = calculations_api.calculation_create
    first_holds_the_key = threading.Event()

    def create_once_the_other_waits(**fields):
        first_holds_the_key.set()
        wait_until(lambda: waiting_for_me() == 1, timeout=15, what="the second request to wait for the key")
        return create(**fields)

    monkeypatch.setattr(calculations_api, "calculation_create", create_once_the_other_waits)
    answers: dict[str, tuple[int, dict]] = {}

    def post(name: str) -> None:
        try:
            client = Client(headers={"Authorization": f"Bearer {api_token}", "Idempotency-Key": "twice-7f3a"})
            response = client.post("/api/calculations", BODY, content_type="application/json")
            answers[name] = (response.status_code, body(response))
        finally:
            connection.close()

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert first_holds_the_key.wait(15)
    second = threading.Thread(target=post, args=("second",))
    second.start()
    first.join(30), second.join(30)
    assert not first.is_alive() and not second.is_alive()

    assert answers["first"] == answers["second"] and answers["first"][0] == 201
    [run] = Calculation.objects.all()
    assert answers["first"][1] == {"id": run.pk} and IdempotencyRecord.objects.count() == 1
    assert published.job_ids() == [run.pk]


def test_the_same_key_with_another_body_is_a_422_naming_the_header(api_client, db):
    headers = {"Idempotency-Key": "retry-7f3a"}
    api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    other = api_client.post(
        "/api/calculations", {**BODY, "lag": 1}, content_type="application/json", headers=headers
    )
    assert other.status_code == 422
    assert body(other)["errors"][0]["field"] == "Idempotency-Key"
    assert body(other)["errors"][0]["rule"] == "idempotency_key_reused"
    assert Calculation.objects.count() == 1


def test_keys_are_per_user(api_client, db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from apps.accounts.services import api_token_create
    from tests.conftest import permissions_grant

    other_user = get_user_model().objects.create_user(username="other", password="other-pass-123")
    permissions_grant(other_user, "view", "add")
    other = Client(headers={"Authorization": f"Bearer {api_token_create(user=other_user, name='t')[1]}"})
    headers = {"Idempotency-Key": "shared-key"}
    mine = api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    theirs = other.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    assert body(mine)["id"] != body(theirs)["id"] and Calculation.objects.count() == 2


def test_an_expired_key_creates_a_new_run(api_client, db):
    from datetime import timedelta

    from django.utils import timezone

    headers = {"Idempotency-Key": "old-key"}
    first = api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = api_client.post("/api/calculations", BODY, content_type="application/json", headers=headers)
    assert body(first)["id"] != body(again)["id"] and IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_422_naming_the_header(api_client, db, key):
    response = api_client.post(
        "/api/calculations", BODY, content_type="application/json", headers={"Idempotency-Key": key}
    )
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "Idempotency-Key" and Calculation.objects.count() == 0


def test_the_sweep_removes_expired_idempotency_records(api_client, db):
    from datetime import timedelta

    from django.utils import timezone

    from apps.calculations.services import calculation_sweep

    api_client.post(
        "/api/calculations", BODY, content_type="application/json", headers={"Idempotency-Key": "k"}
    )
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    calculation_sweep()
    assert not IdempotencyRecord.objects.exists()
