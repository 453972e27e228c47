"""The health function: ``GET /health`` (and ``/``); every function's ``/health`` route."""

from __future__ import annotations

from collections.abc import Sequence

from kserve_functions.api.contract import HEALTH
from kserve_functions.api.routing import Route
from kserve_functions.app import ModelFunction
from kserve_functions.core.resources import (
    CONTROLLER_REVISION,
    DEPLOYMENT,
    EVENT,
    NAMESPACE,
    POD,
    Right,
)
from kserve_functions.operations import health

# What each function's own identity must be allowed to do, as k8s/rbac.yaml grants
# it (checked by /health; tests/unit/test_health_rights.py holds the two together).
# "watch" on models is what wait=true follows a model with, on Deployments its roll-out.
DEPLOY_RIGHTS = (
    Right("create"),
    Right("patch"),
    Right("get"),
    Right("list"),
    Right("watch"),
    Right("get", DEPLOYMENT),
    Right("watch", DEPLOYMENT),
    Right("create", CONTROLLER_REVISION),
    Right("list", CONTROLLER_REVISION),
    Right("delete", CONTROLLER_REVISION),
    Right("deletecollection", CONTROLLER_REVISION),
    Right("create", EVENT),
)
MODELS_RIGHTS = (
    Right("list"),
    Right("get"),
    Right("watch"),
    Right("list", NAMESPACE),
    Right("get", DEPLOYMENT),
    Right("list", CONTROLLER_REVISION),
    Right("list", POD),
    Right("get", POD, "log"),
    Right("list", EVENT),
)
DELETE_RIGHTS = (Right("delete"), Right("get"), Right("watch"), Right("create", EVENT))
# notify reads a model and records the status event it sent on it (a JSON patch),
# reads its Deployment and pods for the state, and writes the Events of autoPromote.
NOTIFY_RIGHTS = (
    Right("get"),
    Right("patch"),
    Right("get", DEPLOYMENT),
    Right("list", POD),
    Right("create", EVENT),
)


def health_routes(required: Sequence[Right], *, at_root: bool) -> list[Route]:
    """``GET /health`` checking the rights ``required`` (and ``GET /`` when ``at_root``).

    Open in every auth mode (``HEALTH``): it reports the function's own
    reachability and rights, nothing about models.
    """
    check = health.health_check(required)
    routes = [Route("GET", "/health", check, HEALTH, authenticated=False)]
    if at_root:
        routes.append(Route("GET", "/", check, authenticated=False))
    return routes


def new() -> ModelFunction:
    """The health function: ``GET /health`` (and ``/``): the cluster and the CRD.

    It does nothing with models itself, so its least-privilege identity has no
    rights on them and it checks none; each split function's own ``/health``
    checks the rights that function needs.
    """
    return ModelFunction("health", health_routes((), at_root=True), work=())
