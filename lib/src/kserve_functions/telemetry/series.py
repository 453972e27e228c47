"""Metric families whose values a request updates in a few hundred nanoseconds,
exposed through prometheus-client only when scraped.

prometheus-client's own ``Counter``, ``Gauge`` and ``Histogram`` guard every
value with a lock (they may be updated from any thread) and check on every
update whether the metric may be observed: about 3 µs for the five updates of a
request, and its package import (``__init__`` loads the exposition, the
collectors, ``http.server`` and ``gzip``) is about 12 ms of a function's cold
start. The functions update metrics on their event loop's thread only, so the
values here are plain numbers, and prometheus-client is imported when
``GET /metrics`` first asks for them: this module's ``Collector`` hands the
families to a client library's registry (its documented custom-collector
API), whose writers write them as text or OpenMetrics; ``telemetry.writer``
writes the same bytes faster, in the formats most scrapes ask for.

Not thread-safe by design: update only from the event loop's thread (an
update from another thread could be lost, never corrupt the exposition).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

Kind = Literal["counter", "gauge", "histogram"]


class CounterSeries:
    """One counter series: a value that only goes up."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (not negative: a counter never goes down).

        Raises:
            ValueError: ``amount`` is negative.
        """
        if amount < 0:
            raise ValueError(f"a counter only goes up; {amount} is negative")
        self.value += amount

    def add_to(self, family: Any, key: tuple[str, ...]) -> None:  # noqa: ANN401 - the client's untyped family
        """Add this series to prometheus-client's ``CounterMetricFamily``."""
        family.add_metric(list(key), self.value)


class GaugeSeries:
    """One gauge series: a value that goes up and down."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount``."""
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount``."""
        self.value -= amount

    def set(self, value: float) -> None:
        """Make the value ``value``."""
        self.value = value

    def add_to(self, family: Any, key: tuple[str, ...]) -> None:  # noqa: ANN401 - the client's untyped family
        """Add this series to prometheus-client's ``GaugeMetricFamily``."""
        family.add_metric(list(key), self.value)


class HistogramSeries:
    """One histogram series: how many observations fell at or under each bound, and
    their sum. ``counts`` are per bucket (the last one above every bound); the
    exposition makes them cumulative."""

    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        """Count ``amount`` in the first bucket whose bound is at least it (``le``)."""
        self.sum += amount
        self.counts[bisect_left(self._bounds, amount)] += 1

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as the exposition writes them: ``le`` as the Go client spells
        it (prometheus-client's own spelling), counts cumulative, ``+Inf`` last."""
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip(_go_spelled(self._bounds), self.counts, strict=True):
            total += count
            buckets.append((bound, total))
        return buckets

    def add_to(self, family: Any, key: tuple[str, ...]) -> None:  # noqa: ANN401 - the client's untyped family
        """Add this series to prometheus-client's ``HistogramMetricFamily``."""
        family.add_metric(list(key), self.cumulative(), self.sum)


@functools.cache
def _go_spelled(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """``le`` of each bucket, ``+Inf`` last, as prometheus-client writes it (once per
    set of bounds, at the first scrape)."""
    from prometheus_client.utils import floatToGoString  # noqa: PLC0415 - at a scrape only

    return tuple(floatToGoString(bound) for bound in (*bounds, math.inf))  # type: ignore[no-untyped-call]


S = TypeVar("S", CounterSeries, GaugeSeries, HistogramSeries)


class Family(Generic[S]):
    """A metric family: its series by label values, made on first use.

    A family without labels has its one series from the start; ``exposed`` says
    whether the collector shows it (the functions expose such a family only where
    they do its work). A labelled family shows the series it has.
    """

    def __init__(
        self,
        name: str,
        help_: str,
        labels: Sequence[str],
        kind: Kind,
        make: Callable[[], S],
        *,
        exposed: bool = True,
    ) -> None:
        self.name = name
        self.help = help_
        self.label_names = tuple(labels)
        self.kind: Kind = kind
        self.exposed = exposed
        self._make: Callable[[], S] = make
        self.series: dict[tuple[str, ...], S] = {}
        if not self.label_names:
            self.series[()] = make()

    def labels(self, *values: object) -> S:
        """The series of these label values (made at zero on first use), each as ``str``.

        Raises:
            ValueError: not one value per label.
        """
        key = tuple(str(value) for value in values)
        found = self.series.get(key)
        if found is None:
            if len(key) != len(self.label_names):
                raise ValueError(f"{self.name} takes the labels {self.label_names}, not {key}")
            found = self.series[key] = self._make()
        return found

    @property
    def unlabelled(self) -> S:
        """The one series of a family without labels.

        Raises:
            ValueError: the family has labels.
        """
        if self.label_names:
            raise ValueError(f"{self.name} has labels {self.label_names}: name its series")
        return self.series[()]


def counter(
    name: str, help_: str, labels: Sequence[str] = (), *, exposed: bool = True
) -> Family[CounterSeries]:
    """A counter family; ``name`` without ``_total`` (the exposition adds it)."""
    return Family(name, help_, labels, "counter", CounterSeries, exposed=exposed)


def gauge(name: str, help_: str, labels: Sequence[str] = ()) -> Family[GaugeSeries]:
    """A gauge family."""
    return Family(name, help_, labels, "gauge", GaugeSeries)


def histogram(
    name: str,
    help_: str,
    labels: Sequence[str] = (),
    *,
    buckets: Sequence[float],
    exposed: bool = True,
) -> Family[HistogramSeries]:
    """A histogram family with these bucket bounds (ascending, finite; ``+Inf`` is added)."""
    bounds = tuple(float(bound) for bound in buckets)
    if list(bounds) != sorted(set(bounds)) or not all(math.isfinite(b) for b in bounds):
        raise ValueError(f"{name}: bucket bounds must ascend and be finite, not {buckets}")
    return Family(
        name, help_, labels, "histogram", lambda: HistogramSeries(bounds), exposed=exposed
    )


class _Written(Protocol):
    """A series that adds itself to the client library's family of its kind."""

    def add_to(self, family: Any, key: tuple[str, ...]) -> None:  # noqa: ANN401 - the client's untyped family
        """Add the series of label values ``key`` to ``family``."""


AnyFamily = Family[CounterSeries] | Family[GaugeSeries] | Family[HistogramSeries]
AnySeries = CounterSeries | GaugeSeries | HistogramSeries


class Collector:
    """prometheus-client's custom collector of a set of families: each scrape reads
    their values into the client library's metric families."""

    def __init__(self, families: Sequence[AnyFamily]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """The exposed families with their series, as prometheus-client writes them."""
        # Imported here: only a scrape needs the client library.
        from prometheus_client.metrics_core import (  # noqa: PLC0415
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        kinds = {
            "counter": CounterMetricFamily,
            "gauge": GaugeMetricFamily,
            "histogram": HistogramMetricFamily,
        }
        for family in self._families:
            if not family.exposed:
                continue
            written = kinds[family.kind](family.name, family.help, labels=list(family.label_names))
            made: Mapping[tuple[str, ...], _Written] = family.series
            # A snapshot: the event loop may go on updating while the scrape is written.
            for key, one in list(made.items()):
                one.add_to(written, key)
            yield written
