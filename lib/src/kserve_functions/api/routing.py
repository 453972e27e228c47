"""Method + path → operation, for the handful of routes a function serves.

Each route is a path template (``/models/{namespace}/{name}``) and a method;
a template segment matches one non-empty path segment of the
(already decoded) ``scope["path"]``. An empty segment (``/models/ns//stop``)
matches no template segment, so an empty path parameter is an unknown path
rather than another route's. A path that exists
with another method answers 405 with ``Allow``; an unknown path 404. Routes
also carry what the OpenAPI document says about them (``Operation``), and
whether their caller is authenticated before their handler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from kserve_functions.context import Handler
from kserve_functions.core import errors

if TYPE_CHECKING:
    from kserve_functions.config import Settings

# A JSON Schema, or how to make one from the function's settings (a bound that is
# configured, such as timeout's maximum).
SchemaSource = Mapping[str, Any] | Callable[["Settings"], Mapping[str, Any]]


def _string() -> Mapping[str, Any]:
    return {"type": "string"}


@dataclass(frozen=True)
class QueryParameter:
    """A query (or request header) parameter, for the OpenAPI document.

    ``schema`` is exactly what the server accepts: the parser of the parameter
    refuses (422, or 400 for a header) every value it does not describe.
    """

    name: str
    description: str
    schema: SchemaSource = field(default_factory=_string)
    location: Literal["query", "header"] = "query"


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: where a value of a 2xx answer can be used next.

    ``parameters`` maps the target operation's parameter names to runtime
    expressions (``$response.body#/name``, ``$request.query.namespace``).
    """

    operation_id: str
    parameters: Mapping[str, str]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about a route."""

    operation_id: str
    summary: str
    responses: Mapping[int, type[BaseModel]]
    request_body: type[BaseModel] | None = None
    # False: the body may be left out (an empty body means the defaults).
    request_body_required: bool = True
    query: Sequence[QueryParameter] = ()
    problems: Sequence[int] = ()
    # Answers that are not a JSON model: status -> media type -> what the text is
    # (a watch stream's text/event-stream, a log's text/plain).
    text: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # The schema of such an answer by media type (default: a string); for
    # text/event-stream, the schema of each event.
    text_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Headers of answers: status -> header name -> what it says (all strings).
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # Links from every 2xx JSON answer: name -> link.
    links: Mapping[str, Link] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One method on one path template, and the coroutine that answers it.

    ``authenticated`` (the default): the function object authenticates the
    caller before calling ``handler`` (``Authorizer.authenticate``: 401 without
    a token the cluster accepts, after the route was found, before anything of
    the request is read) and hands it over as ``Request.caller``. False for a
    route open to anyone, such as ``/health``.
    """

    method: str
    path: str
    handler: Handler
    operation: Operation | None = None
    authenticated: bool = True
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _split(self.path))

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """The path parameters if ``segments`` fit this template, else None."""
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for template, actual in zip(self.segments, segments, strict=True):
            if template.startswith("{") and template.endswith("}"):
                if not actual:
                    return None
                params[template[1:-1]] = actual
            elif template != actual:
                return None
        return params


def _split(path: str) -> tuple[str, ...]:
    # ASGI servers hand over ``scope["path"]`` already percent-decoded; decoding
    # again would turn "%2569ris" into "iris". One leading and one trailing "/"
    # delimit the path; every other "/" separates two segments, empty or not, so
    # "/models/ns//stop" (an empty model name) is not "/models/ns/stop".
    inner = path.removeprefix("/").removesuffix("/")
    return tuple(inner.split("/")) if inner else ()


class Router:
    """Finds the route for a request."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` on ``path`` and its path parameters.

        Raises:
            errors.NotFound: no route has this path.
            errors.MethodNotAllowed: routes have this path, with other methods.
        """
        segments = _split(path)
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method:
                return route, params
            allowed.append(route.method)
        if allowed:
            raise errors.MethodNotAllowed(
                f"{method} is not allowed on {path[:200]}; use {', '.join(allowed)}",
                allowed=allowed,
            )
        raise errors.NotFound(f"no route {path[:200]}")
