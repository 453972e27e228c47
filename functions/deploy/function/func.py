"""The deploy function: POST /deploy (and POST / at its own URL): create or update a model.

Thin by design: the routes and operations live in the shared library.
"""

from kserve_functions.app import ModelFunction, deploy_function


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return deploy_function()
