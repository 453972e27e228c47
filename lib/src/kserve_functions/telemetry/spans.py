"""Spans of requests and apiserver calls, exported over OTLP when asked for; else nothing.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
set, ``ModelFunction.start`` calls ``configure``, which loads the OpenTelemetry
SDK (``telemetry.otel``) and exports, over OTLP/HTTP (protobuf), a SERVER span
per request (``server``, named ``<METHOD> <route template>``) and a CLIENT span
per apiserver call (``client``, named ``<verb> <resource>``). The service is
named by ``OTEL_SERVICE_NAME``, else the function's name.

Unset, nothing of OpenTelemetry is imported (tests/unit/test_imports.py) and
every function here returns at its first line: a request pays one global read.

The ids are ours, and consistent everywhere: a server span continues the trace
of the request's ``TraceContext`` (its trace id, the caller's span as parent),
and the request is then handled in the span's ``TraceContext`` (its span id is
what the logs print and what the apiserver is sent); a client span is a child
of the request's span, and the apiserver gets the client span as its parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kserve_functions.telemetry import trace

if TYPE_CHECKING:
    from kserve_functions.telemetry.otel import Exporter, Span

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
FLUSH_SECONDS = 5.0
"""How long closing a function waits for the spans still batched to be sent."""

_SERVER_ERROR = 500
_CLIENT_ERROR = 400

_exporter: Exporter | None = None
"""The SDK's exporter once ``configure`` ran; None: spans are off (the module-level flag)."""


def wanted(environment: Mapping[str, str]) -> bool:
    """Whether ``environment`` asks for spans to be exported (an OTLP endpoint is set)."""
    return any(environment.get(name) for name in ENDPOINT_VARIABLES)


def configure(service_name: str, version: str) -> None:
    """Export spans from now on, as ``service_name`` unless ``OTEL_SERVICE_NAME`` names
    the service. Loads the SDK; a second call (another function object in the same
    process) changes nothing."""
    global _exporter  # noqa: PLW0603 - the one switch every call here reads
    if _exporter is not None:
        return
    # Imported here, and only here: without an endpoint the SDK is never loaded.
    from kserve_functions.telemetry.otel import Exporter  # noqa: PLC0415

    _exporter = Exporter(service_name, version)


def server(context: trace.TraceContext, method: str) -> tuple[Span | None, trace.TraceContext]:
    """A server span for the request ``context`` continues, and the trace context to
    handle it in (the span's); ``(None, context)`` when spans are off."""
    if _exporter is None:
        return None, context
    caller = (
        None
        if context.parent_id is None
        else trace.TraceContext(context.trace_id, context.parent_id, None, context.sampled)
    )
    # Named by its method until the route that takes it is known (OTel's name without one).
    span = _exporter.start(
        method, caller, remote=True, server=True, attributes={"http.request.method": method}
    )
    return span, span.context


def end_server(
    span: Span | None, *, method: str, route: str | None, status: int, request_id: str
) -> None:
    """End a request's span: its route template (None when no route took it), the
    answer's status (an error from 500 on, as OTel's HTTP conventions say for a
    server) and the request id the answer carries."""
    if span is None:
        return
    attributes: dict[str, str | int | list[str]] = {
        "http.response.status_code": status,
        "http.response.header.x-request-id": [request_id],
    }
    if route is not None:
        attributes["http.route"] = route
    span.end(
        attributes,
        name=method if route is None else f"{method} {route}",
        failed=status >= _SERVER_ERROR,
    )


def client(verb: str, resource: str, method: str) -> Span | None:
    """A client span for an apiserver call made while handling a request (a child of
    its span), ended at the answer's headers as the call is timed in the metrics (a
    watch's or a log's body is not its latency); None when spans are off or there is
    no request."""
    if _exporter is None:
        return None
    parent = trace.CURRENT.get()
    if parent is None:
        return None
    return _exporter.start(
        f"{verb} {resource}",
        parent,
        remote=False,
        server=False,
        attributes={
            "http.request.method": method,
            "k8s.request.verb": verb,
            "k8s.request.resource": resource,
        },
    )


def end_client(span: Span | None, code: str) -> None:
    """End an apiserver call's span with the answer's status code (``code``, or
    "error" when none came); an error from 400 on, as for an HTTP client."""
    if span is None:
        return
    failed = not code.isdigit() or int(code) >= _CLIENT_ERROR
    attributes: dict[str, str | int | list[str]] = {}
    if code.isdigit():
        attributes["http.response.status_code"] = int(code)
    if failed:
        attributes["error.type"] = code
    span.end(attributes, name=None, failed=failed)


async def flush() -> None:
    """Send the spans still batched (at most ``FLUSH_SECONDS``), off the event loop."""
    if _exporter is None:
        return
    await asyncio.to_thread(_exporter.flush, FLUSH_SECONDS)
