"""The MCP resources: each model's detail at ``kserve://models/{namespace}/{name}``.

Reading one is ``GET /models/{namespace}/{name}`` as the caller; following one
is that route's ``watch=true`` stream as the caller (the same authorization,
the same stream slots), each of whose ``model`` and ``deleted`` events says the
resource changed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.http.asgi import Request
from kserve_functions.kube import Caller
from kserve_functions.mcp.tools import read_body
from kserve_functions.operations import listing

SCHEME = "kserve://models/"
URI_TEMPLATE = f"{SCHEME}{{namespace}}/{{name}}"
MIME_TYPE = "application/json"
# The watch stream's events that change the resource; "error" ends the stream.
CHANGES = frozenset({b"model", b"deleted"})


def model_uri(namespace: str, name: str) -> str:
    """The resource of model ``namespace/name``."""
    return f"{SCHEME}{namespace}/{name}"


def parse_uri(uri: str) -> tuple[str, str]:
    """The namespace and name of a model's resource (the route checks their grammar).

    Raises:
        errors.NotFound: not a model's resource.
    """
    namespace, _, name = uri.removeprefix(SCHEME).partition("/")
    if not uri.startswith(SCHEME) or not namespace or not name or "/" in name:
        raise errors.NotFound(f"no resource {uri[:200]}; models are {URI_TEMPLATE}")
    return namespace, name


def _get(caller: Caller | None, namespace: str, name: str, *, watch: bool) -> Request:
    return Request(
        method="GET",
        path=f"/models/{namespace}/{name}",
        query={"watch": ["true"]} if watch else {},
        headers={},
        caller=caller,
    )


async def read(context: Context, caller: Caller | None, uri: str) -> str:
    """The model's detail as JSON (``GET /models/{namespace}/{name}``).

    Raises:
        errors.ApiError: as the route (not found, forbidden, unreachable).
    """
    namespace, name = parse_uri(uri)
    response = await listing.get_model(
        context, _get(caller, namespace, name, watch=False), {"namespace": namespace, "name": name}
    )
    return (await read_body(response)).decode()


async def listed(context: Context, caller: Caller | None) -> list[tuple[str, str, str]]:
    """Each model the caller may list (``GET /models?namespace=*``): its resource, its
    ``namespace/name`` and its state.

    Raises:
        errors.ApiError: as the route.
    """
    request = Request(
        method="GET", path="/models", query={"namespace": ["*"]}, headers={}, caller=caller
    )
    answer = json.loads(await read_body(await listing.list_models(context, request, {})))
    return [
        (
            model_uri(model["namespace"], model["name"]),
            f"{model['namespace']}/{model['name']}",
            str(model.get("state", "")),
        )
        for model in answer.get("models", [])
    ]


async def watch(context: Context, caller: Caller | None, uri: str) -> AsyncIterator[bytes]:
    """The model's watch stream (Server-Sent Events), opened as the caller.

    Raises:
        errors.ApiError: as the route, before the stream opens (not found,
            forbidden, no stream slot left).
    """
    namespace, name = parse_uri(uri)
    response = await listing.get_model(
        context, _get(caller, namespace, name, watch=True), {"namespace": namespace, "name": name}
    )
    if isinstance(response.body, bytes):
        raise errors.Unavailable("the model's watch did not open a stream")
    return response.body


async def changes(stream: AsyncIterator[bytes]) -> AsyncIterator[None]:
    """One item each time the watch ``stream`` reports a change of its model, until it
    ends (an ``error`` event ends it too). Closes ``stream``."""
    pending = b""
    try:
        async for chunk in stream:
            pending += chunk
            *frames, pending = pending.split(b"\n\n")
            for frame in frames:
                event = next(
                    (line[6:].strip() for line in frame.split(b"\n") if line.startswith(b"event:")),
                    None,
                )
                if event == b"error":
                    return
                if event in CHANGES:
                    yield None
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
