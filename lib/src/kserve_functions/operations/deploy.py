"""``POST /deploy``: create or update a model with one server-side apply, and wait for it when
asked (DESIGN §3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve_functions.config import Settings
from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.models import (
    DeployRequest,
    DeployResponse,
)
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit, history, manifests, status
from kserve_functions.operations import changes, summaries, waiting
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")


async def deploy(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /deploy``: create or update a model with one server-side apply.

    201 when created, 200 when updated; with ``wait=true``, 202 when the
    timeout passed before the model became Ready.
    """
    options = ApplyOptions.read(request, context.settings)
    deploy_request = queries.parse_deploy_request(request.json_body())
    return await apply_requested(context, request, deploy_request, options)


@dataclass(frozen=True)
class ApplyOptions:
    """How a request that applies a model (a deploy, a rollback) asks for it to be applied."""

    dry_run: bool
    # None: answer at once; else wait for Ready that long.
    wait_seconds: float | None
    restart_token: str

    @classmethod
    def read(cls, request: Request, settings: Settings) -> ApplyOptions:
        """The options of ``request``, checked in this order: ``dryRun``, ``wait`` and
        ``timeout``, ``Idempotency-Key`` (the restart token; a fresh one without it).

        Raises:
            errors.Invalid: one of them is invalid (the first found).
        """
        return cls(
            dry_run=queries.flag(request, "dryRun"),
            wait_seconds=queries.wait_seconds(request, settings),
            restart_token=queries.restart_token(request),
        )


async def apply_requested(
    context: Context,
    request: Request,
    deploy_request: DeployRequest,
    options: ApplyOptions,
    *,
    rollback_of: int | None = None,
) -> Response:
    """Apply ``deploy_request`` for ``request``'s caller (``apply_model``) as ``options`` say;
    the answer.

    The caller is authorized first (``Authorizer.authorize_deploy``: the
    allowlists, then create and patch), and recorded as ``request.actor``.

    Raises:
        errors.Forbidden: by an allowlist or RBAC, before anything is written.
    """
    try:
        await context.auth.authorize_deploy(request.caller, deploy_request)
    except errors.ApiError as refused:
        metrics.DEPLOYS.labels("unknown", metrics.outcome(refused.status)).inc()
        raise
    code, answer = await apply_model(
        context,
        deploy_request,
        restart_token=options.restart_token,
        actor=request.actor,
        dry_run=options.dry_run,
        wait_seconds=options.wait_seconds,
        rollback_of=rollback_of,
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
    The apply is a change made through the API (``changes.make``): ``actor`` is
    recorded on the model and in a Kubernetes Event (``audit``), and the change
    as a new revision of the model's history (``history``; best effort, its
    number in the answer's ``revision``); ``rollback_of`` marks a rollback
    re-applying that revision's request.

    Counted in ``kserve_functions_deploys_total`` by action (``unknown`` when it
    failed before the cluster said which) and outcome.

    Raises:
        errors.Conflict: the model is being deleted.
    """
    try:
        code, answer = await _apply_model(
            context,
            deploy_request,
            restart_token=restart_token,
            actor=actor,
            dry_run=dry_run,
            wait_seconds=wait_seconds,
            rollback_of=rollback_of,
        )
    except errors.ApiError as failed:
        metrics.DEPLOYS.labels("unknown", metrics.outcome(failed.status)).inc()
        raise
    metrics.DEPLOYS.labels("dry_run" if dry_run else answer.action, "ok").inc()
    return code, answer


async def _apply_model(
    context: Context,
    deploy_request: DeployRequest,
    *,
    restart_token: str,
    actor: audit.Actor,
    dry_run: bool,
    wait_seconds: float | None,
    rollback_of: int | None,
) -> tuple[int, DeployResponse]:
    knative = None
    if deploy_request.canary is not None:
        restart_token, knative = await _canary_basis(context, deploy_request, restart_token)

    async def write(annotations: dict[str, str]) -> changes.Written:
        manifest = manifests.build_inference_service(
            deploy_request,
            restart_token=restart_token,
            audit_annotations=annotations,
            knative=knative,
        )
        applied, created = await context.kube.apply(manifest, dry_run=dry_run)
        applied = await _drop_left_canary_percent(context, manifest, applied, dry_run=dry_run)
        if fields.get(applied, "metadata", "deletionTimestamp"):
            # The apply went through, but onto a model that finalizers are about to
            # remove: "updated" would be a lie the caller finds out later.
            raise errors.Conflict(
                f"model {deploy_request.namespace}/{deploy_request.name} is being deleted; "
                "deploy it again once it is gone"
            )
        reason, note = (audit.DEPLOYED, "created") if created else (audit.UPDATED, "updated")
        return changes.Written(applied, reason, f"model {note}", created=created)

    change = history.Change(
        action="deploy" if rollback_of is None else "rollback",
        # The request as sent (fields left out stay out), so a rollback re-sends it.
        request=deploy_request.model_dump(mode="json", by_alias=True, exclude_unset=True),
        restart_token=restart_token,
        rollback_of=rollback_of,
    )
    made = await changes.make(
        context,
        deploy_request.namespace,
        deploy_request.name,
        write,
        actor=actor,
        change=change,
        dry_run=dry_run,
    )
    applied, created, revision = made.model, made.created, made.revision
    code = 201 if created else 200
    # A dry run made no Deployment to compare with.
    rollout = None if dry_run else await summaries.predictor_rollout(context, applied)
    if wait_seconds is not None and not dry_run:
        applied, rollout = await _wait_ready(context, applied, rollout, wait_seconds)
        if not status.is_ready(applied, rollout=rollout):
            code = 202
        metrics.WAITS.labels(_waited(applied, rollout)).inc()
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
        generation=fields.integer(applied, "metadata", "generation"),
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
    left = "canaryTrafficPercent" in fields.mapping(applied, "spec", "predictor")
    # The manifest is built here, always with a predictor.
    if not left or "canaryTrafficPercent" in manifest["spec"]["predictor"]:
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
    kept = fields.text(live, "spec", "predictor", "annotations", manifests.RESTART_TOKEN_ANNOTATION)
    return kept or restart_token, knative


def _waited(isvc: dict[str, Any], rollout: status.Rollout | None) -> str:
    """How a deploy's wait ended: ``ready``, else ``failed`` or ``timeout``."""
    state = status.model_state(isvc, rollout=rollout).state
    return state if state in {"ready", "failed"} else "timeout"


async def _wait_ready(
    context: Context, isvc: dict[str, Any], rollout: status.Rollout | None, timeout: float
) -> tuple[dict[str, Any], status.Rollout | None]:
    """Follow the model (by watch) until it is ready, or time runs out.

    While KServe's status says not ready, the model is watched; once it says
    Ready and only the predictor Deployment's roll-out is left, the Deployment
    is watched, since a roll-out can finish without another change to the
    model. Each change arrives at once; every watch is renewed at least every
    ``waiting.RECHECK_SECONDS``, re-reading both.
    """
    namespace, name = fields.namespaced_name(isvc)
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
