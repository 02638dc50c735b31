"""The data service (service 2): its own process, URLconf and a minimal app list.

It only needs a PostgreSQL connection to run its one SQL statement; no admin, sessions or
channels. Started by `daphne apps.dataservice.asgi:application`."""

from project.settings.base import DATABASES, DEBUG, LOGGING, SECRET_KEY  # noqa: F401
from project.settings.env import env_int, env_list, env_str

ALLOWED_HOSTS = env_list("DATASERVICE_ALLOWED_HOSTS", ["*"])  # reachable inside the network only
INSTALLED_APPS = ["django.contrib.contenttypes", "apps.dataservice"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "apps.dataservice.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATASERVICE_MAX_BODY_BYTES", 16 * 1024)
DATASERVICE_MAX_POINTS = env_int("DATASERVICE_MAX_POINTS", 100_000)
DATABASES["default"]["NAME"] = env_str("DATASERVICE_POSTGRES_DB", DATABASES["default"]["NAME"])
