"""Test run: real PostgreSQL, RabbitMQ and Redis, kept apart from a local stack and from any
other test run on the same machine.

Every name a run shares with the machine (test database, broker queues, channel and cache
prefixes) is derived from one run id, chosen by the first process that imports these
settings and passed to every child through the environment (CALCBOARD_TEST_RUN), so the
worker, the data service and the servers the tests start all agree with the test process.

A child that needs other values (a slow kernel, a queue of its own, a service behind a
faulty proxy, a private Redis) gets them through one test-only variable,
CALCBOARD_TEST_SETTINGS: a JSON object of settings applied over these, then the settings
derived from them are derived again (the cache and the channel layer from REDIS_URL; the job
kinds' limits are derived as they are read, apps.jobs.registry). `child_settings_env` builds
it; the run's own choices (the services' ports) travel the same way.
"""

import json
import os
import socket
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RUN_ID = os.environ.setdefault("CALCBOARD_TEST_RUN", f"{os.getpid()}")

from project.settings.base import *  # noqa: E402,F403
from project.settings.base import CACHES, DATABASES  # noqa: E402
from project.settings.jobs import *  # noqa: E402,F403
from project.settings.live import *  # noqa: E402,F403
from project.settings.live import CHANNEL_LAYERS  # noqa: E402
from project.settings.services import *  # noqa: E402,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
REDIS_URL = "redis://127.0.0.1:6379/1"
DATABASES["default"]["TEST"] = {"NAME": f"test_calcboard_{RUN_ID}"}
CALCULATIONS_QUEUE = f"test-{RUN_ID}-calculations"
CHARTS_QUEUE = f"test-{RUN_ID}-charts"
WELLS_QUEUE = f"test-{RUN_ID}-wells"
CALCULATIONS_STEP_DELAY = CHARTS_STEP_DELAY = 0.0

# The first process of a run chooses free ports for the two services; its children inherit
# the choice with every other override.
_OVERRIDES: dict[str, Any] = json.loads(os.environ.get("CALCBOARD_TEST_SETTINGS") or "{}")
_OVERRIDES.setdefault("DATASERVICE_URL", f"http://127.0.0.1:{_free_port()}")
_OVERRIDES.setdefault("EXPORT_SERVER_URL", f"http://127.0.0.1:{_free_port()}")
os.environ["CALCBOARD_TEST_SETTINGS"] = json.dumps(_OVERRIDES)
globals().update(_OVERRIDES)
CACHES["default"].update(LOCATION=REDIS_URL, KEY_PREFIX=f"calcboard-test-{RUN_ID}")
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = REDIS_URL
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"calcboard-test-{RUN_ID}"


def child_settings_env(**overrides: Any) -> dict[str, str]:
    """The environment entry that gives a child process these settings on top of this run's
    (`extra_env=child_settings_env(CALCULATIONS_STEP_DELAY=0.4)`)."""
    return {"CALCBOARD_TEST_SETTINGS": json.dumps({**_OVERRIDES, **overrides})}


from celery.signals import worker_process_shutdown  # noqa: E402


@worker_process_shutdown.connect
def _save_child_coverage(**_kwargs: Any) -> None:
    """A prefork child leaves through os._exit, which skips coverage's own atexit save: the code
    the real worker ran would go uncounted. (Not in production settings: coverage is a test tool.)"""
    try:
        import coverage
    except ImportError:  # pragma: no cover - coverage is a test dependency
        return
    if (current := coverage.Coverage.current()) is not None:
        current.stop()
        current.save()
