"""The data service's own PostgreSQL role: it may log in and compute, and read nothing.

The data service runs one `generate_series` statement built from user-supplied expressions.
The compiler only emits fixed pieces, but defence in depth costs nothing here: its role holds
no privilege on any table (PostgreSQL grants none to a new role, and PUBLIC none on tables),
so even a compiler bug could not read calculations, users or sessions. Created (or its
password updated) by `migrate` when DATASERVICE_POSTGRES_USER is set, as it is in compose;
locally and in the tests the data service shares the main user, on trusted loopback.
"""

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg2 import sql


def dataservice_role_ensure(*, connection: BaseDatabaseWrapper, name: str, password: str) -> None:
    """Create the role `name` (or reset its password) with LOGIN on the current database and
    no other privilege; revoke any table privilege it may have been given by hand."""
    role = sql.Identifier(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        cursor.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %s").format(role),
            [password],
        )
        cursor.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
        cursor.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(role))
        cursor.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), role
            )
        )
