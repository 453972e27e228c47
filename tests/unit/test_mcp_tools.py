"""The MCP tool table and its pure parts: schemas, confirmations, requests and results."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import jsonschema
import pytest
from kserve_functions.api.openapi import PATH_SCHEMAS
from kserve_functions.config import ConfigError, Settings
from kserve_functions.core import errors
from kserve_functions.core.models import DeployRequest
from kserve_functions.http import queries
from kserve_functions.kube import Caller
from kserve_functions.mcp import resources, tools
from kserve_functions.mcp.endpoint import allowed_origins
from support.functions import new_function

SETTINGS = Settings()


def test_each_tool_is_a_route_of_the_root_function_with_its_contract() -> None:
    served = {
        (route.method, route.path): route.operation for route in new_function("root")._router.routes
    }

    for tool in tools.TOOLS:
        assert served[(tool.method, tool.path)] is tool.operation, tool.name


def test_tool_names_are_unique_and_read_tools_are_read_only() -> None:
    assert len(tools.BY_NAME) == len(tools.TOOLS)
    for tool in tools.TOOLS:
        assert tool.read_only == (tool.method == "GET"), tool.name
        assert not (tool.read_only and tool.destructive), tool.name


def test_the_destructive_tools_the_issue_names_need_confirmation() -> None:
    confirming = {tool.name for tool in tools.TOOLS if tool.confirms}

    assert confirming == {"delete_model", "stop_model", "abort_canary", "rollback_model"}


@pytest.mark.parametrize("tool", tools.TOOLS, ids=lambda tool: tool.name)
def test_every_input_schema_is_valid_json_schema_and_closed(tool: tools.Tool) -> None:
    schema = tools.input_schema(tool, SETTINGS)

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(tool.path_parameters) <= set(schema.get("required", []))
    assert ("confirm" in schema["properties"]) == bool(tool.confirms)
    assert not {"watch", "follow", "Idempotency-Key"} & set(schema["properties"])


def test_a_flag_is_a_boolean_argument_and_other_schemas_are_the_parameters() -> None:
    assert tools.argument_schema(queries.FLAG_SCHEMA) == {"type": "boolean"}
    assert tools.argument_schema(PATH_SCHEMAS["name"]) == dict(PATH_SCHEMAS["name"])


def test_deploys_schema_is_the_deploy_requests_plus_its_query_parameters() -> None:
    schema = tools.input_schema(tools.BY_NAME["deploy_model"], SETTINGS)
    body = DeployRequest.model_json_schema(by_alias=True, mode="validation")

    assert set(schema["properties"]) == {*body["properties"], "dryRun", "wait", "timeout"}
    assert schema["required"] == body["required"]
    assert schema["properties"]["dryRun"]["type"] == "boolean"
    assert schema["properties"]["timeout"]["maximum"] == SETTINGS.wait_timeout_max_seconds


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(tools.input_schema(tools.BY_NAME[name], SETTINGS))


def test_invalid_names_the_argument_and_shortens_a_huge_value() -> None:
    validator = _validator("get_model")

    assert tools.invalid(validator, {"namespace": "a", "name": "b"}) is None
    missing = tools.invalid(validator, {"namespace": "a"})
    huge = tools.invalid(validator, {"namespace": "a", "name": "x" * 100_000})

    assert missing == "(the arguments): 'name' is a required property"
    assert huge is not None
    assert huge.startswith("name: ")
    assert len(huge) < 400


@pytest.mark.parametrize(
    ("arguments", "refused"),
    [
        ({"namespace": "ns", "name": "m"}, True),
        ({"namespace": "ns", "name": "m", "confirm": "ns/other"}, True),
        ({"namespace": "ns", "name": "m", "confirm": "m"}, True),
        ({"namespace": "ns", "name": "m", "confirm": "ns/m"}, False),
    ],
)
def test_a_destructive_tool_needs_the_models_namespace_and_name(
    arguments: dict[str, str], refused: bool
) -> None:
    refusal = tools.unconfirmed(tools.BY_NAME["delete_model"], arguments)

    assert (refusal is not None) == refused
    if refusal is not None:
        assert refusal.endswith('call delete_model again with "confirm": "ns/m"')
        assert "Nothing was changed" in refusal


def test_a_dry_run_and_a_tool_that_changes_nothing_need_no_confirmation() -> None:
    dry = {"namespace": "ns", "name": "m", "dryRun": True}

    assert tools.unconfirmed(tools.BY_NAME["rollback_model"], dry) is None
    assert tools.unconfirmed(tools.BY_NAME["get_model"], {"namespace": "ns", "name": "m"}) is None


def test_a_call_becomes_its_routes_request_recorded_as_mcp() -> None:
    caller = Caller(user="alice", groups=())
    arguments = {"namespace": "ns", "name": "m", "revision": 2, "dryRun": True, "confirm": "ns/m"}

    request = tools.tool_request(tools.BY_NAME["rollback_model"], arguments, caller)

    assert (request.method, request.path) == ("POST", "/models/ns/m/rollback")
    assert request.query == {"dryRun": ["true"]}
    assert json.loads(request.body) == {"revision": 2}
    assert request.header("content-type") == "application/json"
    assert (request.actor.by, request.actor.how) == ("alice", "mcp tool rollback_model")


def test_a_read_has_no_body_and_numbers_are_spelled_as_json() -> None:
    request = tools.tool_request(
        tools.BY_NAME["model_logs"], {"namespace": "ns", "name": "m", "tailLines": 5}, None
    )

    assert (request.path, request.query, request.body) == (
        "/models/ns/m/logs",
        {"tailLines": ["5"]},
        b"",
    )
    assert request.actor.by.startswith("anonymous")


def test_a_problem_is_a_tool_error_with_its_title_detail_and_fields() -> None:
    problem = {
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "invalid deploy request",
        "errors": [{"field": "image", "message": "an image or a storageUri"}],
    }

    answer = tools.answer_of(422, "application/problem+json", json.dumps(problem).encode())

    assert answer.is_error
    assert answer.text == (
        "Unprocessable Content (422): invalid deploy request\n- image: an image or a storageUri"
    )


def test_a_json_answer_is_structured_and_text_is_text() -> None:
    json_answer = tools.answer_of(200, "application/json", b'{"name": "m"}')
    log = tools.answer_of(200, "text/plain; charset=utf-8", b"line\n")

    assert (json_answer.is_error, json_answer.structured) == (False, {"name": "m"})
    assert (log.text, log.structured, log.is_error) == ("line\n", None, False)


def test_a_models_resource_names_it() -> None:
    uri = resources.model_uri("ns", "m")

    assert uri == "kserve://models/ns/m"
    assert resources.parse_uri(uri) == ("ns", "m")


@pytest.mark.parametrize(
    "uri",
    ["kserve://models/ns", "kserve://models/ns/m/x", "https://models/ns/m", "kserve://models//m"],
)
def test_anything_else_is_no_resource(uri: str) -> None:
    with pytest.raises(errors.NotFound, match="no resource"):
        resources.parse_uri(uri)


@pytest.mark.asyncio
async def test_a_watch_streams_model_and_deleted_events_are_changes_and_error_ends_it() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"event: model\ndata: {}\n\nid: 5\n\n: ping\n\nevent: sy"
        yield b"nced\ndata: {}\n\nevent: deleted\ndata: {}\n\n"
        yield b"event: error\ndata: {}\n\nevent: model\ndata: {}\n\n"

    seen = [change async for change in resources.changes(stream())]

    assert len(seen) == 2


def test_allowed_origins_are_origins() -> None:
    assert allowed_origins({}) == frozenset()
    assert allowed_origins({"MCP_ALLOWED_ORIGINS": "https://a.example, http://b:8080/"}) == {
        "https://a.example",
        "http://b:8080",
    }
    with pytest.raises(ConfigError, match="MCP_ALLOWED_ORIGINS"):
        allowed_origins({"MCP_ALLOWED_ORIGINS": "a.example"})
