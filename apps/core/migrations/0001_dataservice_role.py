"""Once: the data service's PostgreSQL role. Roles are now set up by the superuser before
migrations run (`manage.py database_roles_ensure`, apps/core/roles.py), because migrations run
as the application's own role, which may not create roles. Kept, empty, for the history of
databases that applied it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=False)]
