from collections.abc import Iterator

import psycopg2
import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def pg() -> Iterator[psycopg2.extensions.connection]:
    """A plain psycopg2 connection to the real PostgreSQL (maintenance database, autocommit):
    renders and evaluates compiled SQL without touching any table."""
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    conn.autocommit = True
    yield conn
    conn.close()
