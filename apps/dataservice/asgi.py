"""Entry point of the data service: `daphne apps.dataservice.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

# Its own settings module, whatever DJANGO_SETTINGS_MODULE the shared image environment sets;
# that one is kept so its settings know when they run in production.
os.environ.setdefault("DATASERVICE_PARENT_SETTINGS", os.environ.get("DJANGO_SETTINGS_MODULE", ""))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.dataservice"

application = get_asgi_application()
