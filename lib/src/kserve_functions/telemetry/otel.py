"""The OpenTelemetry SDK behind ``telemetry.spans``: loaded only when spans are exported.

Importing this module imports the SDK and its OTLP/HTTP exporter (about what a
function's whole cold start costs again), so ``spans.configure`` imports it
only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; nothing else may.

Our ``trace.CURRENT`` stays the one place the trace context lives (the logs,
the apiserver's ``traceparent`` and sent events read it). The SDK is given it
as an explicit parent of each span and never keeps a context of its own: a
server span is started as the child of the caller's span (a remote parent
built from the ``TraceContext``), and the ``TraceContext`` the request is then
handled in is read back from that span, so the ids the logs print are the
exported span's. The SDK's sampler (``OTEL_TRACES_SAMPLER``, by default the
parent's decision, and sampled for a trace started here) decides ``sampled``.
"""

from __future__ import annotations

import os

from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from kserve_functions.telemetry import trace


class Span:
    """One span being recorded (or, when not sampled, only carrying its ids)."""

    __slots__ = ("_span", "context")

    def __init__(self, span: otel_trace.Span, parent: trace.TraceContext | None) -> None:
        self._span = span
        made = span.get_span_context()
        self.context = trace.TraceContext(
            trace_id=otel_trace.format_trace_id(made.trace_id),
            span_id=otel_trace.format_span_id(made.span_id),
            parent_id=None if parent is None else parent.span_id,
            sampled=made.trace_flags.sampled,
        )
        """This span as our trace context: what the logs name and what is passed on."""

    def end(
        self, attributes: dict[str, str | int | list[str]], *, name: str | None, failed: bool
    ) -> None:
        """End the span with ``attributes`` (and, given, its final ``name``); ``failed``
        marks its status as an error."""
        if name is not None:
            self._span.update_name(name)
        self._span.set_attributes(attributes)
        if failed:
            self._span.set_status(otel_trace.StatusCode.ERROR)
        self._span.end()


class Exporter:
    """A tracer provider batching spans to the OTLP/HTTP endpoint of the environment
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, protobuf, as the exporter reads it)."""

    def __init__(self, service_name: str, version: str) -> None:
        # OTEL_SERVICE_NAME (read by Resource.create) wins over the function's name.
        named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
        self._provider = TracerProvider(resource=Resource.create(named))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("kserve_functions", version)

    def start(
        self,
        name: str,
        parent: trace.TraceContext | None,
        *,
        remote: bool,
        server: bool,
        attributes: dict[str, str],
    ) -> Span:
        """A span ``name`` (server or client kind), child of ``parent`` (a root without one)."""
        context = None
        if parent is not None:
            flags = otel_trace.TraceFlags(
                otel_trace.TraceFlags.SAMPLED if parent.sampled else otel_trace.TraceFlags.DEFAULT
            )
            parent_span = otel_trace.NonRecordingSpan(
                otel_trace.SpanContext(
                    int(parent.trace_id, 16),
                    int(parent.span_id, 16),
                    is_remote=remote,
                    trace_flags=flags,
                )
            )
            context = otel_trace.set_span_in_context(parent_span)
        kind = otel_trace.SpanKind.SERVER if server else otel_trace.SpanKind.CLIENT
        started = self._tracer.start_span(name, context, kind=kind, attributes=attributes)
        return Span(started, parent)

    def flush(self, timeout_seconds: float) -> None:
        """Send what is batched, waiting at most ``timeout_seconds``."""
        self._provider.force_flush(int(timeout_seconds * 1000))
