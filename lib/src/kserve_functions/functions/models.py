"""The models function: ``GET /models``, ``GET /models/{namespace}/{name}`` and its views."""

from __future__ import annotations

from kserve_functions.api.contract import ACCESS, EVENTS, GET, LIST, LOGS, MANIFEST, REVISIONS
from kserve_functions.api.routing import Route
from kserve_functions.app import ModelFunction
from kserve_functions.functions.health import MODELS_RIGHTS, health_routes
from kserve_functions.operations import access, diagnostics, listing, revisions
from kserve_functions.telemetry.metrics import Work


def routes() -> list[Route]:
    """``GET /models``, ``GET /models/{namespace}/{name}`` and its ``/logs``,
    ``/events``, ``/revisions`` and ``/manifest`` (and the list at ``/``), and
    ``GET /access``."""
    return [
        Route("GET", "/models", listing.list_models, LIST),
        Route("GET", "/models/{namespace}/{name}", listing.get_model, GET),
        Route("GET", "/models/{namespace}/{name}/logs", diagnostics.get_logs, LOGS),
        Route("GET", "/models/{namespace}/{name}/events", diagnostics.get_events, EVENTS),
        Route("GET", "/models/{namespace}/{name}/revisions", revisions.list_revisions, REVISIONS),
        Route("GET", "/models/{namespace}/{name}/manifest", listing.get_manifest, MANIFEST),
        Route("GET", "/access", access.get_access, ACCESS),
        Route("GET", "/", listing.list_models),
    ]


def new() -> ModelFunction:
    """The models function: reads only, no events."""
    return ModelFunction(
        "models",
        [*routes(), *health_routes(MODELS_RIGHTS, at_root=False)],
        work=(Work.STREAMS, Work.REVIEWS),
    )
