"""Repeated wall-clock measurements: named phases printed per run and as medians.

Shared by the benchmarks whose one run yields several phase durations
(``{phase: seconds}``), and the percentile the benches of many samples report;
machines here are shared and noisy, so compare the medians of several runs,
never one.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Sequence


def report(measure_once: Callable[[], dict[str, float]], description: str | None) -> None:
    """Run ``measure_once`` ``--runs`` times (default 3); print each phase and the medians."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    samples: dict[str, list[float]] = {}
    for run in range(1, runs + 1):
        for phase, seconds in measure_once().items():
            samples.setdefault(phase, []).append(seconds)
            print(f"run {run}: {phase}: {seconds:.2f}s", flush=True)
    for phase, values in samples.items():
        print(f"median of {runs}: {phase}: {statistics.median(values):.2f}s")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest sample at or above ``fraction`` of them.

    ``percentile(samples, 0.9)`` is the p90 the benches print: with 10
    samples, the 9th smallest.
    """
    ordered = sorted(samples)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]
