"""Production (the compose stack, `DJANGO_SETTINGS_MODULE=project.settings.production`).

Everything secret or host-specific comes from the environment and has no default here, so
a missing value stops the process at start-up instead of running with a guess. DEBUG is off
whatever the environment says. Passes `manage.py check --deploy --fail-level WARNING`
(tests/deploy/test_production_settings.py).
"""

from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

from project.settings.base import *  # noqa: F403
from project.settings.base import MIDDLEWARE
from project.settings.env import env_bool, env_list, env_str
from project.settings.jobs import *  # noqa: F403
from project.settings.live import *  # noqa: F403
from project.settings.services import *  # noqa: F403

DEBUG = False

SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # no default: refuse to start without one
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("insecure", "change-me", "django-insecure")):
    # Django's own check only warns; a guessable key forges sessions and signed values.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a random string of at least 50 characters, for example "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "Set DJANGO_ALLOWED_HOSTS to the comma-separated host names the site answers to."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

ADMIN_PASSWORD_STRICT = True

# The container's health probe, /readyz and /metrics are answered before host validation and
# the HTTPS redirect (internal callers: 127.0.0.1, web:8000).
MIDDLEWARE = ["project.health.HealthzMiddleware", *MIDDLEWARE]

# HTTPS is terminated by the proxy (docker/nginx/), which sets X-Forwarded-Proto
# (SECURE_PROXY_SSL_HEADER, base.py). One switch, on by default: the redirect, Secure cookies
# and HSTS all follow it. `.env.example` turns it off only for the plain-HTTP trial on
# localhost (over TLS the proxy itself redirects, marks cookies Secure and sends HSTS
# whatever this says).
_https = env_bool("DJANGO_HTTPS", True)
SECURE_SSL_REDIRECT = _https
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if _https else 0  # one year, as the proxy sends over TLS
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _https
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Static files are collected into the image at build time with hashed names and a .gz beside
# each, and served by the proxy (gzip_static), which lets browsers cache them for a year.
STORAGES = {
    **globals().get("STORAGES", global_settings.STORAGES),  # keep a "default" storage base.py may set
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
