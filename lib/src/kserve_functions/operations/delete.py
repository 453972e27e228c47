"""``DELETE /models/{namespace}/{name}``: delete a model and, when asked, wait until it is gone
(DESIGN §3).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.models import (
    DeleteResponse,
)
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit
from kserve_functions.operations import changes, waiting
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")


async def delete_model(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``DELETE /models/{namespace}/{name}``; 404 when absent; ``wait=true`` waits until gone."""
    namespace, name = queries.path_model(params)
    await context.auth.authorize_for(request.caller, permissions.DELETE, namespace)
    timeout = queries.wait_seconds(request, context.settings)
    await delete(context, namespace, name, request.actor)
    code = 200
    if timeout is not None:
        gone = await _wait_gone(context, namespace, name, timeout)
        metrics.WAITS.labels("gone" if gone else "timeout").inc()
        code = 200 if gone else 202
    return json_response(code, DeleteResponse(name=name, namespace=namespace))


async def delete(context: Context, namespace: str, name: str, actor: audit.Actor) -> None:
    """Delete the model, recording ``actor`` in a Kubernetes Event (``audit``).

    Shared by ``DELETE /models/{ns}/{name}`` and the delete event.

    Raises:
        errors.NotFound: the model does not exist.
    """
    answer = await context.kube.delete(namespace, name)
    log.info("delete %s/%s", namespace, name)
    # The apiserver answers with the object while KServe's finalizer holds it,
    # else with a Status: the Event then names the model without its uid.
    regarding = answer if answer.get("kind") == INFERENCE_SERVICE.kind else _named(namespace, name)
    now = datetime.datetime.now(datetime.UTC)
    await changes.record_event(
        context, regarding, reason=audit.DELETED, note="model deleted", actor=actor, at=now
    )


def _named(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


async def _wait_gone(context: Context, namespace: str, name: str, timeout: float) -> bool:
    """Follow the model (by watch) until it is gone; whether it went within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            isvc = await context.kube.get(namespace, name)
        except errors.NotFound:
            return True
        while True:
            if deadline <= time.monotonic():
                return False
            change = await context.kube.next_change(
                namespace,
                name,
                resource_version=fields.resource_version(isvc),
                timeout_seconds=waiting.recheck_seconds(deadline),
            )
            if change is None:
                break  # re-read: the watch timed out or its resourceVersion expired
            if change.type == "DELETED":
                return True
            isvc = change.object
