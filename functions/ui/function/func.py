"""The ui function: the web console's files under ``/ui/`` (same origin as the API).

Thin by design: the files and their routes live in the shared library.
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import ui


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return ui.new()
