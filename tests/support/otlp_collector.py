"""A stand-in for an OpenTelemetry Collector's OTLP/HTTP receiver, for tests.

A real HTTP server on 127.0.0.1 in a thread of its own that takes what an
OTLP/HTTP exporter sends to ``POST /v1/traces`` (protobuf, possibly gzipped),
decodes it with opentelemetry-proto's ``ExportTraceServiceRequest`` (as a
collector does), keeps the spans and answers 200 with an empty export
response. It is not a collector: nothing is processed, batched or forwarded.
Point a function at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=<url>``.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from controlplane.processes import free_port
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span: its ids as lowercase hex (``parent_id`` None for a root),
    name, kind (``Span.SpanKind`` name, ``SPAN_KIND_SERVER``), attributes, and the
    ``service.name`` of the resource it came with."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    attributes: dict[str, object]
    service_name: str | None


class OtlpCollectorStandIn:
    """Records the spans POSTed to ``TRACES_PATH``; ``close`` stops it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def spans(self) -> list[ReceivedSpan]:
        """The spans received so far, in arrival order."""
        with self._lock:
            return list(self._spans)

    def wait_for(self, count: int, *, timeout: float = 20.0) -> list[ReceivedSpan]:
        """The spans received, once there are at least ``count`` (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while len(found := self.spans()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _keep(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            service = resource.get("service.name")
            for scope_spans in resource_spans.scope_spans:
                received.extend(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=Span.SpanKind.Name(span.kind),
                        attributes=_attributes(span.attributes),
                        service_name=None if service is None else str(service),
                    )
                    for span in scope_spans.spans
                )
        with self._lock:
            self._spans.extend(received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != TRACES_PATH:
                    self._answer(404, b"")
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector._keep(body)
                self._answer(200, ExportTraceServiceResponse().SerializeToString())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
                """Quiet: the test reads what was received, not an access log."""

        return Handler


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, object]:
    """OTLP key-value attributes as a dict (strings, integers, booleans, string lists)."""
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return None if kind is None else getattr(value, kind)
