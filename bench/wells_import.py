"""Benchmark: importing a large history file, and reading a long history.

    .venv/bin/python bench/wells_import.py [--wells 300] [--days 3334] [--rounds 2]
        [--samples 100] [--quick]

1. Import: one multi-well file of `wells` x `days` daily records (1,000,200 by default: 300
   wells x 9 years), imported by the job (`history_import_run`, the worker's code) in a
   process of its own, whose peak RSS is reported. Floor: a bare `COPY ... FROM STDIN (FORMAT
   csv)` of the same records, already keyed by well id, into the same table, by a plain
   psycopg2 connection. Rounds alternate floor and import on an emptied table.
   Target: import <= 3x the floor, memory bounded (the file is streamed).
2. History: `GET /api/wells/{id}/history` of a well with 10,000 daily records, over HTTP
   through the proxy and gunicorn (and in-process through Django's test client), against the
   bare SQL that builds the same JSON document in PostgreSQL, interleaved sample by sample.
   Target: over HTTP <= 1.5x the floor.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import calculations_common as common  # imported first: it sets Django up
import httpx
import numpy as np
from django.db import connection
from django.test import Client

from apps.wells import selectors
from apps.wells.models import HistoryImport, ProductionRecord, Well
from apps.wells.services import history_import_create, history_import_run, well_create

FIELD = "Bench field"
RECORDS = ProductionRecord._meta.db_table
CHILD = """
import os, resource, sys, time, json
import django
django.setup()
from apps.wells.services import history_import_run
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.perf_counter()
done = history_import_run(import_id=int(sys.argv[1]))
elapsed = time.perf_counter() - began
print(json.dumps({"seconds": elapsed, "status": done.status, "records": done.records,
                  "rss_before_kib": before, "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def files_write(*, wells: list[Well], days: int, folder: str) -> tuple[str, str, int]:
    """The import's file (a `well` column of names) and the floor's (well ids), same records."""
    start = np.datetime64("2015-01-01")
    dates = np.datetime_as_string(start + np.arange(days), unit="D")
    rng = np.random.default_rng(7)
    named, keyed = os.path.join(folder, "import.csv"), os.path.join(folder, "floor.csv")
    with open(named, "w") as by_name, open(keyed, "w") as by_id:
        by_name.write("well,date,oil,water,gas,hours_on\n")
        by_id.write("well_id,date,oil,water,gas,hours_on\n")
        for well in wells:
            oil = np.round(rng.uniform(5, 500, days), 2)
            water = np.round(rng.uniform(0, 300, days), 2)
            gas = np.round(oil * 120, 0)
            hours = np.where(rng.random(days) < 0.02, 0, 24)
            body = "".join(
                f"{d},{o},{w},{g:.0f},{h}\n"
                for d, o, w, g, h in zip(dates, oil, water, gas, hours, strict=True)
            )
            by_name.write("".join(f"{well.name},{line}\n" for line in body.splitlines()))
            by_id.write("".join(f"{well.pk},{line}\n" for line in body.splitlines()))
    return named, keyed, len(wells) * days


def table_empty() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {RECORDS}")
    HistoryImport.objects.all().delete()
    Well.objects.update(record_count=0, first_date=None, last_date=None)


def floor_copy(raw: Any, path: str) -> float:  # raw: a psycopg2 connection
    began = time.perf_counter()
    with raw.cursor() as cursor, open(path) as source:
        cursor.copy_expert(
            f"COPY {RECORDS} (well_id, date, oil, water, gas, hours_on) FROM STDIN WITH (FORMAT csv, HEADER)",
            source,
        )
    raw.commit()
    return time.perf_counter() - began


def import_run(path: str) -> dict:
    with open(path, "rb") as source:
        began = time.perf_counter()
        accepted = history_import_create(stream=source, field=FIELD, file_name="bench.csv")
        stored = time.perf_counter() - began
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(accepted.pk)],
        cwd=common.ROOT,
        env={**os.environ, **common.ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["status"] == "finished", child.stdout + child.stderr
    return {**result, "stored_seconds": stored}


def import_benchmark(args: argparse.Namespace) -> None:
    raw = common.raw_connection()
    wells = [well_create(name=f"B-{i:03d}", field=FIELD) for i in range(args.wells)]
    with tempfile.TemporaryDirectory() as folder:
        named, keyed, records = files_write(wells=wells, days=args.days, folder=folder)
        size = os.path.getsize(named)
        floors, imports = [], []
        for _ in range(args.rounds):
            table_empty()
            floors.append(floor_copy(raw, keyed))
            table_empty()
            imports.append(import_run(named))
            assert ProductionRecord.objects.count() == records
    raw.close()
    floor = float(np.median(floors))
    job = float(np.median([run["seconds"] for run in imports]))
    peak = max(run["rss_peak_kib"] for run in imports) / 1024
    base = min(run["rss_before_kib"] for run in imports) / 1024
    stored = float(np.median([run["stored_seconds"] for run in imports]))
    print(
        f"\nimport of {records:,} daily records ({args.wells} wells, {size / 2**20:.0f} MiB of CSV), "
        f"medians of {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  floor: bare COPY of the same records      {floor:7.2f} s   1.00x")
    print(
        f"  import job (read, check, COPY, summaries)  {job:7.2f} s   {job / floor:.2f}x   "
        f"({records / job:,.0f} records/s)"
    )
    print(f"  storing the upload (before the job)        {stored:7.2f} s")
    print(
        f"  worker peak RSS {peak:.0f} MiB ({base:.0f} MiB before the import: {peak - base:.0f} MiB for it)"
    )
    print(f"target <= 3.00x: {'met' if job / floor <= 3 else 'NOT met'} ({job / floor:.2f}x)")


FLOOR_SQL = """
    SELECT json_build_object('id', w.id, 'name', w.name, 'field', f.name, 'frequency', w.frequency,
                             'resample', NULL, 'from', NULL, 'to', NULL, 'count', h.n, 'results', h.results)::text
      FROM wells_well w JOIN wells_field f ON f.id = w.field_id,
           LATERAL (SELECT count(*) AS n, json_agg(p) AS results FROM ({periods}) p) h
     WHERE w.id = %(well)s
"""


def history_benchmark(args: argparse.Namespace) -> None:
    well = well_create(name="Long", field="History bench")
    days = 10_000
    start = np.datetime64("1995-01-01")
    lines = ["date,oil,water,gas,hours_on"] + [
        f"{start + i},{100 + i % 37},{i % 50},{1000 + i % 11},{0 if i % 53 == 0 else 24}" for i in range(days)
    ]
    accepted = history_import_create(stream=[("\n".join(lines) + "\n").encode()], well_id=well.pk)
    finished = history_import_run(import_id=accepted.pk)
    assert finished is not None and finished.status == "finished"
    url = f"/api/wells/{well.pk}/history"
    sql, params = selectors.history_sql(selectors.HistoryQuery(well_id=well.pk, frequency="daily"))
    floor_sql = FLOOR_SQL.format(periods=sql)
    raw = common.raw_connection()
    cursor = raw.cursor()
    token = common.api_token()
    client = Client(headers={"Authorization": f"Bearer {token}"}, HTTP_HOST="localhost")
    web, base = (None, None) if args.quick else common.web_tier_start()
    http = httpx.Client(base_url=base or "http://unused", headers={"Authorization": f"Bearer {token}"})
    try:

        def floor() -> str:
            cursor.execute(floor_sql, params)
            return cursor.fetchone()[0]

        def endpoint() -> bytes:
            response = client.get(url)
            assert response.status_code == 200
            return response.content

        def over_http() -> bytes:
            response = http.get(url)
            assert response.status_code == 200
            return response.content

        reference = json.loads(floor())
        assert json.loads(endpoint()) == reference and len(reference["results"]) == days
        probes = {"floor": floor, "endpoint": endpoint}
        if web is not None:
            assert json.loads(over_http()) == reference
            probes["http"] = over_http
        timings = common.interleaved_timings(probes, samples=args.samples, warmup=10)
    finally:
        http.close()
        if web is not None:
            web.stop()
        raw.close()
    floor_ms = common.median_ms(timings["floor"])
    print(
        f"\nGET {url.replace(str(well.pk), '{id}')}: {days:,} records, {len(endpoint()) / 2**20:.1f} MiB of JSON, "
        f"{args.samples} samples each (medians), load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  floor (bare SQL building the same JSON)   {floor_ms:8.2f} ms   1.00x")
    labels = {"endpoint": "endpoint (Django test client)", "http": "endpoint over HTTP (the proxy)"}
    for name, label in labels.items():
        if name in timings:
            value = common.median_ms(timings[name])
            print(f"  {label:41s} {value:8.2f} ms   {value / floor_ms:.2f}x")
    measured = "http" if "http" in timings else "endpoint"
    ratio = common.median_ms(timings[measured]) / floor_ms
    print(f"target <= 1.50x: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x, {labels[measured]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wells", type=int, default=300)
    parser.add_argument("--days", type=int, default=3334)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="30 wells, 20 samples, no web tier")
    args = parser.parse_args()
    if args.quick:
        args.wells, args.samples = 30, 20
    common.database_prepare()
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {RECORDS}, wells_historyimportchunk, wells_historyimport, wells_well, wells_field CASCADE"
        )
    import_benchmark(args)
    history_benchmark(args)


if __name__ == "__main__":
    main()
