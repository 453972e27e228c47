"""Stop and resume a model (issue 11): ``POST /models/{ns}/{name}/stop`` and ``…/resume``.

Set or remove KServe's ``serving.kserve.io/stop: "true"``. KServe then deletes
the predictor's workloads and sets ``Stopped``, or recreates them. A JSON merge
patch by the field manager ``kserve-functions-lifecycle``
(``kube.requests.set_model_stopped``): a missing model is 404 (an apply would
create a half model), and since the deploy's field manager never owns the key,
a later ``POST /deploy`` leaves a stopped model stopped — unless its request's
``annotations`` set ``serving.kserve.io/stop`` itself, which then says what the
caller wants. Each is a change made through the API (``changes``: the audit
annotations, a Kubernetes Event, a revision). The caller needs ``patch`` on the
model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.context import Context, Handler
from kserve_functions.core.models import ModelState
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import history, status
from kserve_functions.operations import changes, summaries, waiting
from kserve_functions.telemetry import metrics

STOPPED = "Stopped"
"""The Kubernetes Event reason of a stop (``audit``)."""
RESUMED = "Resumed"
"""The Kubernetes Event reason of a resume."""


def lifecycle(*, stop: bool) -> Handler:
    """``POST /models/{namespace}/{name}/stop`` (``stop``) or ``…/resume``.

    Answers the model's summary: 200, or with ``wait=true`` once it is stopped
    (KServe removed its workloads and says ``Stopped``) or ready again, 202 when
    the timeout passed first. A stop of a stopped model (or a resume of a
    running one) changes nothing but the audit annotations, and is recorded.
    """
    reason = STOPPED if stop else RESUMED
    note = "model stopped" if stop else "model resumed"
    action: history.Action = "stop" if stop else "resume"
    wanted: ModelState = "stopped" if stop else "ready"

    async def handle(context: Context, request: Request, params: Mapping[str, str]) -> Response:
        namespace, name = queries.path_model(params)
        timeout = queries.wait_seconds(request, context.settings)
        await context.auth.authorize_for(request.caller, permissions.CHANGE, namespace)
        actor = request.actor

        async def write(annotations: dict[str, str]) -> changes.Written:
            isvc = await context.kube.set_stopped(
                namespace, name, stopped=stop, annotations=annotations
            )
            return changes.Written(isvc, reason, note)

        made = await changes.make(
            context, namespace, name, write, actor=actor, change=history.Change(action=action)
        )
        isvc = made.model
        if timeout is not None:
            isvc = await _wait_for(context, isvc, wanted, timeout)
        summary = await summaries.read_summary(context, isvc)
        waited_in_vain = timeout is not None and summary.state != wanted
        return json_response(202 if waited_in_vain else 200, summary)

    return handle


async def _wait_for(
    context: Context, isvc: dict[str, Any], wanted: ModelState, timeout: float
) -> dict[str, Any]:
    """Follow the model (by watch) until its state is ``wanted`` or ``timeout`` passed.

    Re-reads at least every ``waiting.RECHECK_SECONDS``: a Deployment's
    roll-out can finish without a change to the model.

    Raises:
        errors.NotFound: the model went away meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        rollout = await summaries.predictor_rollout(context, isvc)
        if status.model_state(isvc, rollout=rollout).state == wanted:
            metrics.WAITS.labels(wanted).inc()
            return isvc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            metrics.WAITS.labels("timeout").inc()
            return isvc
        isvc = await waiting.next_model(context, isvc, seconds=waiting.recheck_seconds(deadline))
