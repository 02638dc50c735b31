"""`manage.py database_roles_ensure` against the real PostgreSQL: the application's own role
owns what it creates and nothing else, the data service's role reads nothing."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from apps.core.roles import RolesError, database_roles_ensure

PASSWORD = "role-pass-123"


@pytest.fixture
def roles(transactional_db):
    names = (f"test_app_{settings.RUN_ID}", f"test_points_{settings.RUN_ID}")
    yield names
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
            if cursor.fetchone():
                cursor.execute(f'DROP OWNED BY "{name}"')
                cursor.execute(f'DROP ROLE "{name}"')


@contextmanager
def connect_as(name: str) -> Iterator:
    """A cursor of a connection as `name`, in autocommit, closed afterwards."""
    db = connection.settings_dict
    conn = psycopg2.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=name, password=PASSWORD)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def ensure_as_app(app: str, points: str, **env: str) -> list[str] | None:
    """Set the roles up the way compose's migrate does: POSTGRES_USER is the app's own role,
    the test database's user acts as the superuser."""
    superuser = connection.settings_dict
    env = {
        "POSTGRES_SUPERUSER": superuser["USER"],
        "POSTGRES_SUPERUSER_PASSWORD": superuser["PASSWORD"] or "",
        "DATASERVICE_POSTGRES_USER": points,
        "DATASERVICE_POSTGRES_PASSWORD": PASSWORD,
        **env,
    }
    return database_roles_ensure(database={**superuser, "USER": app, "PASSWORD": PASSWORD}, env=env)


def test_the_app_role_is_no_superuser_and_owns_only_what_it_creates(roles):
    app, points = roles
    with connection.cursor() as cursor:  # a stack whose app user was the image's superuser
        cursor.execute(f'CREATE ROLE "{app}" LOGIN SUPERUSER CREATEDB CREATEROLE')
    assert ensure_as_app(app, points) == [app, points]
    assert ensure_as_app(app, points) == [app, points]  # again: idempotent

    with connect_as(app) as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False, False)
        cursor.execute("CREATE TABLE roles_probe (id int)")  # migrations create the app's tables
        cursor.execute("INSERT INTO roles_probe VALUES (1)")
        cursor.execute("DROP TABLE roles_probe")
    for statement in (
        f'CREATE ROLE "{app}_x"',
        "SELECT * FROM auth_user LIMIT 1",
        "CREATE DATABASE roles_probe",
    ):
        with connect_as(app) as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(statement)


def test_the_data_service_role_reads_no_table(roles):
    app, points = roles
    ensure_as_app(app, points)
    with connect_as(points) as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("SELECT * FROM calculations_calculation LIMIT 1")


def test_without_a_superuser_it_leaves_the_roles_alone(db, monkeypatch, capsys):
    monkeypatch.delenv("POSTGRES_SUPERUSER", raising=False)
    call_command("database_roles_ensure")
    assert "left as they are" in capsys.readouterr().out


def test_it_refuses_an_app_user_that_is_the_superuser(db, monkeypatch):
    monkeypatch.setenv("POSTGRES_SUPERUSER", connection.settings_dict["USER"])
    with pytest.raises(CommandError, match="own role"):
        call_command("database_roles_ensure")


def test_a_data_service_role_needs_its_password(roles):
    app, points = roles
    with pytest.raises(RolesError, match="DATASERVICE_POSTGRES_PASSWORD"):
        ensure_as_app(app, points, DATASERVICE_POSTGRES_PASSWORD="")


def test_the_command_sets_the_roles_up_when_a_superuser_is_given(db, monkeypatch, capsys):
    from apps.core.management.commands import database_roles_ensure as command

    calls = []
    monkeypatch.setattr(
        command, "database_roles_ensure", lambda **kw: calls.append(kw) or ["calcboard", "points"]
    )
    call_command("database_roles_ensure")
    assert "PostgreSQL roles ready: calcboard, points" in capsys.readouterr().out
    assert calls[0]["database"] is connection.settings_dict


def test_a_data_service_sharing_the_app_role_gets_no_second_role(roles):
    app, _ = roles
    assert ensure_as_app(app, app) == [app]
