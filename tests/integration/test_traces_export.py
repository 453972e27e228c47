"""Spans exported over OTLP/HTTP (``OTEL_EXPORTER_OTLP_ENDPOINT``), against the real control plane.

The root function is served by func-python in its own process with JSON logs
and its OTLP endpoint pointing at a stand-in collector
(``support.otlp_collector``), which decodes what the OpenTelemetry exporter
sends as a collector does. The spans must continue the caller's trace and
agree with the ids the function's log lines print.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.functions import ServedFunction
from support.otlp_collector import OtlpCollectorStandIn, ReceivedSpan

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4737"
CALLER_SPAN = "10f067aa0ba902b8"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


@pytest.fixture
def collector() -> Iterator[OtlpCollectorStandIn]:
    stand_in = OtlpCollectorStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def exporting_root(
    function_env: dict[str, str], collector: OtlpCollectorStandIn, tmp_path: Path
) -> Iterator[ServedFunction]:
    """The root function with JSON logs, exporting its spans to ``collector``."""
    env = {
        **function_env,
        "LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        # The batch is sent every 0.1 s instead of 5 s: the test waits for it.
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    function = ServedFunction("root", env, tmp_path / "root.log")
    try:
        function.wait_ready()
        yield function
    finally:
        function.stop()


async def _access_line(function: ServedFunction, request_id: str) -> dict[str, Any]:
    """The access line of request ``request_id`` in the function's JSON log."""
    deadline = time.monotonic() + 10
    while True:
        for line in function.log().splitlines():
            record = json.loads(line)
            if record.get("request_id") == request_id and "http_route" in record:
                return dict(record)
        assert time.monotonic() < deadline, function.log()
        await asyncio.sleep(0.05)


def _of_trace(spans: list[ReceivedSpan], kind: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == TRACE_ID and s.kind == kind]


async def test_a_request_is_exported_as_a_server_span_with_its_apiserver_calls_as_children(
    exporting_root: ServedFunction, collector: OtlpCollectorStandIn, namespace: str
) -> None:
    async with httpx.AsyncClient(base_url=exporting_root.url, timeout=30) as api:
        answer = await api.get(
            "/models",
            params={"namespace": namespace},
            headers={"traceparent": TRACEPARENT, "X-Request-Id": "exported"},
        )
    assert answer.status_code == 200, answer.text

    deadline = time.monotonic() + 20
    while not (
        _of_trace(spans := collector.spans(), "SPAN_KIND_SERVER")
        and _of_trace(spans, "SPAN_KIND_CLIENT")
    ):
        assert time.monotonic() < deadline, (spans, exporting_root.log())
        await asyncio.sleep(0.05)

    [server] = _of_trace(spans, "SPAN_KIND_SERVER")
    assert server.name == "GET /models"
    assert server.parent_id == CALLER_SPAN
    assert server.service_name == "kserve-api"
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["http.route"] == "/models"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["http.response.header.x-request-id"] == ["exported"]
    calls = _of_trace(spans, "SPAN_KIND_CLIENT")
    assert {call.parent_id for call in calls} == {server.span_id}
    # The list of models (streamed as a watch where the apiserver can): "<verb> <resource>".
    [listed] = [c for c in calls if c.attributes["k8s.request.resource"] == "inferenceservices"]
    assert listed.attributes["k8s.request.verb"] in {"list", "watch"}
    assert listed.name == f"{listed.attributes['k8s.request.verb']} inferenceservices"
    assert listed.attributes["http.request.method"] == "GET"
    assert listed.attributes["http.response.status_code"] == 200

    # The log names the exported span: the ids agree wherever they are seen.
    line = await _access_line(exporting_root, "exported")
    assert (line["trace_id"], line["span_id"]) == (TRACE_ID, server.span_id)
