"""Who asks, for the MCP request being served: set by ``endpoint`` before the SDK runs.

The SDK calls the tool and resource handlers with its own context only; the
function's context and the caller the function object authenticated reach them
through this context variable (the SDK's per-request tasks are started from the
request's task, so they see the value it set).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from kserve_functions.context import Context
from kserve_functions.kube import Caller


@dataclass(frozen=True)
class Asking:
    """The function's context and the authenticated caller (None with ``AUTH_MODE=none``)."""

    context: Context
    caller: Caller | None


ASKING: ContextVar[Asking] = ContextVar("kserve_functions_mcp_asking")
