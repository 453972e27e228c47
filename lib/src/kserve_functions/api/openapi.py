"""The OpenAPI 3.1 document of a function, generated from its routes' models.

Each function serves the description of exactly the routes it answers at
``/openapi.json``; the schemas come from the pydantic models (by alias, so
the JSON names match the wire), the paths from the routes' ``Operation``.
Parameters carry the JSON Schema their parsers enforce (``queries``), some of
whose bounds are settings (``timeout``'s maximum): the document is built for
the function's settings, on first use (``describer``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from kserve_functions.api.routing import Operation, QueryParameter, Route
from kserve_functions.config import Settings
from kserve_functions.context import Handler
from kserve_functions.core.models import Problem
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, raw_json_response

if TYPE_CHECKING:
    from kserve_functions.context import Context

_REF = "#/components/schemas/{model}"
_SUCCESS = range(200, 300)
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Path parameters by name: what ``queries.path_model`` accepts (anything else
# names no model: 404).
PATH_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "namespace": queries.MODEL_NAMESPACE_SCHEMA,
    "name": queries.MODEL_NAME_SCHEMA,
}
# Headers every problem of a status carries (``errors``): 405's Allow, 503's Retry-After.
PROBLEM_HEADERS: Mapping[int, Mapping[str, Any]] = {
    405: {
        "Allow": {
            "description": "the methods this path answers",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "seconds after which the request may succeed",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def build_document(
    routes: Sequence[Route], *, title: str, version: str, settings: Settings | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (routes without an ``Operation`` are left out).

    ``settings`` bound the parameters that are configured (the defaults when None).
    """
    settings = settings if settings is not None else Settings()
    described = [(route, route.operation) for route in routes if route.operation is not None]
    requests = {op.request_body for _, op in described if op.request_body is not None}
    answers: set[type[BaseModel]] = {Problem}
    for _, operation in described:
        answers.update(operation.responses.values())
    # A request model is described as the input it accepts, an answer as the output it is.
    schema_inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "validation") for model in sorted(requests, key=_name)
    ] + [(model, "serialization") for model in sorted(answers - requests, key=_name)]
    _, schemas = models_json_schema(schema_inputs, by_alias=True, ref_template=_REF)
    _keys_by_pattern(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for route, operation in described:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, operation, settings
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }


def describer(routes: Sequence[Route], *, title: str, version: str) -> Handler:
    """The handler of ``GET /openapi.json`` for ``routes``.

    The document is built on the first request, for the function's settings,
    and kept (the settings do not change while the function runs).
    """
    built: dict[int, dict[str, Any]] = {}

    async def describe(context: Context, request: Request, params: Mapping[str, str]) -> Response:
        key = id(context.settings)
        if key not in built:
            built.clear()
            built[key] = build_document(
                routes, title=title, version=version, settings=context.settings
            )
        return raw_json_response(200, built[key])

    return describe


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of request model ``model`` alone, as the document describes it
    (its nested models under ``$defs``): an MCP tool's input (``mcp.tools``) reads the
    same schema as the route's body."""
    schema = model.model_json_schema(
        by_alias=True, mode="validation", ref_template="#/$defs/{model}"
    )
    _keys_by_pattern(schema)
    return schema


def _keys_by_pattern(node: object) -> None:
    """Make every map's key pattern bind its keys, in place.

    pydantic describes ``dict[Key, Value]`` with a constrained ``Key`` as
    ``patternProperties: {pattern: Value}``, which in JSON Schema lets a key that
    does not match the pattern through with any value; the models refuse it. The
    pattern is therefore also each key's (``propertyNames``).
    """
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            [pattern] = patterns
            node.setdefault("propertyNames", {})["pattern"] = pattern
        for value in node.values():
            _keys_by_pattern(value)
    elif isinstance(node, list):
        for value in node:
            _keys_by_pattern(value)


def _name(model: type[BaseModel]) -> str:
    return model.__name__


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _parameter(parameter: QueryParameter, settings: Settings) -> dict[str, Any]:
    schema = parameter.schema(settings) if callable(parameter.schema) else parameter.schema
    return {
        "name": parameter.name,
        "in": parameter.location,
        "required": False,
        "description": parameter.description,
        "schema": dict(schema),
    }


def _operation(route: Route, operation: Operation, settings: Settings) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": segment[1:-1],
            "in": "path",
            "required": True,
            "schema": dict(PATH_SCHEMAS.get(segment[1:-1], {"type": "string", "minLength": 1})),
        }
        for segment in route.segments
        if segment.startswith("{")
    ]
    parameters += [_parameter(parameter, settings) for parameter in operation.query]
    responses: dict[str, Any] = {
        str(code): {
            "description": model.__doc__.splitlines()[0] if model.__doc__ else model.__name__,
            "content": {"application/json": {"schema": _ref(model)}},
        }
        for code, model in operation.responses.items()
    }
    for code, media in operation.text.items():
        answer = responses.setdefault(
            str(code), {"description": "; ".join(media.values()), "content": {}}
        )
        for media_type, description in media.items():
            schema = operation.text_schemas.get(media_type, {"type": "string"})
            answer["content"][media_type] = {"schema": {**schema, "description": description}}
    for code in operation.problems:
        # A status may also have an answer of its own (health's 503): both are described.
        answer = responses.setdefault(
            str(code), {"description": "a problem (RFC 9457)", "content": {}}
        )
        answer["content"][PROBLEM_MEDIA_TYPE] = {"schema": _ref(Problem)}
        if code in PROBLEM_HEADERS:
            answer.setdefault("headers", {}).update(PROBLEM_HEADERS[code])
    for code, headers in operation.headers.items():
        answer = responses[str(code)]
        answer.setdefault("headers", {}).update(
            {
                name: {"description": description, "schema": {"type": "string"}}
                for name, description in headers.items()
            }
        )
    if operation.links:
        links = {
            name: {
                "operationId": link.operation_id,
                "parameters": dict(link.parameters),
                **({"description": link.description} if link.description else {}),
            }
            for name, link in operation.links.items()
        }
        for code in operation.responses:
            if code in _SUCCESS:
                responses[str(code)]["links"] = links
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": responses,
    }
    if parameters:
        document["parameters"] = parameters
    if operation.request_body is not None:
        document["requestBody"] = {
            "required": operation.request_body_required,
            "content": {"application/json": {"schema": _ref(operation.request_body)}},
        }
    return document
