"""Structured logs (``LOG_FORMAT=json``) and W3C trace context, against the real control plane.

Functions are served by func-python in their own processes, as Knative serves
them, and their whole output (stdout and stderr) is read back. What a function
sends the apiserver is seen through a recording forwarder
(``support.recording_proxy``): the function's kubeconfig names it as the
server, and it passes every request on to the real apiserver over TLS. Events
the functions send go to a recording sink, as in ``test_notify.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cloudevents.core.bindings.http import (
    HTTPMessage,
    from_http_event,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from support.apiserver_source import source_event
from support.event_sink import RecordingSink
from support.functions import ServedFunction
from support.problems import assert_problem
from support.rbac import ALL_MODEL_VERBS, model_token
from support.recording_proxy import RecordingProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
EVENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
EVENT_SPAN = "b7ad6b7169203331"
EVENT_TRACEPARENT = f"00-{EVENT_TRACE_ID}-{EVENT_SPAN}-01"
LEADING = ["timestamp", "severity", "logger", "caller", "message"]
SPAN_ID = re.compile("[0-9a-f]{16}")
DELETE = "dev.kserve-functions.model.delete"
DELETED = "dev.kserve-functions.model.deleted"
SECRET_VALUE = "hunter2-secret-value"

Record = dict[str, Any]


def _records(function: ServedFunction) -> list[Record]:
    """Every line the function wrote so far, each read as one JSON object."""
    records = []
    for number, line in enumerate(function.log().splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} of {function.name}'s log is not JSON: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    return records


async def _lines_where(
    function: ServedFunction, wanted: Callable[[Record], bool], *, timeout: float = 10.0
) -> list[Record]:
    """The log lines ``wanted`` takes, once there is one: a request's lines are written
    as it is answered, its access line just after."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in _records(function) if wanted(record)]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def _access_line(function: ServedFunction, request_id: str) -> Record:
    """The access line of the request ``request_id``."""
    [line] = await _lines_where(
        function, lambda r: r.get("request_id") == request_id and "http_route" in r
    )
    return line


def _serve(name: str, env: dict[str, str], directory: Path) -> ServedFunction:
    function = ServedFunction(name, env, directory / f"{name}.log")
    try:
        function.wait_ready()
    except Exception:
        function.stop()
        raise
    return function


@pytest.fixture(scope="module")
def recorder(control_plane: ControlPlane) -> Iterator[RecordingProxy]:
    """The forwarder that records what goes to the apiserver."""
    proxy = RecordingProxy(control_plane.kubeconfig_path, control_plane.ca_cert_path)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def json_root(
    function_env: dict[str, str],
    recorder: RecordingProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServedFunction]:
    """The root function with LOG_FORMAT=json, reaching the apiserver through ``recorder``."""
    directory = tmp_path_factory.mktemp("json-root")
    kubeconfig = recorder.write_kubeconfig(directory / "kubeconfig")
    env = {**function_env, "LOG_FORMAT": "json", "KUBECONFIG": str(kubeconfig)}
    function = _serve("root", env, directory)
    yield function
    function.stop()


@pytest_asyncio.fixture
async def root(json_root: ServedFunction) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=json_root.url, timeout=30) as made:
        yield made


# -- every line ------------------------------------------------------------------


async def test_every_line_of_the_log_is_one_json_object_with_knatives_fields(
    function_env: dict[str, str], tmp_path: Path, namespace: str
) -> None:
    function = _serve("root", {**function_env, "LOG_FORMAT": "json"}, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=function.url, timeout=30) as api:
            assert (await api.get("/models", params={"namespace": namespace})).status_code == 200
            assert (await api.get("/metrics")).status_code == 200
            assert (await api.get("/nope")).status_code == 404
            assert (await api.post("/deploy", json={"name": "Bad Name"})).status_code == 422
            assert (await api.post("/", content=b"{", headers={"ce-type": "x"})).status_code == 400
        await _lines_where(function, lambda r: r.get("http_response_status_code") == 400)
    finally:
        function.stop()

    records = _records(function)
    for record in records:
        assert list(record)[:5] == LEADING, record
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
        assert record["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        assert re.fullmatch(r"[\w.]+\.py:\d+", record["caller"]), record["caller"]
    messages = [record["message"] for record in records]
    assert any(m.startswith("kserve-api started") for m in messages)
    assert sum("Running on http://127.0.0.1" in m for m in messages) == 1, "hypercorn's, once"
    access = [record for record in records if "http_route" in record]
    assert [(r["http_route"], r["http_response_status_code"]) for r in access] == [
        ("/models", 200),
        ("/metrics", 200),
        ("unmatched", 404),
        ("/deploy", 422),
        # An event refused before a route took it (metrics: http_route "unmatched").
        ("unmatched", 400),
    ]
    assert len({r["request_id"] for r in access}) == len(access)
    assert len({r["trace_id"] for r in access}) == len(access), "a trace each"


# -- a request's id and trace ------------------------------------------------------------


async def test_a_requests_lines_name_its_id_and_trace_and_its_apiserver_calls_carry_it(
    root: httpx.AsyncClient, json_root: ServedFunction, recorder: RecordingProxy, namespace: str
) -> None:
    deployed = await root.post(
        "/deploy", json={"name": "traced", "namespace": namespace, "image": "r/m:1"}
    )
    assert deployed.status_code == 201, deployed.text

    answer = await root.get(
        f"/models/{namespace}/traced", headers={"X-Request-Id": "abc", "traceparent": TRACEPARENT}
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "abc"
    assert "traceparent" not in answer.headers
    line = await _access_line(json_root, "abc")
    assert line["message"].startswith(f"GET '/models/{namespace}/traced' 200 ")
    assert (line["severity"], line["logger"]) == ("INFO", "kserve_functions")
    assert line["trace_id"] == TRACE_ID
    span = line["span_id"]
    assert SPAN_ID.fullmatch(span)
    assert span != CALLER_SPAN, "this function's span, the caller's as its parent"
    assert line["http_route"] == "/models/{namespace}/{name}"
    assert line["http_request_method"] == "GET"
    assert line["http_response_status_code"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert (line["namespace"], line["model"]) == (namespace, "traced")
    assert "user" not in line, "AUTH_MODE=none: no caller"

    # What the apiserver was sent for that request: the trace, this function's span as parent.
    traced = [r for r in recorder.requests() if TRACE_ID in r.headers.get("traceparent", "")]
    model_path = f"/namespaces/{namespace}/{INFERENCE_SERVICE.plural}/traced"
    assert any(r.method == "GET" and r.path.endswith(model_path) for r in traced), traced
    assert {r.headers["traceparent"] for r in traced} == {f"00-{TRACE_ID}-{span}-01"}
    # The deploy before it was a trace of its own, passed on as well.
    applied = [r for r in recorder.requests() if r.method == "PATCH" and model_path in r.path]
    assert applied
    for request in applied:
        assert "traceparent" in request.headers
        assert TRACE_ID not in request.headers["traceparent"]


async def test_a_problem_names_its_request_id(
    root: httpx.AsyncClient, json_root: ServedFunction
) -> None:
    problem = assert_problem(await root.get("/nope", headers={"X-Request-Id": "abc-404"}), 404)
    assert problem["requestId"] == "abc-404"

    invalid = await root.post("/deploy", json={"name": "Bad"}, headers={"X-Request-Id": "abc-422"})
    assert assert_problem(invalid, 422)["requestId"] == "abc-422"
    assert invalid.headers["x-request-id"] == "abc-422"

    line = await _access_line(json_root, "abc-404")
    assert (line["http_route"], line["http_response_status_code"]) == ("unmatched", 404)


@pytest.mark.parametrize("given", [None, "two words", "x" * 129, "caf\u00e9"])
async def test_a_request_without_a_usable_id_gets_one(
    root: httpx.AsyncClient, json_root: ServedFunction, given: str | None
) -> None:
    headers = {} if given is None else {b"X-Request-Id": given.encode()}

    answer = await root.get("/nope", headers=headers)

    request_id = answer.headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", request_id)
    assert answer.json()["requestId"] == request_id
    line = await _access_line(json_root, request_id)
    assert re.fullmatch("[0-9a-f]{32}", line["trace_id"]), "a trace of its own"


# -- CloudEvents -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["binary", "structured"])
async def test_an_events_traceparent_is_continued_in_its_lines_reply_and_apiserver_calls(
    root: httpx.AsyncClient,
    json_root: ServedFunction,
    recorder: RecordingProxy,
    namespace: str,
    mode: str,
) -> None:
    event_id = uuid.uuid4().hex
    event = CloudEvent(
        attributes={
            "type": DELETE,
            "source": "/tests/logs",
            "id": event_id,
            "datacontenttype": "application/json",
            "traceparent": EVENT_TRACEPARENT,
        },
        data={"namespace": namespace, "name": "never-there"},
    )
    message = to_binary_event(event) if mode == "binary" else to_structured_event(event)
    # The HTTP hop has a trace of its own (a Broker's); the event's extension wins.
    headers = {**message.headers, "traceparent": TRACEPARENT, "X-Request-Id": event_id}

    answer = await root.post("/", content=message.body, headers=headers)

    assert answer.status_code == 200, answer.text
    reply = from_http_event(HTTPMessage(headers=dict(answer.headers), body=answer.content))
    assert reply.get_type() == DELETED
    version, trace_id, span, flags = str(reply.get_extension("traceparent")).split("-")
    assert (version, trace_id, flags) == ("00", EVENT_TRACE_ID, "01")
    assert SPAN_ID.fullmatch(span)
    assert span != EVENT_SPAN

    access = await _access_line(json_root, event_id)
    lines = await _lines_where(json_root, lambda r: r.get("event_id") == event_id)
    assert any("already absent" in line["message"] for line in lines), lines
    assert access in lines
    for line in lines:
        assert (line["trace_id"], line["span_id"]) == (EVENT_TRACE_ID, span)
        assert (line["event_type"], line["event_source"]) == (DELETE, "/tests/logs")
        assert line["request_id"] == event_id
    assert access["http_route"] == "/"

    deletes = [
        r for r in recorder.requests() if r.method == "DELETE" and r.path.endswith("/never-there")
    ]
    assert f"00-{EVENT_TRACE_ID}-{span}-01" in {r.headers.get("traceparent") for r in deletes}


async def test_a_status_event_sent_to_the_sink_carries_the_trace_of_its_cause(
    function_env: dict[str, str], tmp_path: Path, namespace: str
) -> None:
    sink = RecordingSink()
    env = {**function_env, "LOG_FORMAT": "json", "K_SINK": sink.url}
    notify = _serve("notify", env, tmp_path)
    try:
        gone = {
            "apiVersion": INFERENCE_SERVICE.api_version,
            "kind": INFERENCE_SERVICE.kind,
            "metadata": {"name": "gone", "namespace": namespace, "uid": str(uuid.uuid4())},
        }
        change = source_event("DELETED", gone, source="https://127.0.0.1:6443")
        async with httpx.AsyncClient(base_url=notify.url, timeout=30) as api:
            answer = await api.post(
                "/",
                content=change.body,
                headers={**change.headers, "ce-traceparent": EVENT_TRACEPARENT},
            )
        assert (answer.status_code, answer.content) == (200, b"")
        [sent] = sink.events()
        assert sent.type == DELETED
        assert sent.traceparent is not None
        version, trace_id, span, flags = sent.traceparent.split("-")
        assert (version, trace_id, flags) == ("00", EVENT_TRACE_ID, "01")
        assert span != EVENT_SPAN
        assert sent.traceparent_header == sent.traceparent, "the POST's own header too"
        [line] = await _lines_where(notify, lambda r: "sent deleted" in r["message"])
        assert (line["trace_id"], line["span_id"]) == (EVENT_TRACE_ID, span)
    finally:
        notify.stop()
        sink.close()


# -- no secret ------------------------------------------------------------------------


async def test_no_secret_is_ever_logged(
    function_env: dict[str, str],
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    tmp_path: Path,
    namespace: str,
) -> None:
    token = model_token(control_plane, admin_api, namespace, "log-deployer", ALL_MODEL_VERBS)
    forged = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmb3JnZWQifQ.not-a-signature-at-all"
    env = {
        **function_env,
        "LOG_FORMAT": "json",
        "AUTH_MODE": "kubernetes",
        "DB_PASSWORD": SECRET_VALUE,
    }
    function = _serve("root", env, tmp_path)
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=function.url, timeout=30) as api:
            body = {
                "name": "secretive",
                "namespace": namespace,
                "image": "r/m:1",
                "envs": {"DB_PASSWORD": SECRET_VALUE},
            }
            deployed = await api.post(
                "/deploy", json=body, headers={**bearer, "X-Request-Id": "deploy-1"}
            )
            assert deployed.status_code == 201, deployed.text
            assert (await api.get(f"/models/{namespace}/secretive", headers=bearer)).is_success
            # Refused credentials: a forged token, and the real one in the wrong scheme.
            for refused in (f"Bearer {forged}", f"Basic {token}"):
                answer = await api.get("/models", headers={"Authorization": refused})
                assert_problem(answer, 401, token=token)
            # In an event's data and headers too.
            event = to_binary_event(
                CloudEvent(
                    attributes={"type": DELETE, "source": "/tests/logs", "id": "e1"},
                    data={"namespace": namespace, "name": "secretive", "x": SECRET_VALUE},
                )
            )
            await api.post("/", content=event.body, headers={**event.headers, **bearer})
        deploy_line = await _access_line(function, "deploy-1")
    finally:
        function.stop()

    # Who asked is logged, never with what they proved it.
    assert deploy_line["user"] == f"system:serviceaccount:{namespace}:log-deployer"
    log = function.log()
    assert log.count("\n") > 8, log
    signatures = [t.rsplit(".", 1)[-1] for t in (token, forged)]
    for secret in (SECRET_VALUE, token, forged, *signatures):
        assert secret not in log
