"""The WSGI application: gunicorn serves Django's HTTP (admin, API, chart images) with it
(`scripts/run web`); the websockets are daphne's (project/asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

application = get_wsgi_application()
