"""The MCP function (``kserve-mcp``) driven by the MCP SDK's own client over Streamable HTTP.

Against the local KServe cluster: the tools and their schemas, an agent's whole
session (deploy with a dry run, then for real, wait for Ready through the
model's resource, read a crash loop's log, roll back, delete with and without
confirmation), a read-only caller's refusals, and bad input.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import jsonschema
import mcp_types as types
import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.mcp import tools
from kubernetes import client
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from support import workloads
from support.functions import MAX_BODY_BYTES, ServedFunction
from support.objects import inference_service_names, read_inference_service
from support.pod_logs import write_pod_log
from support.rbac import model_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

READY_SECONDS = 90.0


@asynccontextmanager
async def connected(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """The SDK's client on ``url``'s ``/mcp``, presenting ``token`` when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as session,
    ):
        yield session


@pytest.fixture
def mcp_url(served: Callable[[str], ServedFunction]) -> str:
    """The MCP function served by func-python with AUTH_MODE=none (the session's)."""
    return served("mcp").url


@pytest.fixture
def secured_url(function_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The MCP function served with AUTH_MODE=kubernetes."""
    env = {**function_env, "AUTH_MODE": "kubernetes", "AUTH_CACHE_TTL_SECONDS": "1"}
    function = ServedFunction("mcp", env, tmp_path / "mcp.log")
    try:
        function.wait_ready()
        yield function.url
    finally:
        function.stop()


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def _call(session: Client, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    result = await session.call_tool(name, arguments)
    assert isinstance(result, types.CallToolResult)
    return result


def _ok(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured


async def _wait_until(
    session: Client, namespace: str, name: str, reached: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Listen to the model's resource and read it on each update until ``reached``."""
    uri = f"kserve://models/{namespace}/{name}"
    seen: dict[str, Any] = {}
    try:
        with anyio.fail_after(READY_SECONDS):
            async with session.listen(resource_subscriptions=[uri]) as subscription:
                async for _ in subscription:
                    read = await session.read_resource(uri)
                    [contents] = read.contents
                    assert isinstance(contents, types.TextResourceContents)
                    seen = json.loads(contents.text)
                    if reached(seen):
                        return seen
    except TimeoutError:
        pass
    raise AssertionError(f"{uri} did not get there; last read: {seen}")


def _ready(model: dict[str, Any]) -> bool:
    return model["state"] == "ready" and model["ready"] is True


# -- tools ---------------------------------------------------------------------------


async def test_the_tools_are_the_table_with_valid_schemas_matching_the_openapi_document(
    mcp_url: str, served: Callable[[str], ServedFunction]
) -> None:
    document = httpx.get(f"{served('root').url}/openapi.json", timeout=30).json()

    async with connected(mcp_url) as session:
        listed = (await session.list_tools()).tools

    assert [tool.name for tool in listed] == [tool.name for tool in tools.TOOLS]
    for tool in listed:
        row = tools.BY_NAME[tool.name]
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is row.read_only
        assert tool.annotations.destructive_hint is row.destructive
        operation = document["paths"][row.path][row.method.lower()]
        assert operation["operationId"] == row.operation.operation_id
        properties = tool.input_schema["properties"]
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" or parameter["name"] in tools.STREAMS:
                continue
            expected = tools.argument_schema(parameter["schema"])
            given = {k: v for k, v in properties[parameter["name"]].items() if k != "description"}
            assert given == expected, (tool.name, parameter["name"])
        body = operation.get("requestBody")
        if body is not None:
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            component = json.loads(
                json.dumps(document["components"]["schemas"][ref]).replace(
                    "#/components/schemas/", "#/$defs/"
                )
            )
            for name, schema in component["properties"].items():
                assert properties[name] == schema, (tool.name, name)


async def test_the_root_function_serves_the_same_tools_at_mcp(
    served: Callable[[str], ServedFunction], namespace: str
) -> None:
    async with connected(served("root").url) as session:
        listed = (await session.list_tools()).tools
        answer = await _call(session, "list_models", {"namespace": namespace})

    assert [tool.name for tool in listed] == [tool.name for tool in tools.TOOLS]
    assert _ok(answer)["models"] == []


# -- an agent's session ----------------------------------------------------------------


async def test_an_agent_deploys_waits_reads_a_crash_loop_rolls_back_and_deletes(
    mcp_url: str, control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    model = {"namespace": namespace, "name": "iris", "image": "r/iris:1"}
    async with connected(mcp_url) as session:
        dry = _ok(await _call(session, "deploy_model", {**model, "dryRun": True}))
        assert inference_service_names(admin_api, namespace) == []
        assert (dry["name"], dry["dryRun"]) == ("iris", True)

        _ok(await _call(session, "deploy_model", model))
        listed = await session.list_resources()
        assert f"kserve://models/{namespace}/iris" in {str(r.uri) for r in listed.resources}
        await _wait_until(session, namespace, "iris", _ready)

        crashing = workloads.crash_looping("model file is corrupt", exit_code=3)
        _ok(await _call(session, "deploy_model", {**model, "image": "r/iris:2", **crashing}))
        # The update rolls out while v1 still serves ("updating"); its new pod crashes.
        updating = await _wait_until(session, namespace, "iris", lambda m: m["generation"] == 2)
        assert updating["state"] == "updating"

        def crashing_pod() -> str | None:
            for pod in workloads.pods(admin_api, namespace, "iris"):
                if pod["metadata"].get("labels", {}).get(workloads.CRASH_LABEL):
                    return str(pod["metadata"]["name"])
            return None

        pod_name = workloads.wait_for(crashing_pod, what="the crash-looping pod of v2")
        write_pod_log(control_plane, namespace, pod_name, "kserve-container", ["corrupt"])
        logs = await _call(
            session, "model_logs", {"namespace": namespace, "name": "iris", "pod": pod_name}
        )
        assert not logs.is_error, _text(logs)
        assert "corrupt" in _text(logs)

        target = {"namespace": namespace, "name": "iris"}
        refused = await _call(session, "rollback_model", {**target, "revision": 1})
        assert refused.is_error
        assert f'"confirm": "{namespace}/iris"' in _text(refused)
        rolled = _ok(
            await _call(
                session, "rollback_model", {**target, "revision": 1, "confirm": f"{namespace}/iris"}
            )
        )
        assert (rolled["action"], rolled["revision"]) == ("updated", 3)
        back = await _wait_until(
            session, namespace, "iris", lambda m: _ready(m) and m["generation"] == 3
        )
        assert back["image"] == "r/iris:1"
        revisions = _ok(await _call(session, "model_revisions", target))
        assert revisions["revisions"][0]["how"] == "mcp tool rollback_model"

        unconfirmed = await _call(session, "delete_model", target)
        assert unconfirmed.is_error
        assert "Nothing was changed" in _text(unconfirmed)
        assert inference_service_names(admin_api, namespace) == ["iris"]
        wrong = await _call(session, "delete_model", {**target, "confirm": f"{namespace}/other"})
        assert wrong.is_error
        assert inference_service_names(admin_api, namespace) == ["iris"]
        deleted = _ok(
            await _call(session, "delete_model", {**target, "confirm": f"{namespace}/iris"})
        )
        assert deleted["status"] == "deleted"


async def test_a_listen_ends_gracefully_when_the_models_watch_ends(
    function_env: dict[str, str], tmp_path: Path, admin_api: client.ApiClient, namespace: str
) -> None:
    # The watch ends after STREAM_MAX_SECONDS: the listen ends with it (the client
    # listens again), rather than staying open and silent.
    function = ServedFunction("mcp", {**function_env, "STREAM_MAX_SECONDS": "2"}, tmp_path / "l")
    try:
        function.wait_ready()
        async with connected(function.url) as session:
            model = {"namespace": namespace, "name": "iris", "image": "r/iris:1"}
            _ok(await _call(session, "deploy_model", model))
            uri = f"kserve://models/{namespace}/iris"
            updates = 0
            with anyio.fail_after(30):
                async with session.listen(resource_subscriptions=[uri]) as subscription:
                    async for _ in subscription:
                        updates += 1
    finally:
        function.stop()

    assert updates >= 1


# -- a read-only caller ----------------------------------------------------------------


async def test_a_read_only_caller_reads_and_is_refused_every_change_with_the_reason(
    secured_url: str,
    mcp_url: str,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
) -> None:
    async with connected(mcp_url) as admin:
        _ok(
            await _call(
                admin, "deploy_model", {"namespace": namespace, "name": "iris", "image": "r/iris:1"}
            )
        )
    before = read_inference_service(admin_api, namespace, "iris")
    reader = model_token(control_plane, admin_api, namespace, "reader", ("get", "list", "watch"))
    target = {"namespace": namespace, "name": "iris"}
    confirmed = {**target, "confirm": f"{namespace}/iris"}

    async with connected(secured_url, reader) as session:
        assert _ok(await _call(session, "get_model", target))["name"] == "iris"
        listed = _ok(await _call(session, "list_models", {"namespace": namespace}))
        assert [m["name"] for m in listed["models"]] == ["iris"]
        for name, arguments in (
            ("deploy_model", {**target, "image": "r/iris:2"}),
            ("stop_model", confirmed),
            ("rollback_model", confirmed),
            ("delete_model", confirmed),
        ):
            refused = await _call(session, name, arguments)
            assert refused.is_error, name
            # The RBAC reason, as the HTTP route says it.
            user = f"system:serviceaccount:{namespace}:reader"
            assert _text(refused).startswith(f"Forbidden (403): {user} may not "), name

    after = read_inference_service(admin_api, namespace, "iris")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


async def test_a_change_through_mcp_is_recorded_as_the_callers_through_mcp(
    secured_url: str, control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    verbs = ("get", "list", "watch", "create", "patch", "delete")
    editor = model_token(control_plane, admin_api, namespace, "editor", verbs)

    async with connected(secured_url, editor) as session:
        _ok(
            await _call(
                session,
                "deploy_model",
                {"namespace": namespace, "name": "iris", "image": "r/iris:1"},
            )
        )

    stored = read_inference_service(admin_api, namespace, "iris")
    annotations = stored["metadata"]["annotations"]
    assert annotations["kserve-functions.dev/changed-by"] == (
        f"system:serviceaccount:{namespace}:editor"
    )
    assert annotations["kserve-functions.dev/changed-how"] == "mcp tool deploy_model"


# -- bad input -------------------------------------------------------------------------


async def test_an_unknown_tool_is_a_protocol_error(mcp_url: str) -> None:
    async with connected(mcp_url) as session:
        with pytest.raises(MCPError) as raised:
            await session.call_tool("drop_cluster", {})

    assert raised.value.error.code == types.INVALID_PARAMS
    assert "unknown tool" in raised.value.error.message


async def test_schema_invalid_and_huge_arguments_are_tool_errors_and_change_nothing(
    mcp_url: str, admin_api: client.ApiClient, namespace: str
) -> None:
    async with connected(mcp_url) as session:
        missing = await _call(session, "get_model", {"namespace": namespace})
        wrong_type = await _call(session, "deploy_model", {"namespace": namespace, "name": 7})
        unknown = await _call(session, "list_models", {"namespace": namespace, "everything": True})
        huge = await _call(
            session, "deploy_model", {"namespace": namespace, "name": "x" * (MAX_BODY_BYTES // 2)}
        )

    for result in (missing, wrong_type, unknown, huge):
        assert result.is_error
        assert _text(result).startswith("invalid arguments for")
        assert "Traceback" not in _text(result)
    assert "'name' is a required property" in _text(missing)
    assert len(_text(huge)) < 1000
    assert inference_service_names(admin_api, namespace) == []


async def test_a_body_over_the_limit_is_refused_before_the_sdk(mcp_url: str) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "get_model", "arguments": {"name": "x" * MAX_BODY_BYTES}},
    }

    answer = httpx.post(f"{mcp_url}/mcp", json=call, timeout=30)

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


async def test_without_a_token_the_endpoint_is_a_protected_resource(secured_url: str) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}

    answer = httpx.post(f"{secured_url}/mcp", json=listing, headers=headers, timeout=30)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "token" in answer.json()["detail"]


async def test_a_browser_origin_not_allowed_is_refused(mcp_url: str) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {
        "Accept": "application/json, text/event-stream",
        "Origin": "https://evil.example",
    }

    answer = httpx.post(f"{mcp_url}/mcp", json=listing, headers=headers, timeout=30)

    assert answer.status_code == 403
    assert "MCP_ALLOWED_ORIGINS" in answer.json()["detail"]


async def test_get_on_the_endpoint_is_not_a_stream(mcp_url: str) -> None:
    # Stateless: no standing stream to GET.
    answer = httpx.get(f"{mcp_url}/mcp", timeout=30)

    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


# -- stopping --------------------------------------------------------------------------


async def test_a_function_that_served_mcp_stops_with_its_sessions_closed(
    function_env: dict[str, str], tmp_path: Path, namespace: str
) -> None:
    # func-python's stop leaves the closing to the loop's last turn, which cancels
    # it; stopping the SDK's server first must not leave the Kubernetes client's
    # session open (asyncio reports an unclosed session at exit).
    function = ServedFunction("root", function_env, tmp_path / "root.log")
    try:
        function.wait_ready()
        async with httpx.AsyncClient(base_url=function.url) as http:
            assert (await http.get("/health")).status_code == 200
            assert (await http.get("/models", params={"namespace": namespace})).status_code == 200
        async with connected(function.url) as session:
            assert (await session.list_tools()).tools
    finally:
        function.stop()

    assert function.process.returncode == 0, function.log()
    assert "Unclosed" not in function.log(), function.log()[-2000:]
