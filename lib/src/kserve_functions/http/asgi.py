"""Just enough ASGI for a JSON API: read a request, send a response.

func-python hands every request to the function's ``handle(scope, receive,
send)``; a web framework would add an import cost to every cold start for
features we do not use. This module reads the body with a size limit (refusing
early on ``Content-Length``), parses JSON only for ``application/json``, and
sends JSON, problem+json or a streamed JSON body (lists, see ``operations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic import BaseModel

from kserve_functions.core import errors
from kserve_functions.objects import audit

if TYPE_CHECKING:
    from kserve_functions.kube import Caller

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """An HTTP request with its whole (size-limited) body, and who sent it.

    ``caller`` is set by the function object (``app``) before it calls the
    handler of a route that authenticates (``Route.authenticated``): the
    identity the cluster vouched for. None on an open route, and with
    ``AUTH_MODE=none``.
    """

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    caller: Caller | None = None

    @cached_property
    def actor(self) -> audit.Actor:
        """Who asks, and how, for the change this request makes (``audit.http_actor``):
        the caller's user (anonymous without one), the method and the path."""
        return audit.http_actor(self.caller.user if self.caller else None, self.method, self.path)

    def query_value(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str | None:
        """Header ``name`` (case-insensitive), or None."""
        return self.headers.get(name.lower())

    def json_body(self) -> Any:  # noqa: ANN401 - any JSON value; the caller validates it
        """The body parsed as JSON.

        Raises:
            errors.UnsupportedMediaType: the content type is not ``application/json``.
            errors.BadRequest: the body is not valid UTF-8 JSON.
        """
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != JSON and not (
            content_type.startswith("application/") and content_type.endswith("+json")
        ):
            shown = content_type or "none"
            raise errors.UnsupportedMediaType(
                f"the body must be {JSON}, got Content-Type: {shown[:100]}"
            )
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as e:
            raise errors.BadRequest(f"the body is not valid JSON: {_json_error(e)}") from e


def _json_error(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return "it is not UTF-8 text"


async def read_request(scope: Scope, receive: Receive, *, max_body_bytes: int) -> Request:
    """Read the request of ``scope`` and its body, at most ``max_body_bytes`` of it.

    Raises:
        errors.PayloadTooLarge: the declared or actual body exceeds the limit.
        errors.BadRequest: the query string or Content-Length is malformed.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise errors.BadRequest("the Content-Length header is not a number")
        if int(declared) > max_body_bytes:
            raise errors.PayloadTooLarge(
                f"the body is {declared} bytes, more than the limit of {max_body_bytes}"
            )
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body_bytes:
            raise errors.PayloadTooLarge(f"the body is larger than the limit of {max_body_bytes}")
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    raw_query: bytes = scope.get("query_string", b"")
    try:
        # Most requests have no query string: nothing to parse (parse_qs costs ~1 µs).
        query = (
            parse_qs(raw_query.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            if raw_query
            else {}
        )
    except UnicodeDecodeError as e:
        raise errors.BadRequest("the query string is not UTF-8") from e
    return Request(
        method=str(scope.get("method", "GET")).upper(),
        path=str(scope.get("path", "/")),
        query=query,
        headers=headers,
        body=b"".join(chunks),
    )


@dataclass
class Response:
    """A response: status, headers, and a body given whole or as an async stream."""

    status: int
    body: bytes | AsyncIterator[bytes] = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def dump(model: BaseModel) -> bytes:
    """The JSON of a response model: camelCase names, absent fields left out."""
    return model.model_dump_json(by_alias=True, exclude_none=True).encode()


def json_response(
    status: int, model: BaseModel, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response carrying ``model``."""
    return Response(status=status, body=dump(model), headers=dict(headers or {}))


def raw_json_response(status: int, document: Mapping[str, Any]) -> Response:
    """A JSON response carrying a plain document (the OpenAPI description)."""
    return Response(status=status, body=json.dumps(document).encode())


def problem_response(error: errors.ApiError) -> Response:
    """The problem+json response for ``error``, with its headers (Allow, Retry-After)."""
    return Response(
        status=error.status,
        body=dump(error.problem()),
        content_type=errors.PROBLEM_CONTENT_TYPE,
        headers=dict(error.headers),
    )


async def send_response(
    send: Send,
    response: Response,
    receive: Receive | None = None,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send ``response``, with ``headers`` (ASGI's lower-case names and bytes) after
    its own; a streamed body goes out chunk by chunk.

    With ``receive``, a streamed body stops as soon as the client disconnects
    (``http.disconnect``): the server may not fail a ``send`` to a gone client,
    and a watch stream would otherwise run, and hold its apiserver watch, until
    its next write. The body's generator is closed either way, so its
    ``finally`` blocks release what it holds.
    """
    sent = [(b"content-type", response.content_type.encode())]
    if response.headers:
        sent += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
        ]
    sent += headers
    if isinstance(response.body, bytes):
        sent.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": sent})
        await send({"type": "http.response.body", "body": response.body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": sent})
    chunks = response.body
    disconnect = asyncio.ensure_future(_disconnected(receive)) if receive else None
    try:
        while True:
            chunk = await _next_unless(chunks, disconnect)
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if disconnect is None or not disconnect.done():
            await send({"type": "http.response.body", "body": b""})
    finally:
        if disconnect is not None:
            disconnect.cancel()
        # Generators, and bodies that hold something (a stream slot), close.
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request body was read before)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _next_unless(
    chunks: AsyncIterator[bytes], disconnect: asyncio.Future[None] | None
) -> bytes | None:
    """The next chunk; None at the end of the body or once ``disconnect`` is done."""
    if disconnect is None:
        return await anext(chunks, None)
    following = asyncio.ensure_future(anext(chunks, None))
    racing: list[asyncio.Future[Any]] = [following, disconnect]
    await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
    if following.done():
        return following.result()
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await following
    return None
