"""The data service (service 2): its own process, URLconf and a minimal app list.

It only needs a PostgreSQL connection to run its one SQL statement; no admin, sessions or
channels. Started by `daphne apps.dataservice.asgi:application`. Its limits are the ones its
clients check against (services.py); the rest are constants of its own."""

import os

from project.settings.base import DATABASES, LOGGING, SECRET_KEY  # noqa: F401
from project.settings.env import env_str
from project.settings.services import (  # noqa: F401
    DATASERVICE_MAX_DT_HOURS,
    DATASERVICE_MAX_INTERVAL_DAYS,
    DATASERVICE_MAX_POINTS,
    DATASERVICE_MIN_DT_HOURS,
)

# apps/dataservice/asgi.py replaces DJANGO_SETTINGS_MODULE with this module and keeps the
# one it was started with: DEBUG is on only for the local stack, as in local.py.
DEBUG = os.environ.get("DATASERVICE_PARENT_SETTINGS") == "project.settings.local"

ALLOWED_HOSTS = ["*"]  # reachable inside the network only
INSTALLED_APPS = ["django.contrib.contenttypes", "apps.dataservice"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "apps.dataservice.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024
# Its own role, with no table privileges, in compose (apps/dataservice/roles.py); the main
# user where that is unset (local machine, tests).
DATABASES["default"]["USER"] = env_str("DATASERVICE_POSTGRES_USER", DATABASES["default"]["USER"])
DATABASES["default"]["PASSWORD"] = env_str("DATASERVICE_POSTGRES_PASSWORD", DATABASES["default"]["PASSWORD"])
# A database that does not answer must not hold a request (and the caller's retry) hostage:
# connecting gives up after 5 s and one statement after 10 s (100,000 points take well under
# a second). extra_float_digits=1 (PostgreSQL's default, pinned against a server-wide
# override) prints every double in its shortest exact form: t keeps its microseconds in the JSON.
DATABASES["default"]["OPTIONS"] = {
    **DATABASES["default"].get("OPTIONS", {}),
    "connect_timeout": 5,
    "options": "-c statement_timeout=10000 -c extra_float_digits=1",
}
