"""The all-in-one function "kserve-api": every route in one process."""

from __future__ import annotations

from kserve_functions.app import ModelFunction
from kserve_functions.console import assets
from kserve_functions.functions import delete, deploy, models
from kserve_functions.functions.health import (
    DELETE_RIGHTS,
    DEPLOY_RIGHTS,
    MODELS_RIGHTS,
    health_routes,
)
from kserve_functions.intake import commands, dispatch


def new() -> ModelFunction:
    """The root function: the split functions' canonical routes and events, not notify's,
    and the console (``/ui/``), as the ui function serves it."""
    rights = tuple(dict.fromkeys((*DEPLOY_RIGHTS, *MODELS_RIGHTS, *DELETE_RIGHTS)))
    routes = [
        route
        for route in (*deploy.routes(), *models.routes(), *delete.routes())
        if route.operation is not None
    ]
    return ModelFunction(
        "kserve-api",
        [*routes, *health_routes(rights, at_root=False), *assets.routes()],
        intake=dispatch.event_intake(
            "kserve-api",
            {**commands.DEPLOY_HANDLERS, **commands.DELETE_HANDLERS},
            registry_webhooks=True,
        ),
    )
