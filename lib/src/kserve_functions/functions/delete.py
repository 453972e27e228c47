"""The delete function: ``DELETE /models/{namespace}/{name}``, and delete events at ``/``."""

from __future__ import annotations

from kserve_functions.api.contract import DELETE
from kserve_functions.api.routing import Route
from kserve_functions.app import ModelFunction
from kserve_functions.functions.health import DELETE_RIGHTS, health_routes
from kserve_functions.intake import commands, dispatch
from kserve_functions.operations import delete
from kserve_functions.telemetry.metrics import Work


def routes() -> list[Route]:
    """``DELETE /models/{namespace}/{name}``.

    No shorter alias such as ``/{namespace}/{name}``: ``DELETE /models/x`` (a
    mistyped path) would then delete model ``x`` of a namespace named "models".
    """
    return [Route("DELETE", "/models/{namespace}/{name}", delete.delete_model, DELETE)]


def new() -> ModelFunction:
    """The delete function."""
    return ModelFunction(
        "delete",
        [*routes(), *health_routes(DELETE_RIGHTS, at_root=False)],
        intake=dispatch.event_intake("delete", commands.DELETE_HANDLERS),
        work=(Work.WAITS, Work.REVIEWS, Work.RECORDS, Work.EVENTS),
    )
