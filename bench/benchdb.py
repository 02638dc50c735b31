"""Plumbing every benchmark shares: a free local port and a throwaway database.

The database helpers read the server from Django's settings, so call them after
DJANGO_SETTINGS_MODULE is set; they connect to the `postgres` maintenance database.
"""

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_execute(*statements: str) -> None:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def database_recreate(name: str) -> None:
    """An empty database `name`, whatever an earlier (maybe aborted) run left behind."""
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    from django.db import connections

    connections.close_all()
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
