"""``telemetry.spans`` with export off (the default): it asks for nothing and changes nothing.

The on path loads the SDK into the process, so it is exercised where a function
is served in a process of its own (tests/integration/test_traces_export.py).
"""

from __future__ import annotations

import pytest
from kserve_functions.telemetry import spans, trace


@pytest.mark.parametrize(
    ("environment", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ],
)
def test_export_is_wanted_only_with_an_otlp_endpoint(
    environment: dict[str, str], wanted: bool
) -> None:
    assert spans.wanted(environment) is wanted


def test_without_export_a_request_keeps_its_trace_context_and_makes_no_span() -> None:
    context = trace.continued("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")

    span, handled_in = spans.server(context, "GET")
    token = trace.CURRENT.set(handled_in)
    try:
        call = spans.client("get", "inferenceservices", "GET")
    finally:
        trace.CURRENT.reset(token)

    assert (span, handled_in, call) == (None, context, None)
    spans.end_server(span, method="GET", route="/models", status=200, request_id="r")
    spans.end_client(call, "200")
