"""The trigger-kept status counters: exact through every write path, bulk or raw."""

from datetime import date

import psycopg2
import pytest
from django.db import connection, transaction
from django.db.models import Count

from apps.calculations.models import Calculation
from apps.charts.models import Function
from apps.core.models import StatusCount
from apps.core.selectors import status_counts
from apps.jobs.models import JobStatus

TABLE = Calculation._meta.db_table


def actual(model) -> dict[str, int]:
    """COUNT(*) per status, the slow way the counters replace."""
    rows = model.objects.values_list("status").annotate(n=Count("id")).order_by()
    return dict(rows)


def make(n: int, status: str = JobStatus.QUEUED) -> None:
    Calculation.objects.bulk_create(
        Calculation(
            name=f"run {index}", date_start=date(2024, 1, 1), date_fin=date(2024, 1, 2), lag=1, status=status
        )
        for index in range(n)
    )


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_bulk_inserts_updates_and_deletes_are_counted():
    make(5)
    make(2, JobStatus.FAILED)
    assert status_counts(model=Calculation) == {"queued": 5, "failed": 2} == actual(Calculation)
    Calculation.objects.filter(status="queued").update(status="running")
    assert status_counts(model=Calculation) == {"running": 5, "failed": 2}
    Calculation.objects.filter(status="failed").delete()
    assert status_counts(model=Calculation) == {"running": 5} == actual(Calculation)


@pytest.mark.django_db
def test_raw_sql_is_counted_too():
    make(3)
    sql(f"UPDATE {TABLE} SET status = 'finished' WHERE id IN (SELECT min(id) FROM {TABLE})")
    sql(f"DELETE FROM {TABLE} WHERE status = 'queued' AND id = (SELECT max(id) FROM {TABLE})")
    assert status_counts(model=Calculation) == {"queued": 1, "finished": 1} == actual(Calculation)


@pytest.mark.django_db
def test_an_update_that_keeps_every_status_writes_no_delta():
    make(3)
    before = StatusCount.objects.count()
    Calculation.objects.update(progress=40)
    assert StatusCount.objects.count() == before


@pytest.mark.django_db
def test_truncate_resets_the_table_counts_only():
    make(3)
    Function.objects.create(expression="t", dt=1, interval=1)
    # A run's well is a deferred foreign key: its checks must run before the table is truncated.
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql(f"TRUNCATE {TABLE} CASCADE")
    assert status_counts(model=Calculation) == {}
    assert status_counts(model=Function) == {"queued": 1}


@pytest.mark.django_db
def test_compaction_folds_the_deltas_into_one_row_per_status_and_keeps_the_totals():
    for _ in range(10):
        make(2)
        Calculation.objects.filter(pk=Calculation.objects.order_by("pk").first().pk).update(status="finished")
    expected = status_counts(model=Calculation)
    sql("SELECT core_status_count_compact(%s)", [TABLE])
    assert StatusCount.objects.filter(table_name=TABLE).count() == 2
    assert (
        status_counts(model=Calculation) == expected == actual(Calculation) == {"queued": 19, "finished": 1}
    )


@pytest.mark.django_db(transaction=True)
def test_compaction_skips_under_repeatable_read_where_it_could_miss_a_concurrent_one():
    make(2)
    make(1)
    rows = StatusCount.objects.filter(table_name=TABLE).count()
    with transaction.atomic():
        sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        sql("SELECT core_status_count_compact(%s)", [TABLE])
    assert StatusCount.objects.filter(table_name=TABLE).count() == rows > 1
    sql("SELECT core_status_count_compact(%s)", [TABLE])
    assert StatusCount.objects.filter(table_name=TABLE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_second_compaction_waits_for_nobody_and_deletes_nothing_while_one_is_open():
    """Two connections: the first compacts and keeps its transaction open; the second one's
    compaction returns at once (advisory lock taken) and both see the same exact counts."""
    make(2)
    make(3, JobStatus.FAILED)
    settings = connection.settings_dict
    other = psycopg2.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    )
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT core_status_count_compact(%s)", [TABLE])  # transaction left open
            with transaction.atomic():
                before = StatusCount.objects.filter(table_name=TABLE).count()
                sql(
                    "SELECT core_status_count_compact(%s)", [TABLE]
                )  # would block on row locks without the lock
                assert StatusCount.objects.filter(table_name=TABLE).count() == before
            other.commit()
        assert status_counts(model=Calculation) == {"queued": 2, "failed": 3} == actual(Calculation)
    finally:
        other.close()


@pytest.mark.django_db
def test_the_triggers_compact_once_a_table_has_more_than_64_deltas():
    for _ in range(64):
        make(1)
    assert StatusCount.objects.filter(table_name=TABLE).count() == 64
    make(1)  # the 65th delta folds them all
    assert list(StatusCount.objects.filter(table_name=TABLE).values_list("status", "n")) == [("queued", 65)]


@pytest.mark.django_db
def test_a_delta_reads_as_table_status_and_signed_count():
    make(2)
    assert str(StatusCount.objects.get(table_name=TABLE)) == f"{TABLE}.queued +2"
