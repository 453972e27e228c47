"""A model's history, rollback, stop and resume (issue 11).

- ``GET /models/{ns}/{name}/revisions``: the model's revisions (``history``),
  newest first. The caller needs ``get`` on the model and ``list`` on
  ``controllerrevisions`` (``kubectl get controllerrevisions`` would need it).
- ``POST /models/{ns}/{name}/rollback`` (``{"revision": N}``, default the
  previous one): re-applies that revision's request exactly as a deploy does
  (``deploy.apply_model``: one server-side apply, a new restart token, the
  audit Event), recorded as a new revision; history only grows. ``dryRun`` and
  ``wait`` as for a deploy; the caller needs what a deploy needs.
- ``POST /models/{ns}/{name}/stop`` and ``…/resume``: set or remove KServe's
  ``serving.kserve.io/stop: "true"``. KServe then deletes the predictor's
  workloads and sets ``Stopped``, or recreates them. A JSON merge patch by the
  field manager ``kserve-functions-lifecycle`` (``kube.requests.set_model_stopped``):
  a missing model is 404 (an apply would create a half model), and since the
  deploy's field manager never owns the key, a later ``POST /deploy`` leaves a
  stopped model stopped — unless its request's ``annotations`` set
  ``serving.kserve.io/stop`` itself, which then says what the caller wants.
  The caller needs ``patch`` on the model.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from kserve_functions.context import Context, Handler
from kserve_functions.core import errors
from kserve_functions.core.models import ModelRevisions, ModelState, RollbackRequest
from kserve_functions.core.resources import CONTROLLER_REVISION
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit, history, status
from kserve_functions.operations import deploy, summaries, waiting

STOPPED = "Stopped"
RESUMED = "Resumed"


async def list_revisions(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}/revisions``: newest first; 404 for no such model."""
    caller = await context.auth.authenticate(request)
    namespace, name = queries.path_model(params)
    await context.auth.authorize(caller, ("get",), namespace)
    await context.auth.authorize(caller, ("list",), namespace, resource=CONTROLLER_REVISION)
    isvc = await context.kube.get(namespace, name)
    stored = history.owned_by(await context.kube.revisions(namespace, name), isvc)
    shown = [history.read(revision) for revision in history.newest_first(stored)]
    return json_response(200, ModelRevisions(revisions=shown, count=len(shown)))


async def rollback(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /models/{namespace}/{name}/rollback``: re-apply a revision's request.

    Answers as ``POST /deploy`` does (200, or 202 when ``wait=true`` timed out),
    with the new revision's number.

    Raises:
        errors.NotFound: no such model, or no such revision.
        errors.Conflict: no previous revision, or the revision holds no request.
        errors.Invalid: the body, or a stored request the API no longer accepts.
    """
    caller = await context.auth.authenticate(request)
    namespace, name = queries.path_model(params)
    dry_run = queries.flag(request, "dryRun")
    timeout = queries.wait_seconds(request, context.settings)
    token = queries.restart_token(request)
    wanted = _rollback_body(request).revision
    # Authorized before anything about the model is read: a caller who may not
    # deploy there learns nothing about its history.
    await context.auth.authorize(caller, ("create", "patch"), namespace)
    isvc = await context.kube.get(namespace, name)
    stored = history.owned_by(await context.kube.revisions(namespace, name), isvc)
    target = history.rollback_target(stored, wanted)
    deploy_request = queries.parse_deploy_request(history.request_of(target))
    if (deploy_request.namespace, deploy_request.name) != (namespace, name):
        raise errors.Conflict(
            f"revision {history.number(target)} describes model "
            f"{deploy_request.namespace}/{deploy_request.name}, not {namespace}/{name}"
        )
    # The image allowlist applies to what is re-applied, as to a deploy.
    await context.auth.authorize_deploy(caller, deploy_request)
    actor = audit.http_actor(caller.user if caller else None, request.method, request.path)
    code, answer = await deploy.apply_model(
        context,
        deploy_request,
        restart_token=token,
        actor=actor,
        dry_run=dry_run,
        wait_seconds=timeout,
        rollback_of=history.number(target),
    )
    return json_response(code, answer)


def _rollback_body(request: Request) -> RollbackRequest:
    """The rollback body; an empty one means the previous revision.

    Raises:
        errors.Invalid: not ``{"revision": N}`` with N a whole number ≥ 1.
    """
    if not request.body.strip():
        return RollbackRequest()
    return queries.parse_body(RollbackRequest, request.json_body(), what="rollback request")


def lifecycle(*, stop: bool) -> Handler:
    """``POST /models/{namespace}/{name}/stop`` (``stop``) or ``…/resume``.

    Answers the model's summary: 200, or with ``wait=true`` once it is stopped
    (KServe removed its workloads and says ``Stopped``) or ready again, 202 when
    the timeout passed first. A stop of a stopped model (or a resume of a
    running one) changes nothing but the audit annotations, and is recorded.
    """
    reason = STOPPED if stop else RESUMED
    action: history.Action = "stop" if stop else "resume"
    wanted: ModelState = "stopped" if stop else "ready"

    async def handle(context: Context, request: Request, params: Mapping[str, str]) -> Response:
        caller = await context.auth.authenticate(request)
        namespace, name = queries.path_model(params)
        timeout = queries.wait_seconds(request, context.settings)
        await context.auth.authorize(caller, ("patch",), namespace)
        actor = audit.http_actor(caller.user if caller else None, request.method, request.path)
        now = datetime.datetime.now(datetime.UTC)
        isvc = await context.kube.set_stopped(
            namespace, name, stopped=stop, annotations=audit.change_annotations(actor, now)
        )
        note = "model stopped" if stop else "model resumed"
        await context.record_change(
            isvc, history.Change(action=action), reason=reason, note=note, actor=actor, at=now
        )
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

    Re-reads at least every ``deploy.RECHECK_SECONDS``: a Deployment's
    roll-out can finish without a change to the model.

    Raises:
        errors.NotFound: the model went away meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        rollout = await summaries.predictor_rollout(context, isvc)
        if status.model_state(isvc, rollout=rollout).state == wanted:
            return isvc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return isvc
        isvc = await waiting.next_model(context, isvc, seconds=waiting.recheck_seconds(deadline))
