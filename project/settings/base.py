"""Django itself: apps, middleware, database, cache, templates, static files, logging.

The other concerns have a module each, composed by local.py, production.py and test.py:
jobs.py (Celery and the job lifecycle), live.py (Channels and live events), services.py (the
data service and the export server). What an operator sets comes from the environment
(`.env.example`); knobs nobody tunes are constants here."""

from pathlib import Path
from typing import Any

from project.settings.env import env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-local-development-key")
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: it replaces runserver with the ASGI server that also speaks websockets.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "django_celery_results",
    "ninja",
    "apps.core",
    "apps.accounts",
    "apps.live",
    "apps.jobs",
    "apps.calculations",
    "apps.charts",
    "apps.wells",
]

# django-prometheus' pair counts and times every request by view (GET /metrics): first and last.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Before anything that can answer (CommonMiddleware's redirects): a preflight and every
    # answer to an allowed origin carry the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    # Outside every other: shapes for /api/ whatever Django answers on its own (a 404, a 405,
    # a bad Host's 400), and the CORS headers still reach the shaped answer.
    "apps.core.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Cross-origin browser apps calling the API (django-cors-headers): none unless listed. Only
# the API and the chart images are shared, without cookies (a page on another origin
# authenticates with a bearer token; the admin session never leaves its own site).
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/(api|charts)/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key", "if-none-match"]
CORS_EXPOSE_HEADERS = ["Location", "ETag", "WWW-Authenticate"]

# Every page: scripts, styles, fonts and requests (fetch, the websocket) from this site only;
# no inline or injected script (the admin's and Swagger's configuration travels as JSON data),
# inline styles allowed (the admin, Highcharts and Swagger UI set them), never framed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = "project.wsgi.application"

# The proxy (nginx, docker/nginx/) is the only way to the application servers: they listen on
# loopback locally and on an internal network in compose. So what it says about the client's
# scheme is trusted; it sets X-Forwarded-Proto from the connection it accepted.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env_str("POSTGRES_HOST", "127.0.0.1"),
        "PORT": env_int("POSTGRES_PORT", 5432),
        "NAME": env_str("POSTGRES_DB", "calcboard"),
        "USER": env_str("POSTGRES_USER", "postgres"),
        "PASSWORD": env_str("POSTGRES_PASSWORD", ""),
        # 0 under daphne (ws, dataservice): an ASGI request's connection is only closed by the
        # garbage collector otherwise, and they pile up. gunicorn's sync workers (scripts/run
        # web sets 600) and Celery workers (60) each reuse theirs, checked before every request.
        # Process wiring (scripts/run), not an operator's knob.
        "CONN_MAX_AGE": env_int("POSTGRES_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# Django's cache lives in Redis; django-celery-results stores task results through it.
# Two stacks sharing one Redis use two database numbers in REDIS_URL.
CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "calcboard",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ensure_admin refuses the example password and any that fails the validators above (True in
# production settings); locally `admin-change-me` is fine.
ADMIN_PASSWORD_STRICT = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Collected by scripts/bootstrap (and in the image) and served by the proxy, not by Django.
STATIC_ROOT = BASE_DIR / "staticfiles"  # /app/staticfiles in the images
# The admin live widget is plain JS/CSS served as-is: no build step.
STATICFILES_DIRS = [BASE_DIR / "frontend"]

# Bodies larger than this are refused before they reach a view; the proxy applies the same
# limit (PROXY_MAX_BODY_BYTES in scripts/run, tested equal), so they do not even reach Python.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
# The history import routes (POST /api/wells/{id}/history, /api/wells/import) stream their
# file instead and take up to this; the proxy applies the same limit to those routes only.
WELLS_IMPORT_MAX_BYTES = 200 * 1024 * 1024
# Records an import reads and checks at a time (its memory is a few times this many rows).
WELLS_IMPORT_CHUNK_ROWS = 100_000

# One level for every process: Django's root logger, gunicorn, Celery's worker and beat.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
