"""Benchmark: GET /api/calculations/{id} for a 10-year daily result (3,653 rows).

Floor: the bare SQL that builds the same JSON document in PostgreSQL, fetched as text by a
plain psycopg2 connection. Measured against it, in the same run and interleaved sample by
sample (so background load hits both alike):
  * the endpoint through Django's test client (auth, middleware, ninja; no network),
  * the endpoint over HTTP through the proxy and gunicorn (the real web tier) with a keep-alive client,
  * the endpoint in-process without the raw-JSON splice (`apps.core.formatting.json_object_with_raw`):
    the result rows parsed and encoded again by `json.dumps` (bench/tricks.py), what the
    splice saves.
Target: endpoint median <= 2x the floor.

    .venv/bin/python bench/calculations_detail.py [--samples 300] [--quick]
"""

import argparse
import json

import calculations_common as common  # imported first: it sets Django up
import httpx
import tricks
from django.test import Client

from apps.calculations import selectors
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import calculation_run, calculation_validate

FLOOR_SQL = f"""
    SELECT json_build_object(
               'id', c.id,
               'launched_at', to_char(c.launched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'status', c.status,
               'result', (SELECT json_agg(r ORDER BY r.date)
                            FROM (SELECT date, liquid, oil, water, wct
                                    FROM {CalculationRow._meta.db_table} WHERE calculation_id = c.id) r)
           )::text
      FROM {Calculation._meta.db_table} c
     WHERE c.id = %s
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--quick", action="store_true", help="30 samples, no web tier (in-process figures only)"
    )
    args = parser.parse_args()
    if args.quick:
        args.samples = 30

    common.database_prepare()
    calculation = Calculation.objects.create(
        **calculation_validate(date_start="2015-01-01", date_fin="2024-12-31", lag=1, name="Ten years daily")
    )
    calculation_run(calculation_id=calculation.pk)
    rows = CalculationRow.objects.filter(calculation=calculation).count()
    token = common.api_token()
    url = f"/api/calculations/{calculation.pk}"

    raw = common.raw_connection()
    cursor = raw.cursor()
    client = Client(headers={"Authorization": f"Bearer {token}"}, HTTP_HOST="localhost")
    web, base = (None, None) if args.quick else common.web_tier_start()
    http = httpx.Client(base_url=base or "http://unused", headers={"Authorization": f"Bearer {token}"})
    try:

        def floor() -> str:
            cursor.execute(FLOOR_SQL, [calculation.pk])
            return cursor.fetchone()[0]

        def endpoint() -> bytes:
            response = client.get(url)
            assert response.status_code == 200
            return response.content

        def over_http() -> bytes:
            response = http.get(url)
            assert response.status_code == 200
            return response.content

        def endpoint_plain_json() -> bytes:
            with tricks.without(selectors, "json_object_with_raw", tricks.json_object_plain):
                return endpoint()

        # Same document from all of them (the floor really is the same work).
        reference = json.loads(floor())
        assert json.loads(endpoint()) == reference == json.loads(endpoint_plain_json())
        assert len(reference["result"]) == rows

        probes = {"floor": floor, "endpoint": endpoint, "plain": endpoint_plain_json}
        if web is not None:
            assert json.loads(over_http()) == reference
            probes["http"] = over_http
        timings = common.interleaved_timings(probes, samples=args.samples, warmup=20)
    finally:
        http.close()
        if web is not None:
            web.stop()
        raw.close()

    size = len(endpoint())
    floor_ms = common.median_ms(timings["floor"])
    print(
        f"detail endpoint, {rows} rows, {size / 1024:.0f} KiB of JSON, {args.samples} samples each (medians)"
    )
    print(f"  floor (bare SQL via psycopg2)       {floor_ms:7.2f} ms   1.00x")
    labels = {
        "endpoint": "endpoint (Django test client)",
        "plain": "  the same, json.dumps, no splice",
        "http": "endpoint over HTTP (the proxy)",
    }
    for name in timings:
        if name == "floor":
            continue
        value = common.median_ms(timings[name])
        p95 = common.percentile_ms(timings[name], 0.95)
        print(f"  {labels[name]:35s} {value:7.2f} ms   {value / floor_ms:.2f}x   p95 {p95:.2f} ms")
    ratio = common.median_ms(timings["endpoint"]) / floor_ms
    plain = common.median_ms(timings["plain"]) / floor_ms
    print(
        f"raw-JSON splice: the endpoint takes {ratio:.2f}x the floor with it, {plain:.2f}x without "
        f"(saves {(plain - ratio) / plain:.0%} of the in-process time)"
    )
    print(f"target <= 2.00x: {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f}x in-process)")


if __name__ == "__main__":
    main()
