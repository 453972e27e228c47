"""Waiting on a model: its next change or a re-read, whichever comes first (shared by every
``wait=true``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from kserve_functions.context import Context
from kserve_functions.core import errors, fields

log = logging.getLogger("kserve_functions")

# A wait follows the model by watch; it re-reads the model and its Deployment at
# least this often (a roll-out can finish without a change to the model).
RECHECK_SECONDS = 2.0


async def next_model(context: Context, isvc: Mapping[str, Any], *, seconds: int) -> dict[str, Any]:
    """The model after its next change (by watch, at most ``seconds``), else as re-read.

    The re-read covers a quiet watch, one whose resourceVersion expired, and a
    deletion (the wait then sees NotFound).

    Raises:
        errors.NotFound: the model is gone.
    """
    namespace, name = fields.namespaced_name(isvc)
    change = await context.kube.next_change(
        namespace,
        name,
        resource_version=fields.resource_version(isvc),
        timeout_seconds=seconds,
    )
    if change is None or change.type == "DELETED":
        return await context.kube.get(namespace, name)
    return change.object


def recheck_seconds(deadline: float) -> int:
    """How long the next watch of a wait may last: at most ``RECHECK_SECONDS``, at least 1."""
    return max(1, math.ceil(min(deadline - time.monotonic(), RECHECK_SECONDS)))


async def rollout_moved(
    context: Context, namespace: str, name: str, resource_version: str, seconds: int
) -> bool:
    """Wait up to ``seconds`` for a change of the model's predictor Deployment.

    False when this function may not watch Deployments (an installation with
    older RBAC): the caller then follows the model instead.
    """
    try:
        await context.kube.next_predictor_change(
            namespace, name, resource_version=resource_version, timeout_seconds=seconds
        )
    except errors.Forbidden as e:
        log.warning("cannot watch the Deployment of %s: %s", name, e.detail)
        return False
    return True
