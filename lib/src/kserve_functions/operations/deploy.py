"""``POST /deploy``: create or update a model with one server-side apply, and wait for it when
asked (DESIGN §3).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.core.models import (
    DeployRequest,
    DeployResponse,
)
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit, history, manifests, status
from kserve_functions.operations import summaries, waiting

log = logging.getLogger("kserve_functions")

MAX_LIST_LIMIT = queries.MAX_LIST_LIMIT
# A wait follows the model by watch; it re-reads the model and its Deployment at
# least this often (a roll-out can finish without a change to the model).
RECHECK_SECONDS = 2.0


async def deploy(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /deploy``: create or update a model with one server-side apply.

    201 when created, 200 when updated; with ``wait=true``, 202 when the
    timeout passed before the model became Ready.
    """
    caller = await context.auth.authenticate(request)
    dry_run = queries.flag(request, "dryRun")
    timeout = queries.wait_seconds(request, context.settings)
    token = queries.restart_token(request)
    deploy_request = queries.parse_deploy_request(request.json_body())
    await context.auth.authorize_deploy(caller, deploy_request)
    actor = audit.http_actor(caller.user if caller else None, request.method, request.path)
    code, answer = await apply_model(
        context,
        deploy_request,
        restart_token=token,
        actor=actor,
        dry_run=dry_run,
        wait_seconds=timeout,
    )
    return json_response(code, answer)


async def apply_model(
    context: Context,
    deploy_request: DeployRequest,
    *,
    restart_token: str,
    actor: audit.Actor,
    dry_run: bool = False,
    wait_seconds: float | None = None,
    rollback_of: int | None = None,
) -> tuple[int, DeployResponse]:
    """Create or update the model ``deploy_request`` describes; the status code and answer.

    Shared by ``POST /deploy`` and the deploy event. ``wait_seconds`` None answers
    at once; otherwise waits for Ready that long (202 when it did not come).
    ``actor`` is recorded on the model and in a Kubernetes Event (``audit``),
    and the change as a new revision of the model's history (``history``; best
    effort, its number in the answer's ``revision``); ``rollback_of`` marks a
    rollback re-applying that revision's request.

    Raises:
        errors.Conflict: the model is being deleted.
    """
    now = datetime.datetime.now(datetime.UTC)
    knative = None
    if deploy_request.canary is not None:
        restart_token, knative = await _canary_basis(context, deploy_request, restart_token)
    manifest = manifests.build_inference_service(
        deploy_request,
        restart_token=restart_token,
        audit_annotations=audit.change_annotations(actor, now),
        knative=knative,
    )
    applied, created = await context.kube.apply(manifest, dry_run=dry_run)
    applied = await _drop_left_canary_percent(context, manifest, applied, dry_run=dry_run)
    if applied.get("metadata", {}).get("deletionTimestamp"):
        # The apply went through, but onto a model that finalizers are about to
        # remove: "updated" would be a lie the caller finds out later.
        raise errors.Conflict(
            f"model {deploy_request.namespace}/{deploy_request.name} is being deleted; "
            "deploy it again once it is gone"
        )
    code = 201 if created else 200
    revision: int | None = None
    if not dry_run:
        reason, note = (audit.DEPLOYED, "created") if created else (audit.UPDATED, "updated")
        change = history.Change(
            action="deploy" if rollback_of is None else "rollback",
            # The request as sent (fields left out stay out), so a rollback re-sends it.
            request=deploy_request.model_dump(mode="json", by_alias=True, exclude_unset=True),
            restart_token=restart_token,
            rollback_of=rollback_of,
        )
        revision = await context.record_change(
            applied, change, reason=reason, note=f"model {note}", actor=actor, at=now
        )
    # A dry run made no Deployment to compare with.
    rollout = None if dry_run else await summaries.predictor_rollout(context, applied)
    if wait_seconds is not None and not dry_run:
        applied, rollout = await _wait_ready(context, applied, rollout, wait_seconds)
        if not status.is_ready(applied, rollout=rollout):
            code = 202
    log.info(
        "deploy %s/%s: %s%s",
        deploy_request.namespace,
        deploy_request.name,
        "created" if created else "updated",
        " (dry run)" if dry_run else "",
    )
    answer = DeployResponse(
        name=deploy_request.name,
        namespace=deploy_request.namespace,
        action="created" if created else "updated",
        url=context.summary_url(applied),
        generation=applied.get("metadata", {}).get("generation"),
        ready=status.is_ready(applied, rollout=rollout),
        dry_run=dry_run or None,
        revision=revision,
    )
    return code, answer


async def _drop_left_canary_percent(
    context: Context,
    manifest: Mapping[str, Any],
    applied: dict[str, Any],
    *,
    dry_run: bool,
) -> dict[str, Any]:
    """Remove a ``canaryTrafficPercent`` the deploy did not ask for; the model as written.

    An aborted Knative canary leaves ``canaryTrafficPercent: 0`` (``canary.abort``).
    That patch is an update, whose fields server-side apply leaves to it, so the
    next deploy's apply cannot remove the field by leaving it out, and the new
    revision would get no traffic. A deploy is the whole desired state, so the
    field goes by a patch guarded by the generation just applied; a writer that
    changed the spec meanwhile wins (logged).
    """
    predictor = applied.get("spec", {}).get("predictor", {})
    if "canaryTrafficPercent" not in predictor or "canaryTrafficPercent" in manifest.get(
        "spec", {}
    ).get("predictor", {}):
        return applied
    try:
        return await context.kube.patch_if_unchanged(
            applied,
            [{"op": "remove", "path": "/spec/predictor/canaryTrafficPercent"}],
            dry_run=dry_run,
        )
    except errors.Conflict as e:
        log.warning("kept canaryTrafficPercent: %s", e.detail)
        return applied


async def _canary_basis(
    context: Context, deploy_request: DeployRequest, restart_token: str
) -> tuple[str, bool | None]:
    """The restart token and mode (Knative or not) of a deploy that starts a canary.

    Starting a canary must not restart the stable predictor: a Standard-mode
    model keeps the restart token it runs with (its pods roll only if the stable
    fields changed too). The mode is the request's ``deploymentMode``, else the
    model's own; None (decided by the request) for a model not created yet.
    """
    try:
        live = await context.kube.get(deploy_request.namespace, deploy_request.name)
    except errors.NotFound:
        return restart_token, None
    knative = None
    if deploy_request.deployment_mode is None:
        knative = status.deployment_mode(live) == status.KNATIVE_MODE
    if knative or deploy_request.deployment_mode in manifests.KNATIVE_MODES:
        return restart_token, knative
    annotations = live.get("spec", {}).get("predictor", {}).get("annotations") or {}
    kept = annotations.get(manifests.RESTART_TOKEN_ANNOTATION)
    return (kept if isinstance(kept, str) and kept else restart_token), knative


async def _wait_ready(
    context: Context, isvc: dict[str, Any], rollout: status.Rollout | None, timeout: float
) -> tuple[dict[str, Any], status.Rollout | None]:
    """Follow the model (by watch) until it is ready, or time runs out.

    While KServe's status says not ready, the model is watched; once it says
    Ready and only the predictor Deployment's roll-out is left, the Deployment
    is watched, since a roll-out can finish without another change to the
    model. Each change arrives at once; every watch is renewed at least every
    ``RECHECK_SECONDS``, re-reading both.
    """
    namespace, name = isvc["metadata"]["namespace"], isvc["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while not status.is_ready(isvc, rollout=rollout):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        seconds = waiting.recheck_seconds(deadline)
        if (
            rollout is not None
            and rollout.resource_version
            and await waiting.rollout_moved(
                context, namespace, name, rollout.resource_version, seconds
            )
        ):
            isvc = await context.kube.get(namespace, name)  # NotFound once it is gone
        else:
            isvc = await waiting.next_model(context, isvc, seconds=seconds)
        rollout = await summaries.predictor_rollout(context, isvc)
    return isvc, rollout
