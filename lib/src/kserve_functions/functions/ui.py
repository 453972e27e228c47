"""The ui function "kserve-ui": the web console's files under ``/ui/``, and ``/health``.

It serves files only (the browser calls the API's routes with the user's own
token) and its ``/health`` asks the cluster nothing, so its identity needs no
Kubernetes rights.
"""

from __future__ import annotations

from kserve_functions.app import ModelFunction
from kserve_functions.console import assets


def new() -> ModelFunction:
    """The ui function: the console (``/ui/``) and ``/health``."""
    return ModelFunction("kserve-ui", [*assets.routes(), assets.health_route()], work=())
