"""A model's history and rollback (issue 11).

- ``GET /models/{ns}/{name}/revisions``: the model's revisions (``history``),
  newest first. The caller needs ``get`` on the model and ``list`` on
  ``controllerrevisions`` (``kubectl get controllerrevisions`` would need it).
- ``POST /models/{ns}/{name}/rollback`` (``{"revision": N}``, default the
  previous one): re-applies that revision's request exactly as a deploy does
  (``deploy.apply_model``: one server-side apply, a new restart token, the
  audit Event), recorded as a new revision; history only grows. ``dryRun`` and
  ``wait`` as for a deploy; the caller needs what a deploy needs.

Both see the newest ``REVISION_HISTORY_LIMIT`` revisions (``history.shown``):
older ones the store still holds are pruned as far as a caller can tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.models import ModelRevisions, RollbackRequest
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import history
from kserve_functions.operations import deploy


async def list_revisions(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}/revisions``: newest first; 404 for no such model."""
    namespace, name = queries.path_model(params)
    await context.auth.authorize_for(request.caller, permissions.REVISIONS, namespace)
    isvc = await context.kube.get(namespace, name)
    shown = [history.read(revision) for revision in await _shown(context, isvc)]
    return json_response(200, ModelRevisions(revisions=shown, count=len(shown)))


async def _shown(context: Context, isvc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The model's revisions a caller sees, newest first (``history.shown``)."""
    stored = await context.kube.revisions(*fields.namespaced_name(isvc))
    owned = history.owned_by(stored, isvc)
    return history.shown(owned, context.settings.revision_history_limit)


async def rollback(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /models/{namespace}/{name}/rollback``: re-apply a revision's request.

    Answers as ``POST /deploy`` does (200, or 202 when ``wait=true`` timed out),
    with the new revision's number.

    Raises:
        errors.NotFound: no such model, or no such revision.
        errors.Conflict: no previous revision, or the revision holds no request.
        errors.Invalid: the body, or a stored request the API no longer accepts.
    """
    namespace, name = queries.path_model(params)
    options = deploy.ApplyOptions.read(request, context.settings)
    wanted = _rollback_body(request).revision
    # Authorized before anything about the model is read: a caller who may not
    # deploy there learns nothing about its history.
    await context.auth.authorize_for(request.caller, permissions.ROLLBACK, namespace)
    isvc = await context.kube.get(namespace, name)
    target = history.rollback_target(await _shown(context, isvc), wanted)
    deploy_request = queries.parse_deploy_request(history.request_of(target))
    if (deploy_request.namespace, deploy_request.name) != (namespace, name):
        raise errors.Conflict(
            f"revision {history.number(target)} describes model "
            f"{deploy_request.namespace}/{deploy_request.name}, not {namespace}/{name}"
        )
    # The image allowlist applies to what is re-applied, as to a deploy.
    return await deploy.apply_requested(
        context, request, deploy_request, options, rollback_of=history.number(target)
    )


def _rollback_body(request: Request) -> RollbackRequest:
    """The rollback body; an empty one means the previous revision.

    Raises:
        errors.Invalid: not ``{"revision": N}`` with N a whole number ≥ 1.
    """
    if not request.body.strip():
        return RollbackRequest()
    return queries.parse_body(RollbackRequest, request.json_body(), what="rollback request")
