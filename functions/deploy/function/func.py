"""The deploy function: ``POST /deploy`` (and ``POST /``) creates or updates a model.

At ``/`` it also takes deploy and registry-push CloudEvents and Docker
Distribution webhooks. Thin by design: the routes and operations live in the
shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import deploy


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return deploy.new()
