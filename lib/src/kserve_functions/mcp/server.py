"""The MCP SDK's server over the tools and resources, and its Streamable HTTP transport.

Imported on the first ``/mcp`` request only (``endpoint``): the SDK (Starlette,
its JSON-RPC machinery, OpenTelemetry's API) costs a cold start nothing else
pays for.

Stateless: the SDK's session manager with ``stateless=True`` serves every POST
on its own, so any replica answers any request and Knative may scale freely.
A subscription is a request too: on protocol 2026-07-28, ``subscriptions/listen``
is a POST whose answer is the stream of ``notifications/resources/updated``;
each subscribed model's watch (``resources.watch``, as the caller) feeds it
until the client closes it. The handshake-era ``resources/subscribe`` needs a
session (a standing GET stream), which a stateless server has not: it is not
offered, and a client of that era reads the model again (or calls ``get_model``)
instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError

from kserve_functions.core import errors
from kserve_functions.http.asgi import Message, Request, Response
from kserve_functions.mcp import resources, tools
from kserve_functions.mcp.asking import ASKING

log = logging.getLogger("kserve_functions")

INSTRUCTIONS = (
    "Manage KServe models (InferenceServices) with the caller's own Kubernetes RBAC. "
    "Deploy with dryRun=true first. Destructive tools (rollback_model, stop_model, "
    'abort_canary, delete_model) need "confirm": "<namespace>/<name>". To wait for a '
    "model to become Ready, listen to its resource kserve://models/{namespace}/{name} "
    "and read it on each update."
)
# Seconds a finished answer's task may take to wind down before it is cancelled.
WIND_DOWN_SECONDS = 5.0
# How often a listen whose watches ended is closed again until its handler has ended.
CLOSE_RETRY_SECONDS = 0.1
# JSON-RPC error codes of a refused resource: MCP's "resource not found", else
# invalid params (a 4xx), else internal (the cluster unreachable).
RESOURCE_NOT_FOUND = -32002


def _resource_error(error: errors.ApiError) -> MCPError:
    """An API problem with a resource as the JSON-RPC error of the request."""
    code = (
        RESOURCE_NOT_FOUND
        if error.status == 404  # noqa: PLR2004 - HTTP's not found
        else types.INVALID_PARAMS
        if error.status < 500  # noqa: PLR2004 - HTTP's client errors
        else types.INTERNAL_ERROR
    )
    return MCPError(code, f"{error.title}: {error.detail}")


async def _list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    settings = ASKING.get().context.settings
    return types.ListToolsResult(
        tools=[
            types.Tool(
                name=tool.name,
                title=tool.title,
                description=tool.description,
                input_schema=tools.schema_for(tool, settings),
                annotations=types.ToolAnnotations(
                    title=tool.title,
                    read_only_hint=tool.read_only,
                    destructive_hint=tool.destructive,
                    idempotent_hint=tool.idempotent,
                    # The cluster is this server's whole world.
                    open_world_hint=False,
                ),
            )
            for tool in tools.TOOLS
        ]
    )


async def _call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    tool = tools.BY_NAME.get(params.name)
    if tool is None:
        # A protocol error: the client asked for a tool this server does not list.
        raise MCPError(
            types.INVALID_PARAMS,
            f"unknown tool {params.name[:100]!r}; tools/list names the tools",
        )
    asking = ASKING.get()
    answer = await tools.call(asking.context, tool, params.arguments or {}, asking.caller)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=answer.text)],
        structured_content=answer.structured,
        is_error=answer.is_error,
    )


async def _list_resources(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    asking = ASKING.get()
    try:
        listed = await resources.listed(asking.context, asking.caller)
    except errors.ApiError as e:
        raise _resource_error(e) from e
    return types.ListResourcesResult(
        resources=[
            types.Resource(uri=uri, name=name, description=state, mime_type=resources.MIME_TYPE)
            for uri, name, state in listed
        ]
    )


async def _list_templates(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(
        resource_templates=[
            types.ResourceTemplate(
                name="model",
                uri_template=resources.URI_TEMPLATE,
                description="A model in detail (as get_model answers); listen to it to "
                "hear of every change",
                mime_type=resources.MIME_TYPE,
            )
        ]
    )


async def _read_resource(
    ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    asking = ASKING.get()
    try:
        text = await resources.read(asking.context, asking.caller, str(params.uri))
    except errors.ApiError as e:
        raise _resource_error(e) from e
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(uri=params.uri, mime_type=resources.MIME_TYPE, text=text)
        ]
    )


async def _listen(
    ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
) -> types.SubscriptionsListenResult:
    """``subscriptions/listen``: the SDK's listen handler over a bus of its own, fed by
    the watch of each subscribed model (opened as the caller first: a refusal is
    the request's error, before the acknowledgment)."""
    asking = ASKING.get()
    uris = list(params.notifications.resource_subscriptions or ())
    streams: list[tuple[str, AsyncIterator[bytes]]] = []
    try:
        for uri in uris:
            streams.append((uri, await resources.watch(asking.context, asking.caller, str(uri))))
    except errors.ApiError as e:
        for _, stream in streams:
            await _close(stream)
        raise _resource_error(e) from e
    bus = InMemorySubscriptionBus()
    handler = ListenHandler(bus)
    watched = anyio.Event()
    feeding = len(streams)

    async def feed(uri: str, stream: AsyncIterator[bytes]) -> None:
        nonlocal feeding
        try:
            async for _ in resources.changes(stream):
                await bus.publish(ResourceUpdated(uri=uri))
        finally:
            feeding -= 1
            if feeding == 0:
                watched.set()

    async def close_when_watched() -> None:
        # Every watch ended (STREAM_MAX_SECONDS, or an error): end the listen
        # gracefully, so the client listens again (and reads again). Repeated:
        # the handler may not have registered its stream yet.
        await watched.wait()
        while True:
            handler.close()
            await anyio.sleep(CLOSE_RETRY_SECONDS)

    async with anyio.create_task_group() as group:
        for uri, stream in streams:
            group.start_soon(feed, uri, stream)
        if streams:
            group.start_soon(close_when_watched)
        try:
            ended = await handler(ctx, params)
        finally:
            group.cancel_scope.cancel()
    return ended


async def _close(stream: AsyncIterator[bytes]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


def build_server(version: str) -> Server[Any]:
    """The SDK's low-level server with the tools, the resources and listen."""
    server: Server[Any] = Server(
        "kserve-functions",
        version=version,
        title="KServe Model Functions",
        instructions=INSTRUCTIONS,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_resources=_list_resources,
        on_list_resource_templates=_list_templates,
        on_read_resource=_read_resource,
        on_subscriptions_listen=_listen,
    )
    # The function traces its requests itself (telemetry.spans); no span per message.
    server.middleware = []
    return server


class McpServer:
    """The SDK's stateless Streamable HTTP transport, run in the function's loop.

    ``answer`` hands one request, already read and authenticated by the
    function object, to the SDK and turns what it sends into a ``Response``
    (streamed when the SDK answers with Server-Sent Events).
    """

    def __init__(self, version: str, *, max_body_bytes: int) -> None:
        self._manager = StreamableHTTPSessionManager(
            build_server(version),
            stateless=True,
            # SSE where the answer streams (progress, a listen stream); the SDK
            # answers plain JSON otherwise.
            json_response=False,
            max_request_body_size=max_body_bytes + 1,
        )
        self._stop = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Enter the manager's task group in a task of its own (in a context of its
        own: no request's log fields), returning once it runs."""
        started = asyncio.Event()

        async def run() -> None:
            async with self._manager.run():
                started.set()
                await self._stop.wait()

        self._running = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait([waiting, self._running], return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            await self._running  # raises what stopped it

    async def aclose(self) -> None:
        """Stop the manager: open listen streams end."""
        self._stop.set()
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running

    async def answer(self, request: Request) -> Response:
        """The SDK's answer to ``request``: streamed when the SDK streams (SSE), whole
        otherwise.

        Raises:
            errors.Internal: the SDK ended without answering.
        """
        sent: asyncio.Queue[Message] = asyncio.Queue()
        gone = asyncio.Event()
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await sent.put(message)

        task = asyncio.ensure_future(self._manager.handle_request(_scope(request), receive, send))
        start = await _first(sent, task)
        if start is None:
            # A bug of ours or the SDK's (logged by _first): a problem, not a broken answer.
            raise errors.Internal("the MCP transport ended without an answer")
        status = int(start["status"])
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])
        }
        content_type = headers.pop("content-type", "application/json")
        headers.pop("content-length", None)
        body = _body(sent, task, gone)
        if not content_type.startswith("text/event-stream"):
            whole = b"".join([chunk async for chunk in body])
            return Response(status=status, body=whole, content_type=content_type, headers=headers)
        return Response(status=status, body=body, content_type=content_type, headers=headers)


def _scope(request: Request) -> dict[str, Any]:
    """An ASGI scope for the SDK: the request without its credentials (the caller is
    known; the SDK need not see, or log, the token)."""
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
        if name != "authorization"
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": None,
        "server": ("kserve-mcp", 80),
    }


async def _first(sent: asyncio.Queue[Message], task: asyncio.Future[None]) -> Message | None:
    """The response's start message; None if the SDK ended without one."""
    while True:
        getting: asyncio.Future[Message] = asyncio.ensure_future(sent.get())
        racing: list[asyncio.Future[Any]] = [getting, task]
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        if not getting.done():
            getting.cancel()
            if sent.empty():
                if task.exception() is not None:
                    log.error("the MCP transport failed", exc_info=task.exception())
                return None
            continue
        message = getting.result()
        if message["type"] == "http.response.start":
            return message


async def _body(
    sent: asyncio.Queue[Message], task: asyncio.Future[None], gone: asyncio.Event
) -> AsyncIterator[bytes]:
    """The response body's chunks as the SDK sends them; once it ends (or the client
    went), the SDK's task is told and given ``WIND_DOWN_SECONDS`` to finish."""
    try:
        while True:
            message = await sent.get()
            if message["type"] != "http.response.body":
                continue
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
    finally:
        gone.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), WIND_DOWN_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception:
            log.exception("the MCP transport failed")
