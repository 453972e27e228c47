"""The ui function "kserve-ui": the web console's files under ``/ui/``, and ``/health``.

It serves files only and calls the API's routes from the browser with the
user's own token, so its identity needs no Kubernetes rights.
"""

from __future__ import annotations

from kserve_functions.app import ModelFunction
from kserve_functions.console import assets
from kserve_functions.functions.health import health_routes


def new() -> ModelFunction:
    """The ui function: the console (``/ui/``), ``/health`` checking no rights."""
    return ModelFunction("kserve-ui", [*assets.routes(), *health_routes((), at_root=False)])
