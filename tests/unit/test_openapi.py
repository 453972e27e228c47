"""The OpenAPI 3.1 document of each function: its documented routes, schemas by JSON name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kserve_functions import app, openapi
from kserve_functions.routing import Route

HEALTH_VERBS = ("get",)
FUNCTIONS: dict[str, Callable[[], list[Route]]] = {
    "deploy": app.deploy_routes,
    "models": app.models_routes,
    "delete": app.delete_routes,
    "health": lambda: app.health_routes(HEALTH_VERBS, at_root=True),
}
PATHS: dict[str, dict[str, list[str]]] = {
    "deploy": {
        "/deploy": ["post"],
        "/models/{namespace}/{name}/rollback": ["post"],
        "/models/{namespace}/{name}/stop": ["post"],
        "/models/{namespace}/{name}/resume": ["post"],
        "/models/{namespace}/{name}/promote": ["post"],
        "/models/{namespace}/{name}/abort": ["post"],
    },
    "models": {
        "/models": ["get"],
        "/models/{namespace}/{name}": ["get"],
        "/models/{namespace}/{name}/logs": ["get"],
        "/models/{namespace}/{name}/events": ["get"],
        "/models/{namespace}/{name}/revisions": ["get"],
    },
    "delete": {"/models/{namespace}/{name}": ["delete"]},
    "health": {"/health": ["get"]},
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SCHEMA_PREFIX = "#/components/schemas/"


def document(function: str) -> dict[str, Any]:
    return openapi.build_document(FUNCTIONS[function](), title=f"t-{function}", version="9.9.9")


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def refs(node: object) -> Iterator[str]:
    """Every ``$ref`` anywhere in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def deploy_request_schema() -> dict[str, Any]:
    schema: dict[str, Any] = document("deploy")["components"]["schemas"]["DeployRequest"]
    return schema


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_document_is_openapi_3_1_with_the_given_info(function: str) -> None:
    doc = document(function)
    assert (doc["openapi"], doc["info"]) == (
        "3.1.0",
        {"title": f"t-{function}", "version": "9.9.9"},
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_the_documented_paths_and_methods_are_described(function: str) -> None:
    doc = document(function)
    described = {path: sorted(item) for path, item in doc["paths"].items()}
    assert described == PATHS[function]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_document_is_plain_json(function: str) -> None:
    doc = document(function)
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_ref_resolves_inside_components_schemas(function: str) -> None:
    doc = document(function)
    schemas = doc["components"]["schemas"]
    found = list(refs(doc))
    assert found
    for ref in found:
        assert ref.startswith(SCHEMA_PREFIX), ref
        assert ref.removeprefix(SCHEMA_PREFIX) in schemas, ref


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_operation_has_a_unique_id_a_summary_and_described_responses(function: str) -> None:
    doc = document(function)
    ids = []
    for _, method, operation in operations(doc):
        assert method in HTTP_METHODS
        assert operation["summary"]
        assert operation["responses"]
        for code, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5][0-9][0-9]", code)
            assert response["description"]
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_path_templates_declare_each_parameter_as_required(function: str) -> None:
    doc = document(function)
    for path, _, operation in operations(doc):
        in_template = re.findall(r"\{([^}]+)\}", path)
        declared = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        assert [p["name"] for p in declared] == in_template
        assert all(p["required"] is True for p in declared)


# The health function answers 503 with its own HealthResponse, not a problem.
@pytest.mark.parametrize("function", ["deploy", "models", "delete"])
def test_error_responses_are_problem_json(function: str) -> None:
    doc = document(function)
    errors = [
        response["content"]
        for _, _, operation in operations(doc)
        for code, response in operation["responses"].items()
        if code.startswith(("4", "5"))
    ]
    assert errors
    assert all(
        content == {"application/problem+json": {"schema": {"$ref": f"{SCHEMA_PREFIX}Problem"}}}
        for content in errors
    )


def test_the_deploy_operation_lists_its_status_codes() -> None:
    responses = document("deploy")["paths"]["/deploy"]["post"]["responses"]
    assert sorted(responses) == [
        "200", "201", "202", "400", "401", "403", "409", "413", "415", "422", "503",
    ]  # fmt: skip


def test_health_answers_503_with_its_own_body() -> None:
    responses = document("health")["paths"]["/health"]["get"]["responses"]
    assert responses["503"]["content"] == {
        "application/json": {"schema": {"$ref": f"{SCHEMA_PREFIX}HealthResponse"}}
    }


def test_the_deploy_request_body_references_deploy_request() -> None:
    body = document("deploy")["paths"]["/deploy"]["post"]["requestBody"]
    assert body == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"{SCHEMA_PREFIX}DeployRequest"}}},
    }


@pytest.mark.parametrize(
    "name",
    ["name", "image", "envs", "namespace", "storageUri", "modelFormat", "minReplicas",
     "maxReplicas", "scaleTarget", "scaleMetric", "canaryTrafficPercent", "serviceAccountName",
     "nodeSelector", "deploymentMode", "autoUpdate"],
)  # fmt: skip
def test_deploy_request_properties_use_json_names(name: str) -> None:
    assert name in deploy_request_schema()["properties"]


def test_deploy_request_has_no_python_names() -> None:
    properties = deploy_request_schema()["properties"]
    assert [name for name in properties if "_" in name] == []


def test_deploy_request_requires_only_the_name_and_refuses_unknown_fields() -> None:
    schema = deploy_request_schema()
    assert (schema["required"], schema["additionalProperties"]) == (["name"], False)


@pytest.mark.parametrize(
    ("name", "pattern", "max_length"),
    [
        ("name", "^[a-z]([-a-z0-9]*[a-z0-9])?$", 63),
        ("namespace", "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", 63),
    ],
)
def test_deploy_request_names_keep_their_pattern(name: str, pattern: str, max_length: int) -> None:
    schema = deploy_request_schema()["properties"][name]
    assert (schema["type"], schema["pattern"], schema["maxLength"]) == (
        "string",
        pattern,
        max_length,
    )


def test_env_var_names_are_described_by_pattern() -> None:
    envs = deploy_request_schema()["properties"]["envs"]
    assert envs["patternProperties"] == {"^[A-Za-z_][A-Za-z0-9_]*$": {"type": "string"}}


def test_the_responses_describe_the_answers_by_json_name() -> None:
    schemas = document("models")["components"]["schemas"]
    assert "createdAt" in schemas["ModelSummary"]["properties"]
    assert "continue" in schemas["ModelList"]["properties"]
    assert "observedGeneration" in schemas["ModelDetail"]["properties"]


def test_routes_without_an_operation_are_left_out() -> None:
    routes = [*app.deploy_routes(), *app.health_routes(HEALTH_VERBS, at_root=True)]
    doc = openapi.build_document(routes, title="t", version="1")
    # POST / and GET / (the functions' own URL) carry no operation.
    assert "/" not in doc["paths"]
    assert {"/deploy", "/health"} <= set(doc["paths"])


def test_streams_and_logs_are_described_as_text() -> None:
    paths = document("models")["paths"]

    listing = paths["/models"]["get"]["responses"]["200"]["content"]
    logs = paths["/models/{namespace}/{name}/logs"]["get"]["responses"]["200"]["content"]

    assert set(listing) == {"application/json", "text/event-stream"}
    assert listing["text/event-stream"]["schema"]["type"] == "string"
    assert set(logs) == {"text/plain"}
