import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from apps.accounts.services import api_token_create
from harness import processes
from project.settings.test import child_settings_env


def permissions_grant(user, *actions: str) -> None:
    """Give `user` the model permissions of `actions` (view, add, change) on every model the
    access policy guards (apps.accounts.permissions)."""
    from django.contrib.auth.models import Permission

    from apps.calculations.models import Calculation
    from apps.charts.models import Function
    from apps.wells.models import HistoryImport, Well

    guarded = (Calculation, Function, Well, HistoryImport)
    names = [f"{action}_{model._meta.model_name}" for model in guarded for action in actions]
    user.user_permissions.add(*Permission.objects.filter(codename__in=names))


@pytest.fixture
def user(db):
    """An analyst: may read, create, refresh, cancel and re-run calculations and functions."""
    analyst = get_user_model().objects.create_user(username="analyst", password="analyst-pass-123")
    permissions_grant(analyst, "view", "add", "change")
    return analyst


@pytest.fixture
def api_token(user) -> str:
    _, raw = api_token_create(user=user, name="tests")
    return raw


@pytest.fixture
def api_client(api_token) -> Client:
    """A client that authenticates every request with a real bearer token."""
    return Client(headers={"Authorization": f"Bearer {api_token}"})


@pytest.fixture(scope="session")
def test_db_name(django_db_setup, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        return connection.settings_dict["NAME"]


@pytest.fixture(scope="session")
def celery_worker(test_db_name, dataservice, export_server) -> Iterator[processes.Process]:
    """A real Celery worker on the real RabbitMQ, acting on the test database.

    Tests that rely on it must commit their rows: use `@pytest.mark.django_db(transaction=True)`.
    """
    from apps.jobs.registry import job_kinds
    from project.celery import app

    with app.connection_for_write() as conn:
        for queue in (kind.setting("QUEUE") for kind in job_kinds):
            conn.default_channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            conn.default_channel.queue_purge(queue)
    worker = processes.start_worker(test_db_name)
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def dataservice(test_db_name) -> Iterator[str]:
    """The data service (service 2) in its own process; yields its base URL."""
    process = processes.start_dataservice(test_db_name, settings.DATASERVICE_URL)
    yield settings.DATASERVICE_URL
    process.stop()


@pytest.fixture(scope="session")
def export_server() -> Iterator[str]:
    """The Highcharts export server (service 3); yields its base URL."""
    process = processes.start_export_server(settings.EXPORT_SERVER_URL)
    yield settings.EXPORT_SERVER_URL
    process.stop()


@pytest.fixture(scope="session")
def export_server_timing_out() -> Iterator[str]:
    """A second real export server, one page, whose every PNG rasterization times out (1 ms
    allowed): the answer export server 5.1.0 gives when a render is too slow. Yields its URL."""
    url = f"http://127.0.0.1:{processes.free_port()}"
    process = processes.start_export_server(
        url,
        name="highcharts-timing-out",
        extra_env={"EXPORT_RASTERIZATION_TIMEOUT": "1", "EXPORT_SERVER_WORKERS": "1"},
    )
    yield url
    process.stop()


def unique_queue(prefix: str) -> str:
    # Never reuse a name: publishers cache which queues they declared, so a deleted queue
    # reused by name would silently swallow the next message.
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class PublishedTask:
    """One task message as a worker would receive it: the task's stable name and its args."""

    name: str
    args: list


class ScratchQueue:
    """A broker queue of its own for one test, on the real RabbitMQ, which no worker consumes:
    what the code under test published there can be counted and read.

    Declared on creation exactly as Celery declares a kind's queue (a durable queue bound to a
    direct exchange of the same name), so "nothing published" reads as 0 messages, and any
    error of the broker (the queue gone, the broker down) fails the test instead.
    """

    def __init__(self, name: str) -> None:
        from kombu import Exchange, Queue

        self.name = name
        self.queue = Queue(name, Exchange(name), routing_key=name)
        with self._connection() as conn:
            self.queue.bind(conn.default_channel).declare()

    @staticmethod
    def _connection():
        from project.celery import app

        # The read URL: `broker_down` moves only the URL the code under test publishes to, so
        # the test can still look at its queue while the broker is "down".
        return app.connection_for_read()

    def message_count(self) -> int:
        """Messages waiting in the queue (published and not yet read with `take`)."""
        with self._connection() as conn:
            return conn.default_channel.queue_declare(queue=self.name, passive=True).message_count

    def take(self) -> list[PublishedTask]:
        """Every message waiting, oldest first, removed from the queue."""
        taken: list[PublishedTask] = []
        with self._connection() as conn:
            bound = self.queue.bind(conn.default_channel)
            while (message := bound.get(no_ack=True)) is not None:
                args, _kwargs, _embed = message.decode()
                taken.append(PublishedTask(name=message.headers["task"], args=list(args)))
        return taken

    def job_ids(self) -> list[int]:
        """The job id of every task message waiting (a job task's one argument), removed."""
        return [task.args[0] for task in self.take()]

    def delete(self) -> None:
        with self._connection() as conn:
            channel = conn.channel()
            try:
                channel.queue_delete(queue=self.name)
                channel.exchange_delete(exchange=self.name)
            finally:
                channel.close()


class ScratchQueues(dict[str, ScratchQueue]):
    """Each registered job kind's scratch queue, by the kind's app label (`queues["charts"]`)."""

    @property
    def calculations(self) -> ScratchQueue:
        return self["calculations"]

    @property
    def charts(self) -> ScratchQueue:
        return self["charts"]


@pytest.fixture
def scratch_queues(settings) -> Iterator[ScratchQueues]:
    """Point the publishing of every registered job kind at a scratch queue of this test's own
    on the real broker (no worker consumes it), and delete them afterwards."""
    from apps.jobs.registry import job_kinds

    queues = ScratchQueues()
    for kind in job_kinds:
        queue = queues[kind.app_label] = ScratchQueue(unique_queue(f"test-{kind.app_label}-scratch"))
        setattr(settings, f"{kind.setting_prefix}_QUEUE", queue.name)
    yield queues
    for queue in queues.values():
        queue.delete()


DEAD_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1


@pytest.fixture
def broker_down() -> Iterator[Callable[[], None]]:
    """Fault injection: this process publishes to a broker URL where nothing listens.

    Yields a function that brings the real broker back (also done at teardown).
    """
    from project.celery import app

    original = app.conf.broker_write_url

    def restore() -> None:
        app.conf.broker_write_url = original
        app._after_fork()  # drop pooled connections/producers bound to the dead URL

    app.conf.broker_write_url = DEAD_BROKER_URL
    app._after_fork()
    yield restore
    restore()


class DemoWorker:
    """A real worker with the demo delays set, on queues of its own: jobs take seconds, so a
    test can cancel them, or kill the worker, while they run."""

    def __init__(self, process: processes.Process, *, calculations_queue: str, charts_queue: str) -> None:
        self.process = process
        self.calculations_queue, self.charts_queue = calculations_queue, charts_queue

    def use(self, settings) -> None:
        """Publish this test's jobs to this worker."""
        settings.CALCULATIONS_QUEUE, settings.CHARTS_QUEUE = self.calculations_queue, self.charts_queue

    def pool_pids(self) -> list[int]:
        """The pool processes that run the tasks (children of the worker's main process)."""
        pid = self.process.popen.pid
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]


@pytest.fixture(scope="session")
def demo_worker(test_db_name, dataservice, export_server) -> Iterator[DemoWorker]:
    run = settings.CALCULATIONS_QUEUE.removesuffix("-calculations")
    calculations_queue, charts_queue = f"{run}-demo-calculations", f"{run}-demo-charts"
    env = child_settings_env(
        CALCULATIONS_QUEUE=calculations_queue,
        CHARTS_QUEUE=charts_queue,
        # Ten kernel steps of 0.3 s, and 1 s before each outside call of a chart.
        CALCULATIONS_STEP_DELAY=0.3,
        CALCULATIONS_PROGRESS_MIN_INTERVAL=0,
        CHARTS_STEP_DELAY=1,
    )
    process = processes.start_worker(test_db_name, name="demo-worker", concurrency=1, extra_env=env)
    yield DemoWorker(process, calculations_queue=calculations_queue, charts_queue=charts_queue)
    process.stop()
    from project.celery import app

    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            for queue in (calculations_queue, charts_queue):
                channel.queue_delete(queue=queue)
                channel.exchange_delete(exchange=queue)
        finally:
            channel.close()


@pytest.fixture(scope="session")
def front_door(test_db_name) -> Iterator[processes.FrontDoor]:
    """The web tier (proxy -> gunicorn, /ws/ -> daphne) on free ports, on the test database.

    Tests that rely on it must commit their rows: use `@pytest.mark.django_db(transaction=True)`.
    """
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=processes.ROOT,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test"},
    )
    server = processes.FrontDoor(test_db_name)
    yield server
    server.stop()
