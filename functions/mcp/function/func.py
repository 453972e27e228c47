"""The MCP function: the API's operations as Model Context Protocol tools at ``POST /mcp``.

Thin by design: the tools, resources and transport live in the shared library
(``kserve_functions.mcp``).
"""

from kserve_functions.app import ModelFunction
from kserve_functions.functions import mcp


def new() -> ModelFunction:
    """The function instance func-python serves."""
    return mcp.new()
