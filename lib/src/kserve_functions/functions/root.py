"""The all-in-one function "kserve-api": every route in one process."""

from __future__ import annotations

from kserve_functions.app import VERSION
from kserve_functions.console import assets
from kserve_functions.functions import delete, deploy, models
from kserve_functions.functions.health import (
    DELETE_RIGHTS,
    DEPLOY_RIGHTS,
    MODELS_RIGHTS,
    health_routes,
)
from kserve_functions.functions.mcp import McpFunction
from kserve_functions.intake import commands, dispatch
from kserve_functions.mcp.endpoint import Endpoint


def new() -> McpFunction:
    """The root function: the split functions' canonical routes and events, not notify's,
    the console (``/ui/``), as the ui function serves it, and ``POST /mcp`` as the mcp
    function serves it (the SDK loaded on its first request)."""
    rights = tuple(dict.fromkeys((*DEPLOY_RIGHTS, *MODELS_RIGHTS, *DELETE_RIGHTS)))
    routes = [
        route
        for route in (*deploy.routes(), *models.routes(), *delete.routes())
        if route.operation is not None
    ]
    return McpFunction(
        "kserve-api",
        [*routes, *health_routes(rights, at_root=False), *assets.routes()],
        Endpoint(VERSION),
        intake=dispatch.event_intake(
            "kserve-api",
            {**commands.DEPLOY_HANDLERS, **commands.DELETE_HANDLERS},
            registry_webhooks=True,
        ),
    )
