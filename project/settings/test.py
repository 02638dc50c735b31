"""Test run: real PostgreSQL, RabbitMQ and Redis, kept apart from a local stack on the same
machine (own Redis database, channel prefix, broker queues and service ports)."""

import os

for _name, _value in {
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "CACHE_KEY_PREFIX": "calcboard-test",
    "CHANNELS_PREFIX": "calcboard-test",
    "CALCULATIONS_QUEUE": "test-calculations",
    "CHARTS_QUEUE": "test-charts",
    "DATASERVICE_URL": "http://127.0.0.1:18100",
    "EXPORT_SERVER_URL": "http://127.0.0.1:17801",
    "CALCBOARD_KERNEL_STEP_DELAY": "0",
}.items():
    os.environ.setdefault(_name, _value)

from project.settings.base import *  # noqa: E402,F403
from project.settings.base import DATABASES  # noqa: E402
from project.settings.env import env_str  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
DATABASES["default"]["TEST"] = {"NAME": env_str("POSTGRES_TEST_DB", "test_calcboard")}
