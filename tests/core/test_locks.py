"""Advisory locks shared by every process: a lock held by another connection is waited for,
then given up; a semaphore of slots refuses once all are taken."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.db import connection

from apps.core.locks import advisory_lock, advisory_slot

pytestmark = pytest.mark.django_db


@contextmanager
def held_elsewhere(name: str, *keys: str) -> Iterator[None]:
    """The locks `name`/`key` held by another session (another web worker)."""
    db = connection.settings_dict
    other = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"]
    )
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", [name, key])
        yield
    finally:
        other.close()  # closing the session releases its locks


def test_a_free_lock_is_taken_and_released():
    with advisory_lock(name="test.lock", key="a") as locked:
        assert locked
    with advisory_lock(name="test.lock", key="a") as again:
        assert again


def test_a_lock_held_elsewhere_is_given_up_after_the_wait_then_taken_once_free():
    with held_elsewhere("test.lock", "b"), advisory_lock(name="test.lock", key="b", wait=0.2) as locked:
        assert not locked
    with advisory_lock(name="test.lock", key="b", wait=0.2) as locked:
        assert locked


def test_slots_refuse_once_all_are_taken_elsewhere():
    with held_elsewhere("test.slots", "0"), advisory_slot(name="test.slots", slots=2) as got:
        assert got  # slot 1 was free
        with advisory_slot(name="test.slots", slots=2) as another:
            assert another  # session-level locks are re-entrant within one session
    with held_elsewhere("test.slots", "0", "1"), advisory_slot(name="test.slots", slots=2) as got:
        assert not got


def test_a_slot_is_released_when_its_block_raises():
    with pytest.raises(RuntimeError), advisory_slot(name="test.slots", slots=1):
        raise RuntimeError("drawing failed")
    with held_elsewhere("test.other", "x"), advisory_slot(name="test.slots", slots=1) as got:
        assert got
