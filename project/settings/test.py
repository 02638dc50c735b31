"""Test run: real PostgreSQL, RabbitMQ and Redis, kept apart from a local stack and from any
other test run on the same machine.

Every name a run shares with the machine (test database, broker queues, channel and cache
prefixes, service ports) is derived from one run id, chosen by the first process that imports
these settings and passed to every child through the environment, so the worker, the data
service and the servers the tests start all agree with the test process.
"""

import os
import socket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RUN_ID = os.environ.setdefault("CALCBOARD_TEST_RUN", f"{os.getpid()}")

for _name, _value in {
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "CACHE_KEY_PREFIX": f"calcboard-test-{RUN_ID}",
    "CHANNELS_PREFIX": f"calcboard-test-{RUN_ID}",
    "CALCULATIONS_QUEUE": f"test-{RUN_ID}-calculations",
    "CHARTS_QUEUE": f"test-{RUN_ID}-charts",
    "POSTGRES_TEST_DB": f"test_calcboard_{RUN_ID}",
    "DATASERVICE_URL": f"http://127.0.0.1:{_free_port()}",
    "EXPORT_SERVER_URL": f"http://127.0.0.1:{_free_port()}",
    "CALCULATIONS_STEP_DELAY": "0",
    "CHARTS_STEP_DELAY": "0",
}.items():
    # setdefault: a child process inherits the parent's values instead of choosing its own.
    os.environ.setdefault(_name, _value)

from project.settings.base import *  # noqa: E402,F403
from project.settings.base import DATABASES  # noqa: E402
from project.settings.env import env_str  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
DATABASES["default"]["TEST"] = {"NAME": env_str("POSTGRES_TEST_DB")}


from celery.signals import worker_process_shutdown  # noqa: E402


@worker_process_shutdown.connect
def _save_child_coverage(**_kwargs) -> None:
    """A prefork child leaves through os._exit, which skips coverage's own atexit save: the code
    the real worker ran would go uncounted. (Not in production settings: coverage is a test tool.)"""
    try:
        import coverage
    except ImportError:  # pragma: no cover - coverage is a test dependency
        return
    if (current := coverage.Coverage.current()) is not None:
        current.stop()
        current.save()
