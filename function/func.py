"""The root function "kserve-api": every route of the API in one process.

For ``make dev`` and for single-service installs (the seed's shape); the split
functions under ``functions/`` serve the same routes one concern each.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import root


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return root.new()
