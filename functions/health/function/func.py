"""The health function: ``GET /health`` (and ``GET /``) checks the API can do its work.

Thin by design: the routes and operations live in the shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import health


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return health.new()
