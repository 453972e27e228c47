"""``POST /mcp``: the MCP endpoint as a route, loading the SDK on its first request.

The function object reads the request and authenticates its caller as for any
route (``Route.authenticated``: no token or a bad one is a 401 with
``WWW-Authenticate: Bearer``, which MCP's authorization asks of a protected
resource). The endpoint then refuses a browser's request from an origin not
allowed (``MCP_ALLOWED_ORIGINS``; the transport's security rules: an ``Origin``
that is present and not allowed is a 403) and hands the request to the SDK
(``server``), imported and started here, once, on the first request: a
function that serves ``/mcp`` pays for the SDK only when an agent calls.

Only POST: the server is stateless, so it has no session to delete and no
standing stream to GET (the router answers 405 with ``Allow: POST``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kserve_functions.api.routing import Route
from kserve_functions.config import ConfigError
from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.http.asgi import Request, Response
from kserve_functions.mcp.asking import ASKING, Asking

if TYPE_CHECKING:
    from kserve_functions.mcp.server import McpServer

PATH = "/mcp"
ORIGINS_SETTING = "MCP_ALLOWED_ORIGINS"


def allowed_origins(cfg: Mapping[str, str]) -> frozenset[str]:
    """The origins (``scheme://host[:port]``) whose browser pages may call, from
    ``MCP_ALLOWED_ORIGINS`` (comma-separated; none by default).

    Raises:
        ConfigError: an entry is not an origin.
    """
    raw = cfg.get(ORIGINS_SETTING, "")
    origins = frozenset(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in {"http", "https"} or not host or "/" in host:
            raise ConfigError(
                f"{ORIGINS_SETTING}: {origin[:100]!r} is not an origin "
                "(scheme://host[:port], comma-separated)"
            )
    return origins


class Endpoint:
    """The MCP endpoint of one function instance: its route, and the SDK's server
    once a request has started it."""

    def __init__(self, version: str) -> None:
        self._version = version
        self.origins: frozenset[str] = frozenset()
        self._server: McpServer | None = None
        self._starting = asyncio.Lock()

    def routes(self) -> list[Route]:
        """``POST /mcp`` (authenticated, not in the OpenAPI document: MCP describes itself)."""
        return [Route("POST", PATH, self.handle)]

    async def handle(
        self, context: Context, request: Request, _params: Mapping[str, str]
    ) -> Response:
        """Answer one MCP request as its caller.

        Raises:
            errors.Forbidden: an ``Origin`` that is not allowed.
        """
        origin = request.header("origin")
        if origin is not None and origin.rstrip("/") not in self.origins:
            raise errors.Forbidden(
                f"Origin {origin[:200]} may not call {PATH}; allow it in {ORIGINS_SETTING}"
            )
        server = await self._started(context)
        ASKING.set(Asking(context=context, caller=request.caller))
        return await server.answer(request)

    async def _started(self, context: Context) -> McpServer:
        async with self._starting:
            if self._server is None:
                # Here, not at import: the SDK is the bulk of this function's imports.
                from kserve_functions.mcp.server import McpServer  # noqa: PLC0415

                server = McpServer(self._version, max_body_bytes=context.settings.max_body_bytes)
                await server.start()
                self._server = server
            return self._server

    async def aclose(self) -> None:
        """Stop the SDK's server, if a request started it."""
        server, self._server = self._server, None
        if server is not None:
            await server.aclose()
