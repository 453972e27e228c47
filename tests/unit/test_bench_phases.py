"""The benches' statistics (``bench/phases.py``): pure functions, checked by hand-counted cases."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from phases import median_interval, percentile


def test_the_nearest_rank_percentile() -> None:
    samples = [float(n) for n in range(10, 0, -1)]

    assert percentile(samples, 0.5) == 5.0
    assert percentile(samples, 0.9) == 9.0
    assert percentile(samples, 0.0) == 1.0


@pytest.mark.parametrize(
    ("n", "ranks"),
    [
        # From the binomial(n, 1/2) table: 2·P(B ≤ k-1) ≤ 5 % < 2·P(B ≤ k).
        (6, (1, 6)),  # 2/64 = 3.1 %
        (9, (2, 8)),  # 2·10/512 = 3.9 %
        (20, (6, 15)),  # 2·P(B ≤ 5) = 4.1 %
        (31, (10, 22)),  # 2·P(B ≤ 9) = 2.9 %
    ],
)
def test_the_median_interval_is_the_order_statistics_the_binomial_gives(
    n: int, ranks: tuple[int, int]
) -> None:
    samples = [float(rank) for rank in range(n, 0, -1)]

    assert median_interval(samples) == (float(ranks[0]), float(ranks[1]))


def test_a_higher_confidence_widens_the_interval() -> None:
    samples = [float(rank) for rank in range(1, 32)]

    assert median_interval(samples, 0.95) == (10.0, 22.0)
    # 2·P(B ≤ 7) = 0.33 % ≤ 1 % < 2·P(B ≤ 8) = 1.07 %.
    assert median_interval(samples, 0.99) == (8.0, 24.0)


def test_too_few_samples_give_their_whole_range_and_none_is_refused() -> None:
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)
    with pytest.raises(ValueError, match="no samples"):
        median_interval([])
