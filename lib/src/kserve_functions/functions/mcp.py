"""The MCP function "kserve-mcp": the API's operations as MCP tools at ``POST /mcp``.

Every tool calls its route's operation with the caller's own identity, so the
function's identity needs what the routes' functions need together (deploy,
models and delete), as the root function's does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kserve_functions.api.routing import Route
from kserve_functions.app import VERSION, EventIntake, ModelFunction, log
from kserve_functions.config import ConfigError
from kserve_functions.functions.health import (
    DELETE_RIGHTS,
    DEPLOY_RIGHTS,
    MODELS_RIGHTS,
    health_routes,
)
from kserve_functions.mcp.endpoint import Endpoint, allowed_origins
from kserve_functions.telemetry.metrics import Work

MCP_RIGHTS = tuple(dict.fromkeys((*DEPLOY_RIGHTS, *MODELS_RIGHTS, *DELETE_RIGHTS)))


class McpFunction(ModelFunction):
    """A function that also serves ``POST /mcp``: reads ``MCP_ALLOWED_ORIGINS`` when it
    starts, and stops the MCP server (if a request started it) when it stops."""

    def __init__(
        self,
        name: str,
        routes: Iterable[Route],
        endpoint: Endpoint,
        *,
        intake: EventIntake | None = None,
        work: Iterable[Work] = tuple(Work),
    ) -> None:
        super().__init__(name, [*routes, *endpoint.routes()], intake=intake, work=work)
        self.endpoint = endpoint

    def start(self, cfg: Mapping[str, str]) -> None:
        """As ``ModelFunction.start``; not ready with a malformed ``MCP_ALLOWED_ORIGINS``."""
        super().start(cfg)
        try:
            self.endpoint.origins = allowed_origins(cfg)
        except ConfigError as e:
            self._not_ready = str(e)
            log.error("%s cannot start: %s", self.name, e)

    async def aclose(self) -> None:
        """Stop the MCP server, then as ``ModelFunction.aclose``, even if cancelled.

        func-python's ``stop`` leaves this to a task the loop's end cancels while
        the SDK's server is still stopping: the Kubernetes session is closed anyway.
        """
        try:
            await self.endpoint.aclose()
        finally:
            await super().aclose()


def new() -> McpFunction:
    """The MCP function: ``POST /mcp`` and ``/health``."""
    return McpFunction(
        "kserve-mcp",
        health_routes(MCP_RIGHTS, at_root=False),
        Endpoint(VERSION),
        # The tools deploy (and wait), stream a model to a listener, and change models.
        work=(Work.DEPLOYS, Work.WAITS, Work.STREAMS, Work.REVIEWS, Work.RECORDS),
    )
