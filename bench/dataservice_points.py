"""Benchmark: the data service producing 100,000 points, against its floor.

    .venv/bin/python bench/dataservice_points.py [--url http://127.0.0.1:8100] [--rounds 15] [--quick]

Floor: the very statement the service runs (same compiled expression, same series), executed
bare by psycopg2 on a kept-open connection, fetching the JSON text. Service: `POST /points`
over HTTP (keep-alive httpx client) to a data service process, reading the whole body. The
difference is the service's own cost: request checks, compilation, Django, daphne and moving
the ~4 MB body over HTTP. Rounds alternate floor and service so both see the same machine
state; medians are printed with their ratio. Without --url the script starts its own data
service (the `scripts/run dataservice` command) on a free port and stops it afterwards.

The gain of the raw-JSON splice (`apps.core.formatting.json_object_with_raw`), in the same
rounds: the view called in this process (Django's test client, no HTTP) with it, and without
it (the points parsed and encoded again by `json.dumps`, bench/tricks.py).
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.dataservice"

import django  # noqa: E402

django.setup()
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise

import httpx  # noqa: E402
import tricks  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from apps.dataservice import views  # noqa: E402
from apps.dataservice.schemas import PointsRequest, body_parse, points_request_parse  # noqa: E402
from apps.dataservice.selectors import points_statement  # noqa: E402
from harness.processes import database_connect, free_port, start_dataservice  # noqa: E402

# 2083.3125 days at 0.5 h: floor(2083.3125 * 24 / 0.5) + 1 = 100,000 points, the maximum.
T = TypeVar("T")

CASES = [
    {"expression": "t + 2/t", "dt": 0.5, "interval": 2083.3125},
    {"expression": "sin(t)", "dt": 0.5, "interval": 2083.3125},
]


def timed(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="use this running data service instead of starting one")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 5

    db = settings.DATABASES["default"]
    process = None
    url = args.url
    if url is None:
        url = f"http://127.0.0.1:{free_port()}"
        process = start_dataservice(db["NAME"], url, name="bench-dataservice")
    conn = database_connect()
    client = httpx.Client(base_url=url, timeout=60)
    in_process = Client()
    print(f"data service {url}; PostgreSQL {db['HOST']}:{db['PORT']}/{db['NAME']}; {args.rounds} rounds\n")
    print(
        f"{'expression':<10} {'points':>7} {'floor (SQL) ms':>15} {'service ms':>11} {'ratio':>6} {'body':>8}"
        f" {'view ms':>8} {'ratio':>6} {'no splice ms':>13} {'ratio':>6}"
    )
    try:
        for case in CASES:
            request = points_request_parse(data=body_parse(json.dumps(case).encode()))

            def floor(request: PointsRequest = request) -> tuple[Any, ...]:
                with conn.cursor() as cursor:
                    cursor.execute(points_statement(request=request, now=datetime.now(UTC)))
                    return cursor.fetchone()

            def service(case: dict[str, Any] = case) -> bytes:
                response = client.post("/points", json=case)
                response.raise_for_status()
                return response.content

            def view(case: dict[str, Any] = case) -> bytes:
                response = in_process.post("/points", case, content_type="application/json")
                assert response.status_code == 200, response.content
                return response.content

            def view_without_splice() -> bytes:
                with tricks.without(views, "json_object_with_raw", tricks.json_object_plain):
                    return view()

            floor(), service(), view()  # warm the paths (plans, connections, caches)
            spliced, plain = json.loads(view()), json.loads(view_without_splice())
            # The same document but for the clock ("now" moves between the two calls).
            assert list(spliced) == list(plain) and spliced["count"] == plain["count"] == len(plain["points"])
            probes: dict[str, Callable[[], Any]] = {
                "floor": floor,
                "service": service,
                "view": view,
                "plain": view_without_splice,
            }
            times: dict[str, list[float]] = {name: [] for name in probes}
            results: dict[str, Any] = {}
            for _ in range(args.rounds):
                for name, probe in probes.items():
                    elapsed, results[name] = timed(probe)
                    times[name].append(elapsed)
            count, body = results["floor"][0], results["service"]
            assert json.loads(body)["count"] == count == 100_000, count
            floor_ms, service_ms, view_ms, plain_ms = (
                statistics.median(times[name]) * 1000 for name in probes
            )
            print(
                f"{case['expression']:<10} {count:>7} {floor_ms:>15.1f} {service_ms:>11.1f} "
                f"{service_ms / floor_ms:>5.2f}x {len(body) / 1e6:>6.2f}MB"
                f" {view_ms:>8.1f} {view_ms / floor_ms:>5.2f}x {plain_ms:>13.1f} {plain_ms / floor_ms:>5.2f}x"
            )
            saved = (plain_ms - view_ms) / plain_ms
            print(f"{'':<10} raw-JSON splice saves {saved:.0%} of the in-process view's time")
    finally:
        client.close()
        conn.close()
        if process is not None:
            process.stop()


if __name__ == "__main__":
    main()
