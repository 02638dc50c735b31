from collections.abc import Iterator

import psycopg2
import pytest

from harness.processes import database_connect


@pytest.fixture(scope="session")
def pg() -> Iterator[psycopg2.extensions.connection]:
    """A plain psycopg2 connection to the real PostgreSQL (maintenance database, autocommit):
    renders and evaluates compiled SQL without touching any table."""
    conn = database_connect("postgres")
    yield conn
    conn.close()
