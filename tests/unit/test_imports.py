"""Each function loads only what its routes need, and builds nothing heavy when it starts.

A function's cold start is its imports (DESIGN, README "Performance"): the
models function must not pay for CloudEvents, registry payloads, canary or
notify code it never runs, and no function builds a pydantic schema or its
OpenAPI document before a request needs it. Each check imports a function the
way func-python does (``new()`` of its package, in a fresh interpreter) and
reads ``sys.modules``; importing any of these modules from a module the
function loads fails it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.functions import FUNCTION_ROOTS

# Modules of the event paths: CloudEvents parsing, registry webhooks and the
# roll-outs they cause, the notify function's status events.
EVENT_PATHS = frozenset(
    {
        "cloudevents",
        "kserve_functions.intake.commands",
        "kserve_functions.cloudevents.envelope",
        "kserve_functions.intake.dispatch",
        "kserve_functions.intake.notify",
        "kserve_functions.cloudevents.registry",
        "kserve_functions.operations.rollouts",
        "kserve_functions.objects.transitions",
    }
)
# The MCP SDK and the tools over it: loaded on the first /mcp request (mcp.endpoint).
MCP_SDK = frozenset(
    {
        "mcp",
        "mcp_types",
        "starlette",
        "jsonschema",
        "kserve_functions.mcp.server",
        "kserve_functions.mcp.tools",
    }
)
NOT_LOADED: dict[str, frozenset[str]] = {
    # Reads only: no event path, no canary promotion or abort.
    "models": EVENT_PATHS | {"kserve_functions.operations.canary"},
    "health": EVENT_PATHS
    | {"kserve_functions.operations.canary", "kserve_functions.operations.revisions"},
    # Takes delete events, so CloudEvents; no canary, notify or rollback code.
    "delete": frozenset(
        {
            "kserve_functions.operations.canary",
            "kserve_functions.intake.notify",
            "kserve_functions.operations.revisions",
            "kserve_functions.objects.transitions",
        }
    ),
    "deploy": frozenset({"kserve_functions.intake.notify", "kserve_functions.objects.transitions"}),
    "notify": frozenset({"kserve_functions.operations.revisions"}),
    "root": frozenset({"kserve_functions.intake.notify", "kserve_functions.objects.transitions"})
    | MCP_SDK,
    # Takes no event; its tools' operations, and the SDK, load on its first request.
    "mcp": EVENT_PATHS | MCP_SDK | {"kserve_functions.operations.canary"},
}
# The JSON log formatter: loaded by start() only with LOG_FORMAT=json (telemetry.logs).
JSON_LOGS = frozenset({"pythonjsonlogger", "kserve_functions.telemetry.json_format"})
# The OpenTelemetry SDK and exporter: loaded by start() only with an OTLP endpoint
# (telemetry.spans); without one, not even the API.
SPAN_EXPORT = frozenset({"opentelemetry", "google.protobuf", "kserve_functions.telemetry.otel"})
# The metrics client library: loaded by the first GET /metrics (telemetry.metrics),
# not by a function's start or its first request.
METRICS_CLIENT = frozenset({"prometheus_client"})

# Prints what the new function instance has loaded and built, as JSON.
_PROBE = """
import inspect, json, sys
import pydantic
import function
instance = function.new()
from kserve_functions.core import models
built = sorted(
    name
    for name, value in vars(models).items()
    if inspect.isclass(value)
    and issubclass(value, pydantic.BaseModel)
    and value.__module__ == models.__name__
    and value.__pydantic_complete__
)
print(json.dumps({"modules": sorted(sys.modules), "built": built, "name": instance.name}))
"""


def _load(name: str) -> dict[str, object]:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=FUNCTION_ROOTS[name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    loaded: dict[str, object] = json.loads(probe.stdout)
    return loaded


def _top_packages(modules: object) -> set[str]:
    assert isinstance(modules, list)
    found: set[str] = set()
    for module in modules:
        parts = str(module).split(".")
        found.update(".".join(parts[: depth + 1]) for depth in range(len(parts)))
    return found


@pytest.mark.parametrize("name", sorted(NOT_LOADED))
def test_a_function_loads_nothing_its_routes_do_not_need(name: str) -> None:
    loaded = _load(name)

    assert (
        _top_packages(loaded["modules"])
        & (NOT_LOADED[name] | JSON_LOGS | SPAN_EXPORT | METRICS_CLIENT)
        == set()
    )


@pytest.mark.parametrize("name", sorted(NOT_LOADED))
def test_a_function_builds_no_schema_before_a_request(name: str) -> None:
    # The request and answer models are built when first used (defer_build); the
    # OpenAPI document on the first GET /openapi.json.
    loaded = _load(name)

    assert loaded["built"] == []


def test_the_check_sees_what_a_function_loads() -> None:
    # The deploy function takes CloudEvents and registry webhooks: the probe must see them.
    loaded = _top_packages(_load("deploy")["modules"])

    assert {
        "cloudevents",
        "kserve_functions.intake.commands",
        "kserve_functions.cloudevents.registry",
    } <= loaded


# Starts a new function instance with this process's environment and prints what is loaded.
_STARTED_PROBE = """
import json, os, sys
import function
function.new().start(os.environ.copy())
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_once_started(name: str, env: dict[str, str]) -> set[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    probe = subprocess.run(
        [sys.executable, "-c", _STARTED_PROBE],
        cwd=FUNCTION_ROOTS[name],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return _top_packages(json.loads(probe.stdout))


# Starts the models function, answers one GET of the path given, and prints the
# answer's status and what is loaded then.
_SERVED_PROBE = """
import asyncio, json, os, sys
import function
instance = function.new()
instance.start(os.environ.copy())

async def get(path):
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    await instance.handle(scope, receive, send)
    await instance.aclose()
    return sent[0]["status"]

status = asyncio.run(get(sys.argv[1]))
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


_UNREACHED_KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.mark.parametrize(
    ("path", "status", "loads_it"), [("/nope", 404, False), ("/metrics", 200, True)]
)
def test_a_request_loads_the_metrics_client_only_when_it_asks_for_metrics(
    path: str, status: int, loads_it: bool, tmp_path: Path
) -> None:
    # A request is counted and timed without the client library; GET /metrics loads it.
    # Neither reads the cluster: the kubeconfig only has to be one.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(_UNREACHED_KUBECONFIG)
    probe = subprocess.run(
        [sys.executable, "-c", _SERVED_PROBE, path],
        cwd=FUNCTION_ROOTS["models"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    answered = json.loads(probe.stdout)

    assert answered["status"] == status
    assert (_top_packages(answered["modules"]) >= METRICS_CLIENT) is loads_it


@pytest.mark.parametrize("name", ["root", "models", "mcp"])
def test_a_started_function_without_an_otlp_endpoint_imports_no_opentelemetry(name: str) -> None:
    loaded = _loaded_once_started(name, {})

    assert loaded & SPAN_EXPORT == set()


def test_a_started_function_with_an_otlp_endpoint_loads_the_sdk() -> None:
    # The check above sees the SDK when it is loaded (nothing is sent: no span is made).
    loaded = _loaded_once_started("models", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})

    assert {
        "opentelemetry.sdk.trace",
        "opentelemetry.exporter.otlp.proto.http",
        "kserve_functions.telemetry.otel",
    } <= loaded


def test_the_check_sees_the_mcp_sdk_once_the_server_is_imported() -> None:
    # What the first /mcp request imports (mcp.endpoint): the names above are real.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; import kserve_functions.mcp.server; "
            "print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr

    assert _top_packages(json.loads(probe.stdout)) >= MCP_SDK
