"""The deploy function: ``POST /deploy`` (and ``/``), the model's lifecycle actions,
and deploy and registry-push events and webhooks at ``/``."""

from __future__ import annotations

from kserve_functions.api.contract import ABORT, DEPLOY, PROMOTE, RESUME, ROLLBACK, STOP
from kserve_functions.api.routing import Route
from kserve_functions.app import ModelFunction
from kserve_functions.functions.health import DEPLOY_RIGHTS, health_routes
from kserve_functions.intake import commands, dispatch
from kserve_functions.operations import canary, deploy, lifecycle, revisions


def routes() -> list[Route]:
    """``POST /deploy`` (and ``POST /``), and promote, abort, rollback, stop, resume."""
    return [
        Route("POST", "/deploy", deploy.deploy, DEPLOY),
        Route("POST", "/", deploy.deploy),
        Route("POST", "/models/{namespace}/{name}/promote", canary.promote, PROMOTE),
        Route("POST", "/models/{namespace}/{name}/abort", canary.abort, ABORT),
        Route("POST", "/models/{namespace}/{name}/rollback", revisions.rollback, ROLLBACK),
        Route("POST", "/models/{namespace}/{name}/stop", lifecycle.lifecycle(stop=True), STOP),
        Route("POST", "/models/{namespace}/{name}/resume", lifecycle.lifecycle(stop=False), RESUME),
    ]


def new() -> ModelFunction:
    """The deploy function."""
    return ModelFunction(
        "deploy",
        [*routes(), *health_routes(DEPLOY_RIGHTS, at_root=False)],
        intake=dispatch.event_intake("deploy", commands.DEPLOY_HANDLERS, registry_webhooks=True),
    )
