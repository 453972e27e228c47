"""``series`` families written in the exposition formats exactly as
prometheus-client writes them, at a fraction of its cost a line.

The client library's writers build every sample line anew at each scrape:
they check and escape each metric and label name, sort and escape the labels
and format the value, about 8 µs a sample: the models function's 63 samples
of its own families took 0.53 ms, most of the exposition's cost, in a served
scrape of 1.3 to 2.2 ms of CPU. A series' labels never change, so here the
beginning of each of its lines (``name{labels} ``) is made once, at the first
scrape that shows the series, as are each family's HELP and TYPE lines, and a
scrape formats only the values (with the client library's ``floatToGoString``,
so they are spelled as it spells them): 45 µs for those 63.

Only where that is the client library's output byte for byte (test_writer
holds every kind, in each format, to the library's writing of
``series.Collector``): Prometheus text 0.0.4 and 1.0.0 and OpenMetrics
1.0.0, with names escaped ``underscores`` (the default) or ``allow-utf-8``
(what Prometheus 3 asks for): either leaves a legacy name
(``[a-zA-Z_:][a-zA-Z0-9_:]*``, checked when a ``Writer`` is made) as it is.
``format_of`` names those by the content type the client library chose; any
other (another escaping, OpenMetrics 2.0) is left to the library.

Imported at the first scrape only, with the client library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum

from prometheus_client import exposition as text_exposition
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.utils import floatToGoString

from kserve_functions.telemetry.series import AnyFamily, AnySeries, HistogramSeries

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class Format(Enum):
    """An exposition format this module writes."""

    TEXT = "text"
    OPENMETRICS = "openmetrics"


def _content_types() -> Mapping[str, Format]:
    """The content types ``choose_encoder`` answers with, for the formats and
    escapings whose output is the library's byte for byte."""
    escaped = (openmetrics_exposition.UNDERSCORES, openmetrics_exposition.ALLOWUTF8)
    openmetrics = openmetrics_exposition.CONTENT_TYPE_LATEST
    text = text_exposition.CONTENT_TYPE_PLAIN_1_0_0
    return {
        text_exposition.CONTENT_TYPE_PLAIN_0_0_4: Format.TEXT,
        **{f"{text}; escaping={e}": Format.TEXT for e in escaped},
        openmetrics: Format.OPENMETRICS,
        **{f"{openmetrics}; escaping={e}": Format.OPENMETRICS for e in escaped},
    }


_FORMATS = _content_types()


def format_of(content_type: str) -> Format | None:
    """The format of an exposition the client library would write with
    ``content_type`` (as ``choose_encoder`` answers), when this module writes it
    the same; else ``None``."""
    return _FORMATS.get(content_type)


def _label_value(value: str) -> str:
    """A label value escaped as both formats escape it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _line_start(name: str, labels: Sequence[tuple[str, str]]) -> str:
    """A sample line up to its value: labels sorted by name, as the library writes them."""
    if not labels:
        return f"{name} "
    written = ",".join(f'{key}="{_label_value(value)}"' for key, value in sorted(labels))
    return f"{name}{{{written}}} "


class Writer:
    """Writes a set of families (in their order, the exposed ones) as the client
    library writes ``series.Collector(families)``.

    Not thread-safe: scrapes are served on the event loop's thread.
    """

    def __init__(self, families: Sequence[AnyFamily]) -> None:
        """Raises:
        ValueError: a metric or label name the exposition would have to escape.
        """
        for family in families:
            if not _METRIC_NAME.fullmatch(family.name):
                raise ValueError(f"{family.name!r} is not a legacy Prometheus metric name")
            for label in family.label_names:
                if not _LABEL_NAME.fullmatch(label):
                    raise ValueError(f"{family.name}: {label!r} is not a legacy label name")
        self._families = families
        # By format, each family's HELP and TYPE lines (its name and help never change).
        self._heads = {form: [_head(family, form) for family in families] for form in Format}
        # By family: each series' line starts, made at the first scrape showing it
        # (bounded as the series are: their label values come from fixed sets).
        self._starts: list[dict[tuple[str, ...], tuple[str, ...]]] = [{} for _ in families]

    def write(self, form: Format) -> bytes:
        """The exposition of the exposed families in ``form`` (OpenMetrics with its
        closing ``# EOF``)."""
        out: list[str] = []
        heads = self._heads[form]
        for family, head, starts in zip(self._families, heads, self._starts, strict=True):
            if not family.exposed:
                continue
            out.append(head)
            # A snapshot: the event loop may go on updating while the scrape is written.
            made: Mapping[tuple[str, ...], AnySeries] = family.series
            for key, one in list(made.items()):
                begun = starts.get(key)
                if begun is None:
                    begun = starts[key] = _line_starts(family, key, one)
                if isinstance(one, HistogramSeries):
                    _write_histogram(one, begun, out)
                else:
                    out.append(f"{begun[0]}{floatToGoString(one.value)}\n")  # type: ignore[no-untyped-call]
        if form is Format.OPENMETRICS:
            out.append("# EOF\n")
        return "".join(out).encode()


def _head(family: AnyFamily, form: Format) -> str:
    """The family's ``# HELP`` and ``# TYPE`` lines: in Prometheus text a counter is
    named with its ``_total``, and only OpenMetrics escapes ``"`` in the help."""
    help_ = family.help.replace("\\", r"\\").replace("\n", r"\n")
    name = family.name
    if form is Format.OPENMETRICS:
        help_ = help_.replace('"', r"\"")
    elif family.kind == "counter":
        name = f"{name}_total"
    return f"# HELP {name} {help_}\n# TYPE {name} {family.kind}\n"


def _line_starts(family: AnyFamily, key: tuple[str, ...], one: AnySeries) -> tuple[str, ...]:
    """The beginnings of a series' lines: one for a counter or gauge; for a
    histogram one per bucket, then ``_count`` and ``_sum`` (left out, as the
    library does, when the first bound is negative)."""
    labels = list(zip(family.label_names, key, strict=True))
    if not isinstance(one, HistogramSeries):
        suffix = "_total" if family.kind == "counter" else ""
        return (_line_start(f"{family.name}{suffix}", labels),)
    bounds = [le for le, _ in one.cumulative()]
    buckets = [_line_start(f"{family.name}_bucket", [*labels, ("le", le)]) for le in bounds]
    if float(bounds[0]) < 0:
        return tuple(buckets)
    count = _line_start(f"{family.name}_count", labels)
    return (*buckets, count, _line_start(f"{family.name}_sum", labels))


def _write_histogram(one: HistogramSeries, begun: tuple[str, ...], out: list[str]) -> None:
    """A histogram series' lines: cumulative buckets, then its count and sum."""
    buckets = one.cumulative()
    for start, (_, total) in zip(begun, buckets, strict=False):
        out.append(f"{start}{floatToGoString(total)}\n")  # type: ignore[no-untyped-call]
    if len(begun) > len(buckets):
        out.append(f"{begun[-2]}{floatToGoString(buckets[-1][1])}\n")  # type: ignore[no-untyped-call]
        out.append(f"{begun[-1]}{floatToGoString(one.sum)}\n")  # type: ignore[no-untyped-call]
