"""The PostgreSQL roles of a deployment, set up by the superuser before migrations run.

In compose the database server's superuser (the official image makes POSTGRES_USER one) is
used for this step only (`manage.py database_roles_ensure`, from `scripts/run migrate`). The
application, migrations included, connects as its own role: it owns the tables it creates and
may create tables in the `public` schema, and nothing else (no superuser, no new databases or
roles, no replication, no bypassing row security), so an SQL injection could never act as the
superuser. The data service's role may only log in and compute (apps/dataservice/roles.py).
"""

from collections.abc import Mapping
from typing import Any

import psycopg2
from psycopg2 import sql

EXTENSIONS = ("pg_trgm",)  # apps/core/migrations/0002_list_counters.py
_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


def database_role_ensure(*, cursor: Any, database: str, name: str, password: str, owner: bool) -> None:
    """Create the login role `name` (or reset its password and attributes) on `database`, with
    a superuser's `cursor` (Django's or psycopg2's). `owner`: it may create tables in `public`
    (the application); otherwise it holds no table privilege (any granted by hand is revoked)."""
    role = sql.Identifier(name)
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    cursor.execute(sql.SQL(f"{verb} ROLE {{}} {_ATTRIBUTES} PASSWORD %s").format(role), [password])
    cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role))
    if owner:
        # PostgreSQL 15 no longer lets every role create in `public`: grant it explicitly.
        cursor.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
    else:
        cursor.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
        cursor.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(role))


class RolesError(Exception):
    """The roles cannot be set up as configured; the text says which variable to fix."""


def database_roles_ensure(*, database: Mapping[str, Any], env: Mapping[str, str]) -> list[str] | None:
    """The application's role (`database`'s USER and PASSWORD: Django's settings) and, when
    DATASERVICE_POSTGRES_USER is set, the data service's, created or updated through a
    connection as POSTGRES_SUPERUSER. Returns the roles, or None without POSTGRES_SUPERUSER."""
    superuser = env.get("POSTGRES_SUPERUSER", "")
    if not superuser:
        return None
    if database["USER"] == superuser:
        raise RolesError(
            f"POSTGRES_USER must be the application's own role, not the superuser {superuser!r}."
        )
    points = env.get("DATASERVICE_POSTGRES_USER", "")
    points_password = env.get("DATASERVICE_POSTGRES_PASSWORD", "")
    if points and not points_password:
        raise RolesError("DATASERVICE_POSTGRES_USER is set: set DATASERVICE_POSTGRES_PASSWORD too.")
    admin = psycopg2.connect(
        host=database["HOST"],
        port=database["PORT"],
        dbname=database["NAME"],
        user=superuser,
        password=env.get("POSTGRES_SUPERUSER_PASSWORD", ""),
        connect_timeout=10,
    )
    admin.autocommit = True
    roles = [database["USER"]]
    try:
        with admin.cursor() as cursor:
            # The extensions the migrations use, so the application's role needs no right to
            # create them (Django's CreateExtension skips one that exists).
            for extension in EXTENSIONS:
                cursor.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
            database_role_ensure(
                cursor=cursor,
                database=database["NAME"],
                name=database["USER"],
                password=database["PASSWORD"],
                owner=True,
            )
            if points and points != database["USER"]:
                database_role_ensure(
                    cursor=cursor,
                    database=database["NAME"],
                    name=points,
                    password=points_password,
                    owner=False,
                )
                roles.append(points)
    finally:
        admin.close()
    return roles
