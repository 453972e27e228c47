"""The OpenAPI 3.1 document of a function, generated from its routes' models.

Each function serves the description of exactly the routes it answers at
``/openapi.json``; the schemas come from the pydantic models (by alias, so
the JSON names match the wire), the paths from the routes' ``Operation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from kserve_functions.models import Problem
from kserve_functions.routing import Operation, Route

_REF = "#/components/schemas/{model}"


def build_document(routes: Sequence[Route], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (routes without an ``Operation`` are left out)."""
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
    paths: dict[str, dict[str, Any]] = {}
    for route, operation in described:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }


def _name(model: type[BaseModel]) -> str:
    return model.__name__


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(route: Route, operation: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": segment[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for segment in route.segments
        if segment.startswith("{")
    ]
    parameters += [
        {
            "name": query.name,
            "in": "query",
            "required": False,
            "description": query.description,
            "schema": {"type": query.schema_type},
        }
        for query in operation.query
    ]
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
            answer["content"][media_type] = {
                "schema": {"type": "string", "description": description}
            }
    for code in operation.problems:
        responses[str(code)] = {
            "description": "a problem (RFC 9457)",
            "content": {"application/problem+json": {"schema": _ref(Problem)}},
        }
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": responses,
    }
    if parameters:
        document["parameters"] = parameters
    if operation.request_body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.request_body)}},
        }
    return document
