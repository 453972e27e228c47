"""The fast writer of the metric families writes what prometheus-client writes.

The oracle is the client library: the same families, in a registry through
``series.Collector``, written by its own writers for each content type it
negotiates, must be the writer's bytes exactly.
"""

from __future__ import annotations

import pytest
from kserve_functions.telemetry import metrics, series, writer
from prometheus_client import CollectorRegistry
from prometheus_client import exposition as client_exposition
from prometheus_client.openmetrics.parser import text_string_to_metric_families

# Accept headers, each answered in a format (and escaping) the writer writes.
WRITTEN = {
    "": writer.Format.TEXT,
    "text/plain;version=1.0.0;escaping=allow-utf-8": writer.Format.TEXT,
    "text/plain;version=1.0.0;escaping=underscores": writer.Format.TEXT,
    "application/openmetrics-text": writer.Format.OPENMETRICS,
    "application/openmetrics-text;version=1.0.0": writer.Format.OPENMETRICS,
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8": writer.Format.OPENMETRICS,
    "application/openmetrics-text;version=1.0.0;escaping=underscores": writer.Format.OPENMETRICS,
}
# Escapings that rename legacy names (dots doubles every underscore) or a
# version the writer does not know: left to the client library.
LEFT_TO_THE_LIBRARY = (
    "text/plain;version=1.0.0;escaping=dots",
    "application/openmetrics-text;version=1.0.0;escaping=values",
    "application/openmetrics-text;version=2.0.0",
)


def _families() -> list[series.AnyFamily]:
    """Every kind, labelled and not, with values and label values to spell and escape."""
    counter = series.counter("things", 'Things "done"\\ by kind\nand more', ["kind", "code"])
    counter.labels("a", 200).inc(2.5)
    counter.labels('b"\\\n', 404).inc(1_000_000)  # Go's exponent spelling past 1e6
    gauge = series.gauge("open_things", "Things open", ["kind"])
    gauge.labels("a").set(-3)
    gauge.labels("b").set(float("nan"))
    unlabelled = series.counter("refusals", "Refusals")
    unlabelled.unlabelled.inc()
    # Labels sorting around ``le`` on both sides.
    histogram = series.histogram(
        "thing_seconds", "Time", ["verb", "alpha"], buckets=(0.005, 0.1, 1, 2_500_000)
    )
    for amount in (0.005, 0.05, 3, 99, 3_000_000):
        histogram.labels("get", "x").observe(amount)
    histogram.labels("list", "y")
    bare = series.histogram("bare_seconds", "Bare", buckets=(1, 2))
    bare.unlabelled.observe(1.5)
    negative = series.histogram("offset", "Offsets", buckets=(-1, 0, 1))
    negative.unlabelled.observe(-0.5)
    empty = series.gauge("nothing_yet", "A labelled family with no series", ["kind"])
    hidden = series.counter("hidden", "Not exposed", exposed=False)
    return [counter, gauge, unlabelled, histogram, bare, negative, empty, hidden]


def _library_writes(families: list[series.AnyFamily], accept: str) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(series.Collector(families))
    encode, content_type = client_exposition.choose_encoder(accept)
    return encode(registry), content_type


@pytest.mark.parametrize("accept", list(WRITTEN))
def test_the_writer_writes_the_client_librarys_bytes(accept: str) -> None:
    families = _families()
    expected, content_type = _library_writes(families, accept)
    assert writer.format_of(content_type) is WRITTEN[accept]
    fast = writer.Writer(families)
    assert fast.write(WRITTEN[accept]) == expected
    # Again, from the line starts made by the first scrape, after more updates.
    counted, observed = families[0].labels("a", 200), families[3].labels("list", "y")
    assert isinstance(counted, series.CounterSeries)
    assert isinstance(observed, series.HistogramSeries)
    counted.inc()
    observed.observe(0.01)
    families[7].exposed = True
    assert fast.write(WRITTEN[accept]) == _library_writes(families, accept)[0]


@pytest.mark.parametrize("accept", LEFT_TO_THE_LIBRARY)
def test_other_escapings_and_versions_are_left_to_the_library(accept: str) -> None:
    _, content_type = client_exposition.choose_encoder(accept)
    assert writer.format_of(content_type) is None


@pytest.mark.parametrize(
    ("name", "labels", "problem"),
    [
        ("http.duration", (), "not a legacy Prometheus metric name"),
        ("9lives", (), "not a legacy Prometheus metric name"),
        ("calls", ("http.route",), "not a legacy label name"),
        ("calls", ("code:x",), "not a legacy label name"),
    ],
)
def test_a_name_that_would_need_escaping_is_refused(
    name: str, labels: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        writer.Writer([series.counter(name, "help", labels)])


@pytest.mark.parametrize("accept", [*WRITTEN, *LEFT_TO_THE_LIBRARY[:2]])
def test_the_exposition_is_the_library_registry_then_ours_in_one_document(accept: str) -> None:
    metrics.start_at_zero(metrics.Work)
    body, content_type = metrics.exposition(accept)
    text = body.decode()
    openmetrics = content_type.startswith("application/openmetrics-text")
    # Every family of both registries, once each, in their order.
    written = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    expected = [
        family.name + ("_total" if family.type == "counter" and not openmetrics else "")
        for registry in metrics.registries()
        for family in registry.collect()
    ]
    if accept in WRITTEN:
        assert written == expected
    else:  # escaped by the library's rules (dots, values): renamed, as many
        assert len(written) == len(expected)
    if openmetrics:
        assert text.count("# EOF\n") == 1
        assert text.endswith("# EOF\n")
        if accept in WRITTEN:
            # The client library's strict OpenMetrics parser takes the whole document.
            parsed = list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]
            assert len(parsed) == len(expected)
    else:
        assert "# EOF" not in text
