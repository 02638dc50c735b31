"""`manage.py database_roles_ensure`: the application's and the data service's PostgreSQL
roles, created or updated as the superuser before `migrate` runs as the application's role
(apps/core/roles.py).

Reads POSTGRES_SUPERUSER and POSTGRES_SUPERUSER_PASSWORD (compose gives them to the migrate
container only). Without POSTGRES_SUPERUSER it does nothing: locally and in the tests the
application's user is the one the developer's PostgreSQL trusts on loopback.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.core.roles import RolesError, database_roles_ensure


class Command(BaseCommand):
    help = "Create or update the application's and the data service's PostgreSQL roles (as the superuser)."

    def handle(self, *args: Any, **options: Any) -> None:
        env = {
            "POSTGRES_SUPERUSER": os.environ.get("POSTGRES_SUPERUSER", ""),
            "POSTGRES_SUPERUSER_PASSWORD": os.environ.get("POSTGRES_SUPERUSER_PASSWORD", ""),
            "DATASERVICE_POSTGRES_USER": os.environ.get("DATASERVICE_POSTGRES_USER", ""),
            "DATASERVICE_POSTGRES_PASSWORD": os.environ.get("DATASERVICE_POSTGRES_PASSWORD", ""),
        }
        try:
            roles = database_roles_ensure(database=connection.settings_dict, env=env)
        except RolesError as exc:
            raise CommandError(str(exc)) from exc
        if roles is None:
            self.stdout.write("POSTGRES_SUPERUSER is not set: the roles are left as they are.")
        else:
            self.stdout.write(f"PostgreSQL roles ready: {', '.join(roles)} (none a superuser).")
