"""The health function: ``GET /health`` (and ``/``); every function's ``/health`` route."""

from __future__ import annotations

from collections.abc import Sequence

from kserve_functions import operations
from kserve_functions.app import ModelFunction
from kserve_functions.contract import HEALTH
from kserve_functions.routing import Route

# What each function's own identity must be allowed to do (checked by /health);
# "watch" is what wait=true follows a model with.
DEPLOY_VERBS = ("create", "patch", "get", "watch")
MODELS_VERBS = ("list", "get", "watch")
DELETE_VERBS = ("delete", "get", "watch")
# notify reads a model and records the status event it sent on it (a JSON patch).
NOTIFY_VERBS = ("get", "patch")


def health_routes(verbs: Sequence[str], *, at_root: bool) -> list[Route]:
    """``GET /health`` checking ``verbs`` (and ``GET /`` when ``at_root``)."""
    check = operations.health_check(verbs)
    routes = [Route("GET", "/health", check, HEALTH)]
    if at_root:
        routes.append(Route("GET", "/", check))
    return routes


def new() -> ModelFunction:
    """The health function: ``GET /health`` (and ``/``): the cluster and the CRD.

    It does nothing with models itself, so its least-privilege identity has no
    rights on them and it checks none; each split function's own ``/health``
    checks the rights that function needs.
    """
    return ModelFunction("health", health_routes((), at_root=True))
