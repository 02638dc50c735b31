"""The data service's PostgreSQL role without table privileges (apps/dataservice/roles.py).

A new role holds no table privilege, whatever tables later migrations add; the REVOKE only
clears privileges someone granted by hand to an existing role of that name."""

import os

from django.db import migrations


def create_role(apps, schema_editor):
    from apps.dataservice.roles import dataservice_role_ensure

    name = os.environ.get("DATASERVICE_POSTGRES_USER")
    if not name or name == schema_editor.connection.settings_dict["USER"]:
        return  # the data service shares the main user (local machine, tests)
    password = os.environ.get("DATASERVICE_POSTGRES_PASSWORD", "")
    if not password:
        raise RuntimeError("DATASERVICE_POSTGRES_USER is set: set DATASERVICE_POSTGRES_PASSWORD too.")
    dataservice_role_ensure(connection=schema_editor.connection, name=name, password=password)


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [migrations.RunPython(create_role, migrations.RunPython.noop, elidable=False)]
