"""The MCP tools: one per API operation, each the route it maps to.

A tool is a route of the API (method, path template, handler, contract) offered
to an agent. Its input schema is built from the route's contract
(``api.contract``): the path parameters, the query parameters (a flag such as
``dryRun`` as a JSON boolean; a stream, ``watch`` or ``follow``, is not offered:
a tool answers once, models are followed through resources) and the request
body's properties (``openapi.request_schema``, the schema the OpenAPI document
gives the body) — one source of truth. A call becomes the route's request
(``ToolRequest``: the caller's identity, recorded as "mcp tool <name>") and goes
to the route's own handler, which authorizes it through the permissions table;
its answer, or its problem, becomes the tool's result.

Destructive tools (``Tool.confirms``) refuse to act without ``confirm`` equal
to the model's ``<namespace>/<name>``, unless it is a dry run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema

from kserve_functions.api import contract
from kserve_functions.api.openapi import PATH_SCHEMAS, request_schema
from kserve_functions.api.routing import Operation, QueryParameter
from kserve_functions.config import Settings
from kserve_functions.context import Context, Handler
from kserve_functions.core import errors
from kserve_functions.http import queries
from kserve_functions.http.asgi import JSON, Request, Response
from kserve_functions.kube import Caller
from kserve_functions.objects import audit
from kserve_functions.operations import (
    access,
    canary,
    delete,
    deploy,
    diagnostics,
    lifecycle,
    listing,
    revisions,
)

log = logging.getLogger("kserve_functions")

CONFIRM = "confirm"
"""The argument a destructive tool needs: the model's ``<namespace>/<name>``."""
DRY_RUN = "dryRun"
# Query parameters that turn an answer into a stream: not offered as tool arguments.
STREAMS = frozenset({"watch", "follow"})
# The largest answer a tool returns (a log's tail, a long list): beyond, a tool error.
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Tool:
    """One API route offered as an MCP tool.

    ``confirms``: what the tool does to the model, in words, ``{model}`` standing
    for it (``"deletes {model}"``), for a tool that needs the ``confirm``
    argument; empty otherwise.
    The hints are MCP's tool annotations, as true of the operation.
    """

    name: str
    title: str
    method: str
    path: str
    handler: Handler
    operation: Operation
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    confirms: str = ""
    note: str = ""
    path_parameters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        segments = self.path.strip("/").split("/")
        named = tuple(s[1:-1] for s in segments if s.startswith("{") and s.endswith("}"))
        object.__setattr__(self, "path_parameters", named)

    @property
    def description(self) -> str:
        """The operation's summary, with the tool's own note."""
        text = self.operation.summary
        if self.note:
            text += f". {self.note}"
        if self.confirms:
            text += (
                f". It {self.confirms.format(model='the model')}: pass "
                '"confirm": "<namespace>/<name>" of the model (not needed with dryRun)'
            )
        return text

    @property
    def query_parameters(self) -> tuple[QueryParameter, ...]:
        """The route's query parameters a tool takes: no header, no stream."""
        return tuple(
            parameter
            for parameter in self.operation.query
            if parameter.location == "query" and parameter.name not in STREAMS
        )


_MODEL = "/models/{namespace}/{name}"


def _read(name: str, title: str, path: str, handler: Handler, operation: Operation, *,
          note: str = "") -> Tool:  # fmt: skip
    """A tool that reads: read-only, and idempotent."""
    return Tool(name, title, "GET", path, handler, operation, read_only=True, idempotent=True,
                note=note)  # fmt: skip


TOOLS: tuple[Tool, ...] = (
    _read("list_models", "List models", "/models", listing.list_models, contract.LIST),
    _read("get_model", "A model in detail", _MODEL, listing.get_model, contract.GET,
          note="state, reason in words, conditions, canary and traffic; to wait for a change, "
          "listen to its resource kserve://models/{namespace}/{name}"),
    _read("model_logs", "A model's log", f"{_MODEL}/logs", diagnostics.get_logs, contract.LOGS,
          note="previous=true: the crashed container's log"),
    _read("model_events", "A model's Kubernetes Events", f"{_MODEL}/events",
          diagnostics.get_events, contract.EVENTS),
    _read("model_revisions", "A model's revisions", f"{_MODEL}/revisions",
          revisions.list_revisions, contract.REVISIONS),
    _read("get_access", "What the caller may do", "/access", access.get_access, contract.ACCESS),
    # An update replaces what serves (and restarts it): destructive; a repeat is a new
    # revision: not idempotent.
    Tool("deploy_model", "Deploy a model", "POST", "/deploy", deploy.deploy, contract.DEPLOY,
         destructive=True, note="dryRun=true first: the cluster validates, nothing changes"),
    Tool("rollback_model", "Roll a model back", "POST", f"{_MODEL}/rollback",
         revisions.rollback, contract.ROLLBACK, destructive=True,
         confirms="replaces the spec of {model} with an earlier revision's"),
    Tool("stop_model", "Stop a model", "POST", f"{_MODEL}/stop", lifecycle.lifecycle(stop=True),
         contract.STOP, destructive=True, idempotent=True,
         confirms="stops serving {model} (KServe removes its pods)"),
    Tool("resume_model", "Resume a model", "POST", f"{_MODEL}/resume",
         lifecycle.lifecycle(stop=False), contract.RESUME, idempotent=True),
    Tool("promote_canary", "Promote a canary", "POST", f"{_MODEL}/promote", canary.promote,
         contract.PROMOTE, destructive=True, idempotent=True),
    Tool("abort_canary", "Abort a canary", "POST", f"{_MODEL}/abort", canary.abort,
         contract.ABORT, destructive=True, idempotent=True,
         confirms="removes the canary of {model}"),
    Tool("delete_model", "Delete a model", "DELETE", _MODEL, delete.delete_model,
         contract.DELETE, destructive=True, idempotent=True, confirms="deletes {model}"),
)  # fmt: skip
BY_NAME: Mapping[str, Tool] = {tool.name: tool for tool in TOOLS}


def argument_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter's schema as a tool argument's: a flag (``"true"``/``"false"``,
    ``queries.FLAG_SCHEMA``) is a JSON boolean; any other is the parameter's own."""
    if dict(schema) == queries.FLAG_SCHEMA:
        return {"type": "boolean"}
    return dict(schema)


def input_schema(tool: Tool, settings: Settings) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``tool``'s arguments under ``settings``: the path
    parameters (required), the query parameters, the body's properties, and
    ``confirm`` for a destructive tool; nothing else is accepted.

    Raises:
        ValueError: a body property has a parameter's name (the table is wrong).
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in tool.path_parameters:
        properties[name] = {**PATH_SCHEMAS[name], "description": f"the model's {name}"}
        required.append(name)
    for parameter in tool.query_parameters:
        source = parameter.schema
        schema = source(settings) if callable(source) else source
        properties[parameter.name] = {
            **argument_schema(schema),
            "description": parameter.description,
        }
    described: dict[str, Any] = {"type": "object", "additionalProperties": False}
    body = tool.operation.request_body
    if body is not None:
        schema = request_schema(body)
        for name, member in schema.get("properties", {}).items():
            if name in properties:
                raise ValueError(f"{tool.name}: body property {name} is also a parameter")
            properties[name] = member
        required += schema.get("required", [])
        if "$defs" in schema:
            described["$defs"] = schema["$defs"]
    if tool.confirms:
        properties[CONFIRM] = {
            "type": "string",
            "description": 'the model\'s "<namespace>/<name>", to confirm the change',
        }
    described["properties"] = properties
    if required:
        described["required"] = required
    return described


# Each tool's schema and its validator, built once for the function's settings.
_BUILT: dict[tuple[int, str], tuple[dict[str, Any], jsonschema.Draft202012Validator]] = {}


def _built(
    tool: Tool, settings: Settings
) -> tuple[dict[str, Any], jsonschema.Draft202012Validator]:
    key = (id(settings), tool.name)
    if key not in _BUILT:
        schema = input_schema(tool, settings)
        _BUILT[key] = (schema, jsonschema.Draft202012Validator(schema))
    return _BUILT[key]


def schema_for(tool: Tool, settings: Settings) -> dict[str, Any]:
    """``input_schema(tool, settings)``, built once."""
    return _built(tool, settings)[0]


def invalid(validator: jsonschema.Draft202012Validator, arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not fit the validator's schema (the most relevant error,
    where), or None."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(the arguments)"
    return f"{where}: {_shortened(error.message)}"


def _shortened(text: str, limit: int = 300) -> str:
    # The message quotes the offending value, which may be huge.
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def unconfirmed(tool: Tool, arguments: Mapping[str, Any]) -> str | None:
    """Why ``tool`` will not act on ``arguments`` yet (a destructive tool without the
    right ``confirm``, not a dry run), saying exactly what to pass; None to go ahead."""
    if not tool.confirms or arguments.get(DRY_RUN) is True:
        return None
    target = f"{arguments.get('namespace')}/{arguments.get('name')}"
    given = arguments.get(CONFIRM)
    if given == target:
        return None
    said = "no confirm" if given is None else f"confirm {json.dumps(given)[:200]}"
    return (
        f"not confirmed ({said}): {tool.name} {tool.confirms.format(model=target)}. "
        "Nothing was changed. "
        f'To go ahead, call {tool.name} again with "{CONFIRM}": "{target}"'
    )


@dataclass(frozen=True)
class ToolRequest(Request):
    """A tool call as its route's request: the change it makes is recorded as the
    caller's, made through MCP with the tool (``audit.mcp_actor``)."""

    tool: str = ""

    @cached_property
    def actor(self) -> audit.Actor:
        """The caller (anonymous without one), and "mcp tool <name>"."""
        return audit.mcp_actor(self.caller.user if self.caller else None, self.tool)


def query_value(value: Any) -> str:  # noqa: ANN401 - a JSON value the schema admitted
    """An argument as its query parameter spells it: booleans ``true``/``false``, numbers
    as JSON writes them."""
    return value if isinstance(value, str) else json.dumps(value)


def tool_request(tool: Tool, arguments: Mapping[str, Any], caller: Caller | None) -> ToolRequest:
    """The request of ``tool``'s route for ``arguments`` (valid for its input schema)."""
    path = tool.path.format(**{name: arguments[name] for name in tool.path_parameters})
    query = {
        parameter.name: [query_value(arguments[parameter.name])]
        for parameter in tool.query_parameters
        if parameter.name in arguments
    }
    taken = {*tool.path_parameters, *query, CONFIRM}
    body = b""
    headers: dict[str, str] = {}
    if tool.operation.request_body is not None:
        body = json.dumps({k: v for k, v in arguments.items() if k not in taken}).encode()
        headers["content-type"] = JSON
    return ToolRequest(
        method=tool.method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        caller=caller,
        tool=tool.name,
    )


@dataclass(frozen=True)
class ToolAnswer:
    """A tool's result, before it is the SDK's: its text, its JSON object (when the
    route answered one), and whether it is an error."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False


def problem_answer(problem: Mapping[str, Any]) -> ToolAnswer:
    """A problem (RFC 9457) as a tool error: its title, status and detail, then each
    field that was refused."""
    text = f"{problem.get('title')} ({problem.get('status')}): {problem.get('detail')}"
    for issue in problem.get("errors") or ():
        text += f"\n- {issue.get('field')}: {issue.get('message')}"
    return ToolAnswer(text=text, structured=dict(problem), is_error=True)


def answer_of(status: int, content_type: str, body: bytes) -> ToolAnswer:
    """The route's answer as the tool's result: a problem is an error; a JSON object
    is also the structured result; text (a log) is the text."""
    text = body.decode("utf-8", errors="replace")
    if content_type == errors.PROBLEM_CONTENT_TYPE or status >= 400:  # noqa: PLR2004 - HTTP's error range
        try:
            return problem_answer(json.loads(body))
        except (ValueError, AttributeError):
            return ToolAnswer(text=f"HTTP {status}: {text[:1000]}", is_error=True)
    if content_type == JSON:
        parsed = json.loads(body)
        return ToolAnswer(text=text, structured=parsed if isinstance(parsed, dict) else None)
    return ToolAnswer(text=text)


async def read_body(response: Response) -> bytes:
    """The whole body of ``response`` (a streamed list is read to its end).

    Raises:
        errors.PayloadTooLarge: more than ``MAX_ANSWER_BYTES``.
    """
    if isinstance(response.body, bytes):
        return response.body
    chunks: AsyncIterator[bytes] = response.body
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise errors.PayloadTooLarge(
                    f"the answer is larger than {MAX_ANSWER_BYTES} bytes; ask for less "
                    "(limit, tailLines)"
                )
            parts.append(chunk)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    return b"".join(parts)


async def call(
    context: Context, tool: Tool, arguments: Mapping[str, Any], caller: Caller | None
) -> ToolAnswer:
    """Call ``tool`` with ``arguments`` as ``caller``: validated against its input
    schema, confirmed when destructive, then its route's handler. Never raises: a
    refusal, a problem or a failure is a tool error (no traceback in it)."""
    refusal = invalid(_built(tool, context.settings)[1], arguments)
    if refusal is not None:
        return ToolAnswer(text=f"invalid arguments for {tool.name}: {refusal}", is_error=True)
    refusal = unconfirmed(tool, arguments)
    if refusal is not None:
        return ToolAnswer(text=refusal, is_error=True)
    request = tool_request(tool, arguments, caller)
    params = {name: str(arguments[name]) for name in tool.path_parameters}
    try:
        response = await tool.handler(context, request, params)
        body = await read_body(response)
    except errors.ApiError as e:
        return problem_answer(e.problem().model_dump(by_alias=True, exclude_none=True))
    except Exception:
        log.exception("the MCP tool %s failed", tool.name)
        return ToolAnswer(text=f"{tool.name} failed inside the service", is_error=True)
    return answer_of(response.status, response.content_type, body)
