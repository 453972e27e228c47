"""The lock-free metric families write what prometheus-client's own metrics write.

The oracle is the client library itself: the same updates to its ``Counter``,
``Gauge`` and ``Histogram`` in a registry of their own and to ours, both
written by its exposition in both formats, must give the same text.
"""

from __future__ import annotations

from typing import Any

import pytest
from kserve_functions.telemetry import series
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest as _generate_text
from prometheus_client.openmetrics.exposition import generate_latest as _generate_openmetrics

BUCKETS = (0.005, 0.01, 0.1, 1, 10)
# On a bound (le is "at or under"), between bounds, above every bound, zero.
OBSERVED = (0.005, 0.0051, 0.01, 0.5, 10, 10.5, 0.0, 3)


def _update(counter: Any, gauge: Any, histogram: Any) -> None:
    """The same updates, to the client library's metrics or to ours (same method names)."""
    for kind in ("a", "b"):
        counter.labels(kind).inc()
        counter.labels(kind).inc(2.5)
        gauge.labels(kind).inc(3)
        gauge.labels(kind).dec()
        for amount in OBSERVED:
            histogram.labels(kind).observe(amount)
    gauge.labels("c").set(7)


def _theirs() -> CollectorRegistry:
    registry = CollectorRegistry()
    counter = Counter("things", "Things done", ["kind"], registry=registry)
    gauge = Gauge("open_things", "Things open", ["kind"], registry=registry)
    histogram = Histogram(
        "thing_seconds", "Time per thing", ["kind"], buckets=BUCKETS, registry=registry
    )
    unlabelled = Counter("refusals", "Refusals", registry=registry)
    _update(counter, gauge, histogram)
    unlabelled.inc()
    return registry


def _ours() -> CollectorRegistry:
    counter = series.counter("things", "Things done", ["kind"])
    gauge = series.gauge("open_things", "Things open", ["kind"])
    histogram = series.histogram("thing_seconds", "Time per thing", ["kind"], buckets=BUCKETS)
    unlabelled = series.counter("refusals", "Refusals")
    _update(counter, gauge, histogram)
    unlabelled.unlabelled.inc()
    registry = CollectorRegistry()
    registry.register(series.Collector([counter, gauge, histogram, unlabelled]))
    return registry


def generate_latest(registry: CollectorRegistry) -> bytes:
    return _generate_text(registry)


def generate_openmetrics(registry: CollectorRegistry) -> bytes:
    return _generate_openmetrics(registry)  # type: ignore[no-untyped-call, no-any-return]


def _without_created(text: bytes) -> str:
    # The client library's counters and histograms add a *_created series (its
    # process start); the functions do not write it (no panel or alert reads it).
    return "".join(
        line for line in text.decode().splitlines(keepends=True) if "_created" not in line
    )


def test_the_text_exposition_is_the_client_librarys() -> None:
    assert _without_created(generate_latest(_ours())) == _without_created(
        generate_latest(_theirs())
    )


def test_the_openmetrics_exposition_is_the_client_librarys() -> None:
    ours = _without_created(generate_openmetrics(_ours()))
    assert ours == _without_created(generate_openmetrics(_theirs()))
    assert ours.endswith("# EOF\n")


def test_an_observation_on_a_bound_counts_in_that_bucket() -> None:
    histogram = series.histogram("h", "h", buckets=(1, 2))
    for amount in (1, 1.5, 2, 2.5):
        histogram.unlabelled.observe(amount)
    assert histogram.unlabelled.cumulative() == [("1.0", 1), ("2.0", 3), ("+Inf", 4)]
    assert histogram.unlabelled.sum == 7


def test_a_family_not_exposed_is_left_out_until_it_is() -> None:
    family = series.counter("quiet", "Quiet", exposed=False)
    registry = CollectorRegistry()
    registry.register(series.Collector([family]))
    assert "quiet" not in generate_latest(registry).decode()
    family.exposed = True
    assert "quiet_total 0.0" in generate_latest(registry).decode()


def test_label_values_are_strings_and_one_per_label() -> None:
    family = series.counter("calls", "Calls", ["verb", "code"])
    assert family.labels("get", 200) is family.labels("get", "200")
    with pytest.raises(ValueError, match=r"takes the labels \('verb', 'code'\)"):
        family.labels("get")
    with pytest.raises(ValueError, match="has labels"):
        _ = family.unlabelled


def test_a_counter_never_goes_down() -> None:
    with pytest.raises(ValueError, match="only goes up"):
        series.counter("c", "C").unlabelled.inc(-1)


@pytest.mark.parametrize("buckets", [(1, 1), (2, 1), (1, float("inf"))])
def test_bucket_bounds_ascend_and_are_finite(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="ascend and be finite"):
        series.histogram("h", "h", buckets=buckets)
