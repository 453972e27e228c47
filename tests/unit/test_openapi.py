"""The OpenAPI 3.1 document of each function: its documented routes, schemas by JSON name,
and parameters described exactly as their parsers accept them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import pytest
from kserve_functions.api import openapi
from kserve_functions.api.routing import Route
from kserve_functions.config import Settings
from kserve_functions.core.errors import Invalid
from kserve_functions.core.resources import Right
from kserve_functions.functions import delete, deploy, health, models
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request

HEALTH_RIGHTS = (Right("get"),)
FUNCTIONS: dict[str, Callable[[], list[Route]]] = {
    "deploy": deploy.routes,
    "models": models.routes,
    "delete": delete.routes,
    "health": lambda: health.health_routes(HEALTH_RIGHTS, at_root=True),
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
        "/models/{namespace}/{name}/manifest": ["get"],
        "/access": ["get"],
    },
    "delete": {"/models/{namespace}/{name}": ["delete"]},
    "health": {"/health": ["get"]},
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SCHEMA_PREFIX = "#/components/schemas/"


def document(function: str, settings: Settings | None = None) -> dict[str, Any]:
    return openapi.build_document(
        FUNCTIONS[function](), title=f"t-{function}", version="9.9.9", settings=settings
    )


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


PROBLEM = {"application/problem+json": {"schema": {"$ref": f"{SCHEMA_PREFIX}Problem"}}}


# The health function answers 503 with its own HealthResponse too.
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
    assert all(content == PROBLEM for content in errors)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_operation_lists_the_problems_of_reading_any_request(function: str) -> None:
    # A malformed Content-Length or query string (400), a body over the limit (413),
    # the cluster out of reach (503): on every route. Never a 500.
    for path, method, operation in operations(document(function)):
        codes = set(operation["responses"])
        assert {"400", "413", "503"} <= codes, (path, method)
        assert "500" not in codes, (path, method)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_503_says_when_to_retry(function: str) -> None:
    for _, _, operation in operations(document(function)):
        headers = operation["responses"]["503"]["headers"]
        assert headers["Retry-After"]["required"] is True
        assert headers["Retry-After"]["schema"] == {"type": "string", "pattern": "^[0-9]+$"}


@pytest.mark.parametrize(
    ("function", "path", "method", "codes"),
    [
        ("deploy", "/deploy", "post",
         ["200", "201", "202", "400", "401", "403", "404", "409", "413", "415", "422", "503"]),
        ("deploy", "/models/{namespace}/{name}/rollback", "post",
         ["200", "201", "202", "400", "401", "403", "404", "409", "413", "415", "422", "503"]),
        ("deploy", "/models/{namespace}/{name}/stop", "post",
         ["200", "202", "400", "401", "403", "404", "413", "422", "503"]),
        ("models", "/models", "get",
         ["200", "400", "401", "403", "410", "413", "422", "503"]),
        ("models", "/models/{namespace}/{name}/logs", "get",
         ["200", "400", "401", "403", "404", "409", "413", "422", "503"]),
        ("delete", "/models/{namespace}/{name}", "delete",
         ["200", "202", "400", "401", "403", "404", "413", "422", "503"]),
        ("health", "/health", "get", ["200", "400", "413", "503"]),
    ],
)  # fmt: skip
def test_operations_list_their_status_codes(
    function: str, path: str, method: str, codes: list[str]
) -> None:
    assert sorted(document(function)["paths"][path][method]["responses"]) == codes


def test_health_answers_503_with_its_own_body_or_a_problem() -> None:
    responses = document("health")["paths"]["/health"]["get"]["responses"]
    assert responses["503"]["content"] == {
        "application/json": {"schema": {"$ref": f"{SCHEMA_PREFIX}HealthResponse"}},
        **PROBLEM,
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
    routes = [*deploy.routes(), *health.health_routes(HEALTH_RIGHTS, at_root=True)]
    doc = openapi.build_document(routes, title="t", version="1")
    # POST / and GET / (the functions' own URL) carry no operation.
    assert "/" not in doc["paths"]
    assert {"/deploy", "/health"} <= set(doc["paths"])


def test_streams_and_logs_are_described_as_text() -> None:
    paths = document("models")["paths"]

    listing = paths["/models"]["get"]["responses"]["200"]["content"]
    logs = paths["/models/{namespace}/{name}/logs"]["get"]["responses"]["200"]["content"]

    assert set(listing) == {"application/json", "text/event-stream"}
    # OpenAPI 3.1: a text/event-stream's schema describes each event.
    event = listing["text/event-stream"]["schema"]
    assert (event["type"], event["required"]) == ("object", ["event", "data"])
    assert event["properties"]["event"]["enum"] == ["model", "deleted", "synced", "resync", "error"]
    assert set(logs) == {"text/plain"}
    assert logs["text/plain"]["schema"]["type"] == "string"


# -- parameters: the document accepts exactly what the parsers accept ------------------

SETTINGS = Settings(wait_timeout_default_seconds=1.0, wait_timeout_max_seconds=120.0)


def parameter_schema(
    function: str, path: str, method: str, name: str, settings: Settings | None = None
) -> dict[str, Any]:
    operation = document(function, settings)["paths"][path][method]
    [found] = [p for p in operation["parameters"] if p["name"] == name]
    schema: dict[str, Any] = found["schema"]
    return schema


def document_accepts(schema: dict[str, Any], raw: str) -> bool:
    """Whether ``raw``, as sent in a query string, is valid for ``schema``.

    A number parameter's value is the number the string spells (when it is JSON).
    """
    value: object = raw
    if schema.get("type") in {"integer", "number"}:
        try:
            value = json.loads(raw)
        except ValueError:
            return False
        if isinstance(value, bool):
            return False
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


def server_accepts(parse: Callable[[Request], object], query: dict[str, list[str]]) -> bool:
    try:
        parse(Request("GET", "/", query, {}))
    except Invalid:
        return False
    return True


FLAGS = ["true", "false", "True", "TRUE", "1", "0", "yes", "no", "", " true", "true "]
LIST_PARAMETERS: list[tuple[str, Callable[[Request], object], list[str]]] = [
    ("namespace", queries.list_namespace,
     ["*", "default", "team-a", "a", "a" * 63, "a" * 64, "", "**", "A", "-a", "a-", "a_b", "a.b"]),
    ("labelSelector", queries.label_selector,
     ["", " ", "a", "!a", "a=b", "a==b", "a!=b", "a=", "a in (x, y)", "a notin ()",
      "x.io/a=b", "a>5", "a < 007", "a,b", " a = b ", "in=a", "a=in",
      "a=b,", "a>-1", "a>1234567890123456789", "A.B/c=d", "a in (b c)", "a\t=b", "a=b=c",
      "=a", "a,,b", "!a=b", "a in b", "a" * 64 + "=b", "a=" + "b" * 64]),
    ("limit", lambda r: queries.bounded(r, "limit", queries.MAX_LIST_LIMIT),
     ["1", "1000", "0", "1001", "-1", "1.5", "many", "", "²", "9" * 5000, "+5", "007"]),
    ("continue", queries.continue_token,
     ["abc", "ns.abc_-", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "", "a b", "ns.", "a=", "ns.a.b"]),
    ("watch", lambda r: queries.flag(r, "watch"), FLAGS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "parse", "raw"),
    [(name, parse, raw) for name, parse, samples in LIST_PARAMETERS for raw in samples],
)
def test_list_parameters_are_described_exactly(
    name: str, parse: Callable[[Request], object], raw: str
) -> None:
    schema = parameter_schema("models", "/models", "get", name)
    assert document_accepts(schema, raw) == server_accepts(parse, {name: [raw]})


TIMEOUTS = ["0.5", "120", "120.0", "1e1", "1E-3", ".5", "5.", "007", "0", "-1", "120.5", "121",
            "inf", "nan", "30s", "1_0", "abc"]  # fmt: skip


@pytest.mark.parametrize("raw", [*FLAGS, *TIMEOUTS])
def test_wait_and_timeout_are_described_exactly_under_the_settings(raw: str) -> None:
    for name, parse in (
        ("wait", lambda r: queries.flag(r, "wait")),
        ("timeout", lambda r: queries.wait_timeout(r, SETTINGS)),
    ):
        schema = parameter_schema("deploy", "/deploy", "post", name, SETTINGS)
        assert document_accepts(schema, raw) == server_accepts(parse, {name: [raw]}), name


def test_the_timeout_maximum_is_the_configured_one() -> None:
    schema = parameter_schema("delete", "/models/{namespace}/{name}", "delete", "timeout", SETTINGS)
    assert schema == {"type": "number", "exclusiveMinimum": 0, "maximum": 120.0, "default": 1.0}


def test_flags_are_true_or_false() -> None:
    for function, path, method, name in [
        ("deploy", "/deploy", "post", "dryRun"),
        ("models", "/models/{namespace}/{name}", "get", "watch"),
        ("models", "/models/{namespace}/{name}/logs", "get", "follow"),
        ("models", "/models/{namespace}/{name}/logs", "get", "previous"),
        ("delete", "/models/{namespace}/{name}", "delete", "wait"),
    ]:
        assert parameter_schema(function, path, method, name) == {
            "type": "string",
            "enum": ["true", "false"],
        }


@pytest.mark.parametrize(("name", "maximum"), [("tailLines", 100_000), ("sinceSeconds", 2_592_000)])
def test_log_bounds_are_described(name: str, maximum: int) -> None:
    schema = parameter_schema("models", "/models/{namespace}/{name}/logs", "get", name)
    assert schema == {"type": "integer", "minimum": 1, "maximum": maximum}


def test_path_parameters_carry_the_name_grammar() -> None:
    operation = document("delete")["paths"]["/models/{namespace}/{name}"]["delete"]
    path = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "path"}
    assert path == {
        "namespace": {
            "type": "string",
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "maxLength": 63,
        },
        "name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
    }


@pytest.mark.parametrize("key", ["abc-123", "x", "k" * 128, "a:b/c=d~!", "", "k" * 129, "a b", "é"])
def test_the_idempotency_key_is_described_exactly(key: str) -> None:
    schema = parameter_schema("deploy", "/deploy", "post", "Idempotency-Key")
    request = Request("POST", "/deploy", {}, {"idempotency-key": key})
    try:
        queries.restart_token(request)
        accepted = True
    except Invalid:
        accepted = False
    assert jsonschema_rs.validator_for(schema).is_valid(key) == accepted


# -- the deploy body: its cross-field rules, where JSON Schema can state them -----------


def body_accepted_by_document(body: dict[str, Any]) -> bool:
    doc = document("deploy")
    schema = {"$ref": f"{SCHEMA_PREFIX}DeployRequest", "components": doc["components"]}
    return bool(jsonschema_rs.validator_for(schema).is_valid(body))


def body_accepted_by_server(body: dict[str, Any]) -> bool:
    try:
        queries.parse_deploy_request(body)
    except Invalid:
        return False
    return True


IMAGE = "registry.example.com/team/m:v1"
FORMAT = {"name": "sklearn"}
DEPLOY_BODIES: list[dict[str, Any]] = [
    {"name": "m", "image": IMAGE},
    {"name": "m", "modelFormat": FORMAT},
    {"name": "m", "image": IMAGE, "modelFormat": FORMAT},
    {"name": "m"},
    {"name": "m", "image": None, "modelFormat": FORMAT},
    {"name": "m", "image": None, "modelFormat": None},
    {"name": "m", "image": "UPPER/case"},
    {"name": "m", "image": IMAGE, "canary": {"trafficPercent": 10, "image": IMAGE + "2"}},
    {"name": "m", "image": IMAGE, "storageUri": "s3://b/m",
     "canary": {"trafficPercent": 10, "image": IMAGE + "2"}},
    {"name": "m", "image": IMAGE, "deploymentMode": "Knative",
     "canary": {"trafficPercent": 10, "image": IMAGE + "2"}},
    {"name": "m", "image": IMAGE, "canary": {"trafficPercent": 10}},
    {"name": "m", "image": IMAGE, "canary": None, "deploymentMode": "Knative"},
    {"name": "m", "image": IMAGE, "canaryTrafficPercent": 10,
     "canary": {"trafficPercent": 10, "image": IMAGE + "2"}},
    {"name": "m", "image": IMAGE, "deploymentMode": "ModelMesh",
     "canary": {"trafficPercent": 10, "image": IMAGE + "2"}},
    {"name": "m", "image": IMAGE, "deploymentMode": "Knative",
     "canary": {"trafficPercent": 10, "image": IMAGE + "2", "autoPromote": {"afterSeconds": 1}}},
    {"name": "m", "image": IMAGE, "deploymentMode": "Standard",
     "canary": {"trafficPercent": 10, "image": IMAGE + "2", "autoPromote": {"afterSeconds": 1}}},
    {"name": "m", "modelFormat": FORMAT, "canary": {"trafficPercent": 10, "image": IMAGE}},
    {"name": "m", "modelFormat": FORMAT, "canary": {"trafficPercent": 10, "storageUri": "s3://b"}},
    {"name": "m", "image": IMAGE, "tolerations": [{"operator": "Exists", "value": "x"}]},
    {"name": "m", "image": IMAGE, "tolerations": [{"operator": "Exists", "value": ""}]},
    {"name": "m", "image": IMAGE, "tolerations": [{"operator": "Equal", "value": "x"}]},
    {"name": "m", "image": IMAGE, "tolerations": [{"key": "k", "operator": "Equal", "value": "x"}]},
    {"name": "m", "image": IMAGE, "tolerations": [{}]},
    {"name": "m", "image": IMAGE, "labels": {"kserve-functions.dev/x": "y"}},
    {"name": "m", "image": IMAGE, "labels": {"team.example.com/x": "y"}},
    {"name": "m", "image": IMAGE, "annotations": {"not a key": "y"}},
    {"name": "m", "image": IMAGE, "annotations": {"ok": True}},
    {"name": "m", "image": IMAGE, "envs": {"1X": "y"}},
    {"name": "m", "image": IMAGE, "minReplicas": 2**31 - 1},
    {"name": "m", "image": IMAGE, "minReplicas": 2**31},
    {"name": "m", "image": IMAGE, "tolerations": [{"operator": "Exists",
                                                   "tolerationSeconds": 2**63}]},
]  # fmt: skip


@pytest.mark.parametrize("body", DEPLOY_BODIES)
def test_the_deploy_body_is_described_exactly(body: dict[str, Any]) -> None:
    assert body_accepted_by_document(body) == body_accepted_by_server(body)


@pytest.mark.parametrize(
    "body",
    [
        # The host label "{name}-predictor-{namespace}" is longer than 63 characters.
        {"name": "m" * 50, "namespace": "n" * 10, "image": IMAGE},
        {"name": "m", "image": IMAGE, "minReplicas": 3, "maxReplicas": 1},
        # A canary with the stable predictor's own values.
        {
            "name": "m",
            "image": IMAGE,
            "storageUri": "s3://b/m",
            "canary": {"trafficPercent": 10, "image": IMAGE},
        },
    ],
)
def test_rules_json_schema_cannot_state_are_the_servers_alone(body: dict[str, Any]) -> None:
    # The fuzz test's hooks keep these (support/contract_fuzz_hooks.py); if the
    # document ever states one, this test says so and the hook can go.
    assert body_accepted_by_document(body)
    assert not body_accepted_by_server(body)
