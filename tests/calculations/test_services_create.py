from datetime import date

import pytest
from django.db import transaction

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_create, calculation_validate, default_name
from apps.core.errors import DomainError
from apps.core.http import error_status
from apps.jobs.models import JobStatus

VALID = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 7}


def rule_of(**overrides) -> tuple[str | None, str]:
    with pytest.raises(DomainError) as caught:
        calculation_validate(**{**VALID, **overrides})
    error = caught.value.errors[0]
    assert error_status(caught.value) == 422 and error.message
    return error.field, error.rule


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"date_start": "2020-1-1"}, "date_start", "date_format"),
        ({"date_start": "20200101"}, "date_start", "date_format"),
        ({"date_start": "2020-W01-1"}, "date_start", "date_format"),
        ({"date_start": "２０２０-01-01"}, "date_start", "date_format"),  # noqa: RUF001 - fullwidth digits on purpose
        ({"date_start": 20200101}, "date_start", "date_format"),
        ({"date_fin": "2021-02-29"}, "date_fin", "date_invalid"),
        ({"date_fin": "2020-13-01"}, "date_fin", "date_invalid"),
        ({"date_fin": "2019-12-31"}, "date_fin", "date_order"),
        ({"name": "bad\x00name"}, "name", "invalid_characters"),
        ({"name": "two\nlines"}, "name", "invalid_characters"),
    ],
)
def test_it_rejects_invalid_inputs_naming_the_field_and_rule(overrides, field, rule):
    assert rule_of(**overrides) == (field, rule)


def test_it_rejects_a_run_with_more_rows_than_the_configured_limit(settings):
    settings.CALCBOARD_MAX_RESULT_ROWS = 365
    assert rule_of(date_fin="2020-12-31", lag=1) == ("date_fin", "max_rows")  # 366 rows in 2020
    assert calculation_validate(**{**VALID, "date_fin": "2020-12-30", "lag": 1})["lag"] == 1


def test_the_default_row_limit_is_one_hundred_thousand():
    assert rule_of(date_start="1800-01-01", date_fin="2099-12-31", lag=1) == ("date_fin", "max_rows")


def test_it_accepts_the_widest_valid_inputs():
    cleaned = calculation_validate(date_start=date(1, 1, 1), date_fin="9999-12-31", lag=3650, name="n" * 200)
    assert cleaned["date_start"] == date(1, 1, 1) and cleaned["date_fin"] == date(9999, 12, 31)


def test_start_may_equal_fin():
    assert calculation_validate(**{**VALID, "date_fin": "2020-01-01"})["date_fin"] == date(2020, 1, 1)


@pytest.mark.parametrize("name", [None, "", "   "])
def test_a_missing_name_gets_a_readable_default(name):
    cleaned = calculation_validate(**VALID, name=name)
    assert cleaned["name"] == "2020-01-01 to 2020-12-31, every 7 days"


def test_the_default_name_of_a_daily_run_says_every_day():
    assert default_name(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 2), lag=1) == (
        "2020-01-01 to 2020-01-02, every day"
    )


def test_a_given_name_is_kept_without_surrounding_spaces():
    assert calculation_validate(**VALID, name="  Well 7\tnorth  ")["name"] == "Well 7\tnorth"


@pytest.mark.django_db(transaction=True)
def test_create_saves_a_queued_run_and_publishes_it_only_after_commit(scratch_queue):
    with transaction.atomic():
        calculation = calculation_create(**VALID, name="Well 7")
        # Nothing leaves before the row is committed: a worker would not find it yet.
        assert scratch_queue.message_count() == 0
        assert Calculation.objects.get(pk=calculation.pk).dispatched_at is None
    stored = Calculation.objects.get(pk=calculation.pk)
    assert (stored.status, stored.progress, stored.name, stored.lag) == (JobStatus.QUEUED, 0, "Well 7", 7)
    assert stored.attempts == 0 and stored.started_at is None and stored.finished_at is None
    assert stored.dispatched_at is not None and stored.dispatched_at >= stored.launched_at
    assert scratch_queue.message_count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_broadcasts_the_queued_run(scratch_queue, live_events):
    calculation = calculation_create(**VALID)
    events = live_events.events(calculation_id=calculation.pk, timeout=1.0)
    assert [event["status"] for event in events] == ["queued"]
    assert set(events[0]) == {
        "kind",
        "id",
        "name",
        "status",
        "progress",
        "launched_at",
        "started_at",
        "finished_at",
        "duration",
        "error",
        "updated_at",
        "event_id",
    }
    assert events[0]["progress"] == 0 and events[0]["started_at"] is None and events[0]["error"] is None


def test_create_refuses_invalid_input_without_saving_anything(db):
    with pytest.raises(DomainError):
        calculation_create(date_start="2020-01-02", date_fin="2020-01-01", lag=1)
    assert not Calculation.objects.exists()
