"""The delete function: ``DELETE /models/{namespace}/{name}``, and delete events at ``/``."""

from __future__ import annotations

from kserve_functions import eventing, intake, operations
from kserve_functions.app import ModelFunction
from kserve_functions.contract import DELETE
from kserve_functions.functions.health import DELETE_RIGHTS, health_routes
from kserve_functions.routing import Route


def routes() -> list[Route]:
    """``DELETE /models/{namespace}/{name}``.

    No shorter alias such as ``/{namespace}/{name}``: ``DELETE /models/x`` (a
    mistyped path) would then delete model ``x`` of a namespace named "models".
    """
    return [Route("DELETE", "/models/{namespace}/{name}", operations.delete_model, DELETE)]


def new() -> ModelFunction:
    """The delete function."""
    return ModelFunction(
        "delete",
        [*routes(), *health_routes(DELETE_RIGHTS, at_root=False)],
        intake=intake.event_intake("delete", eventing.DELETE_HANDLERS),
    )
