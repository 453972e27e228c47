"""Repeated wall-clock measurements: named phases printed per run and as medians.

Shared by the benchmarks whose one run yields several phase durations
(``{phase: seconds}``), and the percentile and the median's confidence interval
the benches of many samples report;
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


def median_interval(samples: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free ``confidence`` interval of the median of ``samples``' population.

    The order-statistic interval ``[x(k), x(n+1-k)]`` (``x(1)`` the smallest):
    the largest ``k`` for which the median lies outside it with probability at
    most ``1 - confidence``, each sample being equally likely above or below
    the median (binomial with p = 1/2). With 9 samples that is the 2nd and 8th,
    with 31 the 10th and 22nd; with 5 or fewer no interval reaches 95 %, and
    the whole range is returned. It assumes only independent samples, so it
    holds for per-round ratios whatever the machine's noise looks like.
    """
    ordered = sorted(samples)
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    # P(median outside [x(k), x(n+1-k)]) = 2 * P(Binomial(n, 1/2) <= k - 1).
    k, below = 1, 0.0
    while k < (n + 1) // 2:
        below += math.comb(n, k - 1) / 2**n
        if 2 * (below + math.comb(n, k) / 2**n) > 1 - confidence:
            break
        k += 1
    return ordered[k - 1], ordered[n - k]
