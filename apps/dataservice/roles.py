"""The data service's own PostgreSQL role: it may log in and compute, and read nothing.

The data service runs one `generate_series` statement built from user-supplied expressions.
The compiler only emits fixed pieces, but defence in depth costs nothing here: its role holds
no privilege on any table (PostgreSQL grants none to a new role, and PUBLIC none on tables),
so even a compiler bug could not read calculations, users or sessions. Created (or its
password updated) by `manage.py database_roles_ensure` (apps/core/roles.py, run by
`scripts/run migrate`) when DATASERVICE_POSTGRES_USER is set, as it is in compose; locally and
in the tests the data service shares the main user, on trusted loopback.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

from apps.core.roles import database_role_ensure


def dataservice_role_ensure(*, connection: BaseDatabaseWrapper, name: str, password: str) -> None:
    """Create the role `name` (or reset its password) with LOGIN on the current database and
    no other privilege; revoke any table privilege it may have been given by hand."""
    with connection.cursor() as cursor:
        database = connection.settings_dict["NAME"]
        database_role_ensure(cursor=cursor, database=database, name=name, password=password, owner=False)
