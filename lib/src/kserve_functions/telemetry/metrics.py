"""Every metric the functions expose at ``GET /metrics``, in one place.

The families are defined here once for every function, as ``telemetry.series``
families (updated without locks on the event loop's thread), and written after
prometheus-client's default registry (its process, platform and GC
collectors) when ``GET /metrics`` first asks (``exposition``): the client
library is not imported before. A function starts at zero only the series of
the work it does (``start_at_zero``; a family without labels, one series, is
exposed only there): the models function has no deploy counters or push
histogram to show, and each series costs every scrape its line. Each label takes values
from a fixed set: a route template, never a path; a verb and a resource plural,
never an object's name; an event type we know, else ``other``; never a
namespace, a model or a user. The test
``test_metrics_labels`` drives many models and namespaces and checks that the
series stay the same.

HTTP follows OpenTelemetry's semantic conventions in Prometheus spelling
(``http.server.request.duration`` → ``http_server_request_duration_seconds``);
apiserver calls mirror client-go's ``rest_client_*`` families by verb and
resource.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Literal

from kserve_functions.telemetry import series
from kserve_functions.telemetry.series import CounterSeries, GaugeSeries, HistogramSeries

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from kserve_functions.telemetry.writer import Writer

# OpenTelemetry's advised buckets for http.server.request.duration, in seconds.
HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
# client-go's rest_client_request_duration_seconds buckets.
APISERVER_BUCKETS: Final = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
PUSH_BUCKETS: Final = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


@dataclass(frozen=True)
class Family:
    """A metric family as Prometheus shows it: its name (``_total`` for a counter),
    type, labels and help."""

    name: str
    type: Literal["counter", "gauge", "histogram"]
    labels: tuple[str, ...]
    help: str


FAMILIES: dict[str, Family] = {}
"""Every family this module defines, by its exposed name (README and dashboards are
held to it by tests)."""

_DEFINED: list[series.AnyFamily] = []


def _counter(
    name: str, help_: str, labels: Sequence[str] = (), *, registered: bool = True
) -> series.Family[CounterSeries]:
    FAMILIES[f"{name}_total"] = Family(f"{name}_total", "counter", tuple(labels), help_)
    family = series.counter(name, help_, labels, exposed=registered)
    _DEFINED.append(family)
    return family


def _gauge(name: str, help_: str, labels: Sequence[str] = ()) -> series.Family[GaugeSeries]:
    FAMILIES[name] = Family(name, "gauge", tuple(labels), help_)
    family = series.gauge(name, help_, labels)
    _DEFINED.append(family)
    return family


def _histogram(
    name: str,
    help_: str,
    labels: Sequence[str] = (),
    *,
    buckets: Sequence[float],
    registered: bool = True,
) -> series.Family[HistogramSeries]:
    FAMILIES[name] = Family(name, "histogram", tuple(labels), help_)
    family = series.histogram(name, help_, labels, buckets=buckets, exposed=registered)
    _DEFINED.append(family)
    return family


# Function requests.
INFO = _gauge(
    "kserve_functions_info",
    "The function this process serves and its version (always 1); a scrape's own "
    "function label comes from the pod",
    ["function_name", "version"],
)
REQUEST_DURATION = _histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP requests served, by route template, method and status code",
    ["http_route", "http_request_method", "http_response_status_code"],
    buckets=HTTP_BUCKETS,
)
ACTIVE_REQUESTS = _gauge(
    "http_server_active_requests",
    "HTTP requests being served (watch streams and followed logs included)",
    ["http_request_method"],
)

# Kubernetes apiserver calls, from the kube layer's one sender.
APISERVER_REQUESTS = _counter(
    "kserve_functions_apiserver_requests",
    "Kubernetes apiserver calls by verb, resource and HTTP code (error: no answer)",
    ["verb", "resource", "code"],
)
APISERVER_DURATION = _histogram(
    "kserve_functions_apiserver_request_duration_seconds",
    "Duration of Kubernetes apiserver calls until their answer's headers, by verb and resource",
    ["verb", "resource"],
    buckets=APISERVER_BUCKETS,
)
APISERVER_RETRIES = _counter(
    "kserve_functions_apiserver_retries",
    "Writes tried again after a conflict (the compare-and-swap loops), by verb and resource",
    ["verb", "resource"],
)
APISERVER_WATCHES = _gauge(
    "kserve_functions_apiserver_watches_open",
    "Watches, streamed lists and followed logs open on the apiserver, by resource",
    ["resource"],
)
APISERVER_LIST_BYTES = _counter(
    "kserve_functions_apiserver_list_bytes",
    "Bytes streamed from the apiserver (watches, streamed lists, logs), by resource",
    ["resource"],
)

# The API's own work.
DEPLOYS = _counter(
    "kserve_functions_deploys",
    "Deploys (POST /deploy, rollbacks, deploy events) by action and outcome",
    ["action", "outcome"],
)
WAITS = _counter(
    "kserve_functions_waits",
    "wait=true waits by how they ended: ready, stopped (stop), gone (delete), failed "
    "(a deploy whose model failed), timeout",
    ["result"],
)
STREAMS_OPEN = _gauge(
    "kserve_functions_streams_open",
    "Watch streams and followed logs open, by kind (models, model, logs)",
    ["kind"],
)
# A family without labels is one series from the start: registered (exposed) only
# by a function that does its work (start_at_zero), as a labelled one starts at zero.
STREAM_REFUSALS = _counter(
    "kserve_functions_stream_refusals",
    "Streams refused because MAX_STREAMS were open (503)",
    registered=False,
)
CLOUDEVENTS = _counter(
    "kserve_functions_cloudevents",
    "CloudEvents taken, by type (other: a type this function does not take) and outcome",
    ["type", "outcome"],
)
STATUS_EVENTS = _counter(
    "kserve_functions_status_events",
    "Status-change events sent to K_SINK, by type and outcome (sent, failed)",
    ["type", "outcome"],
)
REGISTRY_PUSHES = _counter(
    "kserve_functions_registry_pushes",
    "Registry pushes (webhooks and events) by outcome",
    ["outcome"],
)
MODELS_ROLLED = _counter(
    "kserve_functions_models_rolled",
    "Models patched to a pushed image",
    registered=False,
)
PUSH_TO_ROLLED = _histogram(
    "kserve_functions_push_to_rolled_seconds",
    "From a registry push taken to every model that opted in patched",
    buckets=PUSH_BUCKETS,
    registered=False,
)
AUTH_REVIEWS = _counter(
    "kserve_functions_auth_reviews",
    "TokenReviews and SubjectAccessReviews sent, by kind (token, access) and outcome",
    ["kind", "outcome"],
)
AUTH_CACHE_HITS = _counter(
    "kserve_functions_auth_cache_hits",
    "Token and access reviews answered from the cache, by kind",
    ["kind"],
)
RECORDS_FAILED = _counter(
    "kserve_functions_records_failed",
    "Best-effort records of a change (its Kubernetes Event, its revision) that failed",
    ["record"],
)


_OUTCOMES: Final = {
    400: "invalid",
    401: "forbidden",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    410: "conflict",
    413: "invalid",
    415: "invalid",
    422: "invalid",
    503: "unavailable",
}


def outcome(status: int) -> str:
    """The ``outcome`` label of work that ended in a problem of HTTP ``status``."""
    return _OUTCOMES.get(status, "error")


# The series of every request and apiserver call, looked up once per label set
# (labels() makes a tuple of strings each time); the label values are bounded
# (see the module's docstring), so these caches are too.
@functools.cache
def request_duration(route: str, method: str, status: int) -> HistogramSeries:
    """The duration series of requests to ``route`` by ``method`` answered ``status``."""
    return REQUEST_DURATION.labels(route, method, str(status))


@functools.cache
def active_requests(method: str) -> GaugeSeries:
    """The in-flight series of ``method``."""
    return ACTIVE_REQUESTS.labels(method)


@functools.cache
def apiserver_call(verb: str, resource: str, code: str) -> tuple[CounterSeries, HistogramSeries]:
    """The count and duration series of apiserver calls ``verb`` ``resource`` answered ``code``."""
    return APISERVER_REQUESTS.labels(verb, resource, code), APISERVER_DURATION.labels(
        verb, resource
    )


_EVENT_OUTCOME: ContextVar[str | None] = ContextVar("kserve_functions_event_outcome", default=None)


def note_event_outcome(outcome: str) -> None:
    """Say how the CloudEvent being handled ended, when not simply ``processed``:
    ``refused`` (answered with a ``.failed`` reply) or ``duplicate`` (a redelivery
    with nothing left to do). Read by ``taken_event``."""
    _EVENT_OUTCOME.set(outcome)


def taking_event() -> None:
    """Start handling a CloudEvent: its outcome is ``processed`` unless noted."""
    _EVENT_OUTCOME.set(None)


def taken_event(event_type: str) -> None:
    """Count the CloudEvent handled since ``taking_event`` by its noted outcome."""
    CLOUDEVENTS.labels(event_type, _EVENT_OUTCOME.get() or "processed").inc()


class Work(StrEnum):
    """The work a function does whose series start at zero (``start_at_zero``)."""

    DEPLOYS = "deploys"
    WAITS = "waits"
    STREAMS = "streams"
    PUSHES = "pushes"
    REVIEWS = "reviews"
    RECORDS = "records"
    EVENTS = "events"


def _deploys() -> None:
    for action in ("created", "updated", "dry_run", "unknown"):
        for result in ("ok", *sorted(set(_OUTCOMES.values())), "error"):
            DEPLOYS.labels(action, result)


def _waits() -> None:
    for result in ("ready", "stopped", "gone", "failed", "timeout"):
        WAITS.labels(result)


def _streams() -> None:
    for kind in ("models", "model", "logs"):
        STREAMS_OPEN.labels(kind)
    _register(STREAM_REFUSALS)


def _pushes() -> None:
    for result in ("ok", "refused", "failed"):
        REGISTRY_PUSHES.labels(result)
    _register(MODELS_ROLLED, PUSH_TO_ROLLED)


def _register(*families: series.AnyFamily) -> None:
    """Expose ``families`` (each without labels: its one series)."""
    for family in families:
        family.exposed = True


def _reviews() -> None:
    for kind in ("token", "access"):
        AUTH_CACHE_HITS.labels(kind)
        for result in ("allowed", "denied", "error"):
            AUTH_REVIEWS.labels(kind, result)


def _records() -> None:
    for record in ("event", "revision"):
        RECORDS_FAILED.labels(record)


def _events() -> None:
    # An event type a function does not take is refused as "other" by every intake.
    for result in ("processed", "duplicate", "refused", "retry"):
        CLOUDEVENTS.labels("other", result)


_AT_ZERO: Final = {
    Work.DEPLOYS: _deploys,
    Work.WAITS: _waits,
    Work.STREAMS: _streams,
    Work.PUSHES: _pushes,
    Work.REVIEWS: _reviews,
    Work.RECORDS: _records,
    Work.EVENTS: _events,
}


def start_at_zero(work: Iterable[Work]) -> None:
    """Create the series of ``work`` whose label values are known in advance, at zero.

    A series that first appears already counting hides its first increase from
    ``rate()`` and ``increase()``; at zero from the process's start, a pod's
    first deploy, failed record or refusal shows in the dashboard and alerts.
    Only the work a function does: a series it never counts would be written
    by every scrape for nothing. Calling it again is harmless.
    """
    for done in work:
        _AT_ZERO[done]()


@functools.cache
def _ours() -> tuple[CollectorRegistry, Writer]:
    """This module's families in a registry of their own (for the client library's
    writers) and in this package's faster writer of the same lines."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415 - at a scrape only

    from kserve_functions.telemetry.writer import Writer  # noqa: PLC0415

    registry = CollectorRegistry()
    registry.register(series.Collector(_DEFINED))
    return registry, Writer(_DEFINED)


def registries() -> tuple[CollectorRegistry, CollectorRegistry]:
    """What a scrape shows, in order: prometheus-client's default registry (its
    process, platform and GC collectors, and any a library adds to it) and this
    module's families (the client library is imported here, on the first call:
    the first scrape)."""
    from prometheus_client import REGISTRY  # noqa: PLC0415

    return REGISTRY, _ours()[0]


_EOF: Final = b"# EOF\n"


def exposition(accept: str) -> tuple[bytes, str]:
    """The exposition of every metric of this process and its content type, in the
    format ``accept`` (a scraper's ``Accept`` header) asks for, as the client
    library negotiates it: OpenMetrics when asked, else Prometheus text.

    The client library writes its default registry; this module's families follow,
    written by ``writer.Writer`` in the formats it writes (the library's bytes;
    measured: 45 µs against the library's 530 µs for the models function's
    families, its default registry 150 µs), else by the library too. OpenMetrics
    ends once, with the last part's ``# EOF``.
    """
    from prometheus_client import exposition as client_exposition  # noqa: PLC0415

    from kserve_functions.telemetry import writer  # noqa: PLC0415

    encode, content_type = client_exposition.choose_encoder(accept)
    theirs, ours = registries()
    first = encode(theirs)
    form = writer.format_of(content_type)
    last = encode(ours) if form is None else _ours()[1].write(form)
    if first.endswith(_EOF) and last.endswith(_EOF):
        first = first[: -len(_EOF)]
    return first + last, content_type
