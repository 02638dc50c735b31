"""Shared machinery of the list benchmarks (bench/calculations_list.py, bench/functions_list.py).

Two databases made by the run (harness.processes.database_recreate), migrated, one holding `--small`
rows (1,000: the floor) and one `--large` (1,000,000), loaded in one `INSERT ... SELECT
generate_series` each and then `VACUUM ANALYZE`d. Requests go in-process through Django's
test client (auth, middleware, ninja, the real selector; no network) with persistent
connections, and a database router points each request at one of the two databases, so the
floor and every large-table case are sampled in the same loop, one after another: background
load hits them all alike. For each case the median time, its ratio to the floor and the median
time spent in SQL (the rest is Python) are printed.
"""

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SMALL_DB = f"bench_lists_{os.getpid()}_small"
LARGE_DB = f"bench_lists_{os.getpid()}_large"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "list_settings",
        "BENCH_LIST_SMALL_DB": SMALL_DB,
        "BENCH_LIST_LARGE_DB": LARGE_DB,
        "POSTGRES_CONN_MAX_AGE": "600",  # gunicorn keeps its connections: so does the bench
        "LOG_LEVEL": "WARNING",
    }
)

import django  # noqa: E402

django.setup()

import list_settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.models import Model  # noqa: E402
from django.test import Client  # noqa: E402

from apps.core.listing import status_names  # noqa: E402
from harness.processes import database_drop, database_recreate  # noqa: E402


@dataclass
class Case:
    label: str
    database: str  # "default" (small) or "large"
    params: dict
    target: float | None = None  # max ratio to the floor
    samples: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)


def status_values(model: type[Model]) -> list[str]:
    return status_names(model)


def databases_prepare(*, table: str, load: Callable[[object, int], None], small: int, large: int) -> None:
    """Both databases created, migrated and loaded; `load(cursor, rows)` fills `table` in one.

    The table's indexes (all but its constraints') are dropped for the load and built again
    afterwards: building an index once is several times faster than growing it row by row.
    """
    for alias, rows in (("default", small), ("large", large)):
        name = connections.databases[alias]["NAME"]
        database_recreate(name)
        call_command("migrate", database=alias, verbosity=0)
        began = time.perf_counter()
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes = cursor.fetchall()
            for index, _ in indexes:
                cursor.execute(f'DROP INDEX "{index}"')
            load(cursor, rows)
            for _, definition in indexes:
                cursor.execute(definition)
        connections[alias].close()
        with connections[alias].cursor() as cursor:  # VACUUM cannot run in a transaction block
            cursor.execute("VACUUM ANALYZE")
        print(f"loaded {rows:,} rows into {name} in {time.perf_counter() - began:.1f} s")


@functools.cache
def api_client() -> Client:
    """A client with one bearer token that both databases know (the same digest in each)."""
    from django.contrib.auth import get_user_model

    from apps.accounts.models import ApiToken
    from apps.accounts.services import api_token_create

    # The API needs model permissions (apps.accounts.permissions); a superuser has them all.
    list_settings.AliasRouter.alias = "default"
    user = get_user_model().objects.create(username="bench", is_superuser=True)
    token, raw = api_token_create(user=user, name="bench")
    list_settings.AliasRouter.alias = "large"
    user = get_user_model().objects.create(username="bench", is_superuser=True)
    ApiToken.objects.create(user=user, name=token.name, prefix=token.prefix, digest=token.digest)
    return Client(headers={"Authorization": f"Bearer {raw}"}, HTTP_HOST="localhost")


def measure(*, url: str, cases: list[Case], samples: int) -> None:
    client = api_client()
    spent = [0.0]

    def timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - began

    def get(case: Case) -> dict:
        list_settings.AliasRouter.alias = case.database
        response = client.get(url, case.params)
        assert response.status_code == 200, (case.label, response.content[:300])
        return response.json()

    for case in cases:  # warm-up, and every case answers
        for _ in range(10):
            get(case)
    wrappers = [connections[alias].execute_wrapper(timer) for alias in ("default", "large")]
    for wrapper in wrappers:
        wrapper.__enter__()
    try:
        for _ in range(samples):
            for case in cases:
                spent[0] = 0.0
                began = time.perf_counter()
                get(case)
                case.samples.append(time.perf_counter() - began)
                case.sql.append(spent[0])
    finally:
        for wrapper in wrappers:
            wrapper.__exit__(None, None, None)


def report(*, title: str, cases: list[Case]) -> bool:
    floor = statistics.median(cases[0].samples)
    print(
        f"\n{title} (medians of {len(cases[0].samples)} samples each, load average {os.getloadavg()[0]:.2f})"
    )
    print(f"  {'case':58s} {'ms':>7s} {'ratio':>6s} {'sql ms':>7s}  target")
    met = True
    for case in cases:
        value = statistics.median(case.samples)
        ratio = value / floor
        verdict = ""
        if case.target is not None:
            ok = ratio <= case.target
            met &= ok
            verdict = f"<= {case.target:.2f}x {'met' if ok else 'NOT met'}"
        sql_ms = statistics.median(case.sql) * 1000
        print(f"  {case.label:58s} {value * 1000:7.2f} {ratio:5.2f}x {sql_ms:7.2f}  {verdict}")
    print(f"targets: {'all met' if met else 'NOT all met'}")
    return met


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    return parser.parse_args()


def databases_drop() -> None:
    connections.close_all()
    for name in (SMALL_DB, LARGE_DB):
        database_drop(name)
