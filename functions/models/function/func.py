"""The models function: ``GET /models`` (and ``GET /``) and ``GET /models/{namespace}/{name}``.

Thin by design: the routes and operations live in the shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import models


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return models.new()
