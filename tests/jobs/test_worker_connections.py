"""Worker processes commit asynchronously (apps.jobs.services.worker_connection_commit_asynchronously);
every other process keeps PostgreSQL's synchronous default."""

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from apps.jobs.services import worker_connection_commit_asynchronously
from project.celery import _worker_commits_asynchronously

pytestmark = pytest.mark.django_db(transaction=True)


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.fixture
def worker_process():
    """What the worker_process_init signal runs in a fresh worker child, undone afterwards."""
    yield _worker_commits_asynchronously
    connection_created.disconnect(worker_connection_commit_asynchronously)
    connection.close()


def test_every_new_connection_of_a_worker_process_commits_asynchronously(worker_process):
    assert synchronous_commit() == "on"  # this (test) process is not a worker: the safe default
    worker_process()
    connection.close()
    assert synchronous_commit() == "off"
    connection.close()
    assert synchronous_commit() == "off"  # a reconnect gets it again


def test_with_the_switch_off_a_worker_process_keeps_the_synchronous_default(worker_process, settings):
    settings.JOBS_WORKER_ASYNCHRONOUS_COMMIT = False
    worker_process()
    connection.close()
    assert synchronous_commit() == "on"
