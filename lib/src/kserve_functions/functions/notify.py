"""The notify function: status-change events from the ApiServerSource's events."""

from __future__ import annotations

from kserve_functions.app import ModelFunction
from kserve_functions.functions.health import NOTIFY_RIGHTS, health_routes
from kserve_functions.intake import dispatch, notify
from kserve_functions.telemetry.metrics import Work


def new() -> ModelFunction:
    """The notify function (``notify``).

    Only events at ``/`` (and ``GET /health``): it has no route of the seed's
    API, and the all-in-one function does not include it (it needs an
    ApiServerSource and a sink, which only a Knative Eventing install provides).
    """
    return ModelFunction(
        "notify",
        health_routes(NOTIFY_RIGHTS, at_root=False),
        intake=dispatch.event_intake("notify", notify.HANDLERS),
        sends_events=True,
        work=(Work.REVIEWS, Work.EVENTS),
    )
