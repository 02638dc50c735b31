"""The data service's own PostgreSQL role (compose): it may log in and compute, and read no
table; and its DEBUG is off when the production image starts it."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection

from apps.dataservice.roles import dataservice_role_ensure

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def role(transactional_db):
    name = f"test_points_{settings.RUN_ID}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def connect_as(name: str):
    db = connection.settings_dict
    return psycopg2.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=name, password="pw")


def test_the_role_computes_but_reads_no_table(role):
    with connection.cursor() as cursor:  # a privilege granted by hand is taken away again
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
        cursor.execute(f'GRANT SELECT ON calculations_calculation TO "{role}"')
    dataservice_role_ensure(connection=connection, name=role, password="pw")
    dataservice_role_ensure(connection=connection, name=role, password="pw")  # idempotent

    with connect_as(role) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM generate_series(1, 10)")
        assert cursor.fetchone() == (10,)
    for table in ("calculations_calculation", "auth_user", "django_session", "accounts_apitoken"):
        with (
            connect_as(role) as conn,
            conn.cursor() as cursor,
            pytest.raises(psycopg2.errors.InsufficientPrivilege),
        ):
            cursor.execute(f"SELECT * FROM {table} LIMIT 1")


def settings_value(name: str, **env: str) -> str:
    code = f"import apps.dataservice.asgi; from django.conf import settings; print(settings.{name})"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATASERVICE_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_its_debug_is_off_under_the_production_image_whatever_the_environment_says():
    production = {"DJANGO_SETTINGS_MODULE": "project.settings.production", "DJANGO_DEBUG": "true"}
    assert settings_value("DEBUG", **production) == "False"
    assert (
        settings_value("DEBUG", DJANGO_SETTINGS_MODULE="project.settings.local", DJANGO_DEBUG="true")
        == "True"
    )


def test_it_connects_as_its_own_role_when_one_is_configured():
    env = {"DATASERVICE_POSTGRES_USER": "calcboard_points", "DATASERVICE_POSTGRES_PASSWORD": "secret"}
    assert settings_value("DATABASES['default']['USER']", **env) == "calcboard_points"
