"""Benchmark: GET /api/calculations/{id}?fields=summary on a 100-year daily run (36,525 rows).

Floor: the same detail without the summary, `GET /api/calculations/{id}` (same run, same
process, same client). Interleaved sample by sample so background load hits both alike.
Also printed: the summary statement alone (bare SQL through psycopg2), which is what the
summary adds. Target: with summary <= 1.5x the detail without it (medians).

    .venv/bin/python bench/calculations_summary.py [--samples 60]
"""

import argparse
import json
import os

os.environ.setdefault("BENCH_POSTGRES_DB", "bench_calcboard_summary")  # not the other benches' database

import calculations_common as common  # imported first: it sets Django up
from django.test import Client

from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.selectors import _summary_sql
from apps.calculations.services import calculation_run, calculation_validate

TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()

    common.database_prepare()
    calculation = Calculation.objects.create(
        **calculation_validate(date_start="2000-01-01", date_fin="2099-12-31", lag=1, name="A century, daily")
    )
    calculation_run(calculation_id=calculation.pk)
    rows = CalculationRow.objects.filter(calculation=calculation).count()
    assert rows == 36_525, rows
    token = common.api_token()
    url = f"/api/calculations/{calculation.pk}"
    client = Client(headers={"Authorization": f"Bearer {token}"}, HTTP_HOST="localhost")
    raw = common.raw_connection()
    cursor = raw.cursor()
    try:

        def detail() -> bytes:
            response = client.get(url)
            assert response.status_code == 200
            return response.content

        def with_summary() -> bytes:
            response = client.get(url, {"fields": "summary"})
            assert response.status_code == 200
            return response.content

        def summary_sql() -> str:
            cursor.execute(_summary_sql(), {"id": calculation.pk})
            return cursor.fetchone()[0]

        plain, summarised = json.loads(detail()), json.loads(with_summary())
        assert summarised["result"] == plain["result"] and summarised["summary"]["rows"] == rows
        assert json.loads(summary_sql()) == summarised["summary"]

        probes = {"detail": detail, "summary": with_summary, "sql": summary_sql}
        timings = common.interleaved_timings(probes, samples=args.samples, warmup=5)
    finally:
        raw.close()

    floor = common.median_ms(timings["detail"])
    value = common.median_ms(timings["summary"])
    sql = common.median_ms(timings["sql"])
    ratio = value / floor
    p95 = {name: common.percentile_ms(samples, 0.95) for name, samples in timings.items()}
    size_kib = len(detail()) / 1024
    print(f"detail of a {rows}-row run, {size_kib:.0f} KiB of JSON, {args.samples} samples each (medians)")
    print(f"  floor: detail without summary        {floor:8.2f} ms   1.00x   p95 {p95['detail']:.2f} ms")
    print(
        f"  ?fields=summary                      {value:8.2f} ms   {ratio:.2f}x   p95 {p95['summary']:.2f} ms"
    )
    print(
        f"  the summary statement alone (SQL)    {sql:8.2f} ms   {sql / floor:.2f}x   p95 {p95['sql']:.2f} ms"
    )
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"target <= {TARGET:.2f}x: {'met' if ratio <= TARGET else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
