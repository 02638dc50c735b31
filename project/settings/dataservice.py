"""The data service (service 2): its own process, URLconf and a minimal app list.

It only needs a PostgreSQL connection to run its one SQL statement; no admin, sessions or
channels. Started by `daphne apps.dataservice.asgi:application`."""

import os

from project.settings.base import (  # noqa: F401
    DATABASES,
    DATASERVICE_MAX_DT_HOURS,
    DATASERVICE_MAX_INTERVAL_DAYS,
    DATASERVICE_MAX_POINTS,
    DATASERVICE_MIN_DT_HOURS,
    DEBUG,
    LOGGING,
    SECRET_KEY,
)
from project.settings.env import env_int, env_list, env_str

# Started from the production image (whose DJANGO_SETTINGS_MODULE apps/dataservice/asgi.py
# replaces with this module), DEBUG is off whatever the environment says, as in production.py.
if os.environ.get("DATASERVICE_PARENT_SETTINGS") == "project.settings.production":
    DEBUG = False

ALLOWED_HOSTS = env_list("DATASERVICE_ALLOWED_HOSTS", ["*"])  # reachable inside the network only
INSTALLED_APPS = ["django.contrib.contenttypes", "apps.dataservice"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "apps.dataservice.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATASERVICE_MAX_BODY_BYTES", 16 * 1024)
DATABASES["default"]["NAME"] = env_str("DATASERVICE_POSTGRES_DB", DATABASES["default"]["NAME"])
# Its own role, with no table privileges, in compose (apps/dataservice/roles.py); the main
# user where that is unset (local machine, tests).
DATABASES["default"]["USER"] = env_str("DATASERVICE_POSTGRES_USER", DATABASES["default"]["USER"])
DATABASES["default"]["PASSWORD"] = env_str("DATASERVICE_POSTGRES_PASSWORD", DATABASES["default"]["PASSWORD"])
# A database that does not answer must not hold a request (and the caller's retry) hostage:
# connecting gives up after DATASERVICE_DB_CONNECT_TIMEOUT s and one statement after
# DATASERVICE_STATEMENT_TIMEOUT_MS (100,000 points take well under a second).
# extra_float_digits=1 (PostgreSQL's default, pinned against a server-wide override) prints
# every double in its shortest exact form: t keeps its microseconds in the JSON.
_STATEMENT_TIMEOUT_MS = env_int("DATASERVICE_STATEMENT_TIMEOUT_MS", 10_000)
DATABASES["default"]["OPTIONS"] = {
    **DATABASES["default"].get("OPTIONS", {}),
    "connect_timeout": env_int("DATASERVICE_DB_CONNECT_TIMEOUT", 5),
    "options": f"-c statement_timeout={_STATEMENT_TIMEOUT_MS} -c extra_float_digits=1",
}
