"""Benchmark: the calculation kernel on 100 years of daily rows (36,524 rows, ten progress steps).

Floor: the table the kernel returns without its model: the same dates and four float columns
from one vectorised expression each, put in a DataFrame (what any kernel of this contract
pays for its output). Interleaved sample by sample so background load hits both alike.
Targets: the kernel's median <= 4x the floor's, and under 100 ms.

    .venv/bin/python bench/calculations_kernel.py [--samples 60]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from apps.calculations import kernel

START, FIN = date(2020, 1, 1), date(2119, 12, 31)
TARGET_RATIO = 4.0
TARGET_MS = 100.0


def floor_table() -> pd.DataFrame:
    offsets = np.arange(0, (FIN - START).days + 1, 1, dtype=np.int64)
    days = np.datetime64(START, "D") + offsets
    years = offsets / 365.25
    return pd.DataFrame(
        {
            "date": days.astype("datetime64[s]"),
            "liquid": np.exp(-years),
            "oil": np.exp(-2 * years),
            "water": np.exp(-3 * years),
            "wct": np.exp(-4 * years),
        }
    )


def kernel_table() -> pd.DataFrame:
    return kernel.run(date_start=START, date_fin=FIN, lag=1, on_progress=lambda percent: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    probes = {"floor": floor_table, "kernel": kernel_table}
    assert len(floor_table()) == len(kernel_table()) == 36_524
    for probe in probes.values():  # warm up numpy and pandas
        probe()
    timings: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(args.samples):
        for name, probe in probes.items():
            began = time.perf_counter()
            probe()
            timings[name].append(time.perf_counter() - began)
    floor, value = (statistics.median(timings[name]) * 1000 for name in ("floor", "kernel"))
    ratio = value / floor
    print(f"kernel, 100 years of daily rows (36,524), {args.samples} samples each (medians)")
    print(f"  floor: the same table without the model  {floor:8.2f} ms   1.00x")
    print(f"  kernel.run                               {value:8.2f} ms   {ratio:.2f}x")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    met = ratio <= TARGET_RATIO and value < TARGET_MS
    print(
        f"target <= {TARGET_RATIO:.0f}x and < {TARGET_MS:.0f} ms: {'met' if met else 'NOT met'} "
        f"({ratio:.2f}x, {value:.2f} ms)"
    )


if __name__ == "__main__":
    main()
