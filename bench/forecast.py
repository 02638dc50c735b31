"""Decline-curve forecasts: one `auto` forecast against one bare fit, and a field of wells.

1. One `auto` forecast of a well with 3,000 daily records (a water-drive well: three candidate
   fits and their backtests, the winner's fit, 200 resampled refits, EUR and the band per row),
   timed against the floor of one bare `least_squares` fit of a modified hyperbolic to the same
   arrays, interleaved repetition by repetition. Target: at most 300 ms.
2. A field of 300 wells forecast by 2 processes (the worker's concurrency): forecasts per
   second against a target of 8, the CPU seconds per forecast and where they go.

The forecast is pure numpy/scipy (apps.calculations.forecast): no database, no broker. A well
run in the worker adds reading the history (one range scan) and writing the rows (one COPY);
bench/calculations_queue.py measures that path. Usage: .venv/bin/python bench/forecast.py
"""

import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# One BLAS thread per process: the field runs one process per core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from apps.calculations.forecast import decline, engine
from apps.calculations.forecast import history as hist
from tests.calculations.forecast.synthetic import START, Truth, hyperbolic_well, water_drive_well

SINGLE_TARGET_MS = 300.0
FIELD_TARGET_PER_S = 8.0
FIELD_WELLS = int(os.environ.get("BENCH_FORECAST_WELLS", "300"))
PROCESSES = 2
REPEATS = 15
DATE_FIN = START + timedelta(days=3000 + 20 * 365)
LAG = 30


def _bare_fit(history: hist.History) -> None:
    points = hist.producing_days(history, min_on_fraction=0.5)
    decline.fit(
        tau=points.t - points.t[0],
        y=np.log(points.oil),
        weights=np.ones(len(points)),
        b_max=1.5,
        dterm=engine.Options().dterm_per_day,
    )


def _forecast(history: hist.History) -> engine.Forecast:
    return engine.forecast(history=history, date_start=START, date_fin=DATE_FIN, lag=LAG)


def single() -> float:
    history = water_drive_well(days=3000, seed=7)
    _forecast(history)  # warm-up: imports, caches
    _bare_fit(history)
    forecasts, fits, forecast_cpu, fit_cpu = [], [], [], []
    for _ in range(REPEATS):
        start, cpu = time.perf_counter(), time.process_time()
        _bare_fit(history)
        fits.append(time.perf_counter() - start)
        fit_cpu.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        _forecast(history)
        forecasts.append(time.perf_counter() - start)
        forecast_cpu.append(time.process_time() - cpu)
    forecast_ms, fit_ms = 1000 * statistics.median(forecasts), 1000 * statistics.median(fits)
    cpu_ms, fit_cpu_ms = 1000 * statistics.median(forecast_cpu), 1000 * statistics.median(fit_cpu)
    print(
        f"one auto forecast, 3,000 daily records, {engine.RESAMPLES} resamples: {forecast_ms:.1f} ms wall, "
        f"{cpu_ms:.1f} ms CPU, median of {REPEATS} (target <= {SINGLE_TARGET_MS:.0f} ms: "
        f"{'met' if forecast_ms <= SINGLE_TARGET_MS else 'NOT met'} by the wall clock, "
        f"{'met' if cpu_ms <= SINGLE_TARGET_MS else 'NOT met'} by CPU time)"
    )
    print(
        f"  floor, one bare least_squares fit of the same arrays: {fit_ms:.1f} ms wall, {fit_cpu_ms:.1f} ms CPU; "
        f"the forecast costs {forecast_ms / fit_ms:.1f} fits (wall), {cpu_ms / fit_cpu_ms:.1f} fits (CPU)"
    )
    return forecast_ms


def _field_well(index: int) -> hist.History:
    rng = np.random.default_rng(index)
    if index % 3 == 0:
        return water_drive_well(days=3000, seed=index)
    truth = Truth(
        qi=float(rng.uniform(30, 300)), di_secant=float(rng.uniform(0.2, 0.7)), b=float(rng.uniform(0, 1.3))
    )
    return hyperbolic_well(truth, days=3000, seed=index)


_PHASES = {
    "candidate fits and backtests (auto)": (engine, "_select"),
    "the winner's fit": (engine, "fit_method"),
    "200 resampled refits": (engine, "resample"),
    "EUR and economic limit (best + resamples)": (engine, "reserves"),
    "P10-P90 per row": (engine, "_band"),
}


_HISTORIES: list[hist.History] = []  # made before the pool forks, shared with the processes


def _timed_worker(indices: list[int]) -> tuple[int, float, dict[str, float]]:
    """Forecast the wells; CPU seconds in total and per phase (outermost phase only)."""
    spent: dict[str, float] = defaultdict(float)
    depth = [0]

    def wrap(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[label] += time.process_time() - start

        return timed

    for label, (owner, name) in _PHASES.items():
        setattr(owner, name, wrap(label, getattr(owner, name)))
    histories = [_HISTORIES[i] for i in indices]
    start = time.process_time()
    for history in histories:
        _forecast(history)
    return len(indices), time.process_time() - start, dict(spent)


def field() -> float:
    _HISTORIES[:] = [_field_well(i) for i in range(FIELD_WELLS)]
    chunks = [list(range(i, FIELD_WELLS, PROCESSES * 10)) for i in range(PROCESSES * 10)]
    with get_context("fork").Pool(PROCESSES) as pool:
        pool.map(_timed_worker, [[1], [2]])  # warm-up each process
        start = time.perf_counter()
        results = pool.map(_timed_worker, chunks)
        wall = time.perf_counter() - start
    wells = sum(r[0] for r in results)
    cpu = sum(r[1] for r in results)
    spent: dict[str, float] = defaultdict(float)
    for _, _, phases in results:
        for label, seconds in phases.items():
            spent[label] += seconds
    rate = wells / wall
    print(
        f"a field of {wells} wells (a third water-drive), {PROCESSES} processes: {rate:.1f} forecasts/s "
        f"(target >= {FIELD_TARGET_PER_S:.0f}: {'met' if rate >= FIELD_TARGET_PER_S else 'NOT met'}), "
        f"wall {wall:.1f} s"
    )
    capacity = PROCESSES * wells / cpu
    print(
        f"  CPU per forecast: {1000 * cpu / wells:.1f} ms, so {PROCESSES} processes with a core each make "
        f"{capacity:.1f} forecasts/s (target >= {FIELD_TARGET_PER_S:.0f}: "
        f"{'met' if capacity >= FIELD_TARGET_PER_S else 'NOT met'}); where the CPU goes:"
    )
    # the winner's fit is also called inside the auto selection; only outermost calls count
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"    {label:45s} {1000 * seconds / wells:6.1f} ms  {100 * seconds / cpu:5.1f} %")
    other = cpu - sum(spent.values())
    label = "the rest (rates per row, history, summary)"
    print(f"    {label:45s} {1000 * other / wells:6.1f} ms  {100 * other / cpu:5.1f} %")
    return rate


if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    single()
    field()
