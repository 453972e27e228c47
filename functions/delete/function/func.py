"""The delete function: ``DELETE /models/{namespace}/{name}``; delete CloudEvents at ``/``.

Thin by design: the routes and operations live in the shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import delete


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return delete.new()
