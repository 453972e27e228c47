"""The API's operations: deploy, list, get, delete, health (DESIGN §3).

Each takes the parsed request and its path parameters and returns a
``Response``; each raises only ``errors.ApiError``. They combine the pure
pieces (validation, manifest builders, status readers) with the named
Kubernetes operations of ``kube``, and hold the rules that span them: one
server-side apply per deploy, waiting for Ready, streaming long lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from kserve_functions import (
    audit,
    continuation,
    errors,
    history,
    manifests,
    queries,
    readings,
    status,
    streams,
)
from kserve_functions.asgi import Request, Response, dump, json_response
from kserve_functions.context import Context
from kserve_functions.kube import Caller, Page
from kserve_functions.models import (
    DeleteResponse,
    DeployRequest,
    DeployResponse,
    HealthResponse,
    ModelList,
    ModelSummary,
)
from kserve_functions.resources import INFERENCE_SERVICE, Right

log = logging.getLogger("kserve_functions")

MAX_LIST_LIMIT = queries.MAX_LIST_LIMIT
# A wait follows the model by watch; it re-reads the model and its Deployment at
# least this often (a roll-out can finish without a change to the model).
RECHECK_SECONDS = 2.0


# -- operations --------------------------------------------------------------


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
    rollout = None if dry_run else await readings.predictor_rollout(context, applied)
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
        seconds = recheck_seconds(deadline)
        if (
            rollout is not None
            and rollout.resource_version
            and await _rollout_moved(context, namespace, name, rollout.resource_version, seconds)
        ):
            isvc = await context.kube.get(namespace, name)  # NotFound once it is gone
        else:
            isvc = await next_model(context, isvc, seconds=seconds)
        rollout = await readings.predictor_rollout(context, isvc)
    return isvc, rollout


async def next_model(context: Context, isvc: Mapping[str, Any], *, seconds: int) -> dict[str, Any]:
    """The model after its next change (by watch, at most ``seconds``), else as re-read.

    The re-read covers a quiet watch, one whose resourceVersion expired, and a
    deletion (the wait then sees NotFound).

    Raises:
        errors.NotFound: the model is gone.
    """
    namespace, name = isvc["metadata"]["namespace"], isvc["metadata"]["name"]
    change = await context.kube.next_change(
        namespace,
        name,
        resource_version=str(isvc["metadata"].get("resourceVersion", "")),
        timeout_seconds=seconds,
    )
    if change is None or change.type == "DELETED":
        return await context.kube.get(namespace, name)
    return change.object


def recheck_seconds(deadline: float) -> int:
    """How long the next watch of a wait may last: at most ``RECHECK_SECONDS``, at least 1."""
    return max(1, math.ceil(min(deadline - time.monotonic(), RECHECK_SECONDS)))


async def _rollout_moved(
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


async def list_models(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models``: the models of one namespace, or of all (``namespace=*``).

    With ``limit``, one page and its ``continue`` token (the apiserver's
    pagination, passed through). Without, every model, streamed as the apiserver
    sends it (``Kube.all_models``), so memory stays flat however many there are.
    """
    caller = await context.auth.authenticate(request)
    namespace = queries.list_namespace(request)
    selector = queries.label_selector(request)
    token = queries.continue_token(request)
    limit = queries.bounded(request, "limit", MAX_LIST_LIMIT)
    if queries.flag(request, "watch"):
        return await _watch_models(context, request, caller, namespace, selector)
    if namespace is not None:
        await context.auth.authorize(caller, ("list",), namespace)
    else:
        visible = await context.auth.listable_namespaces(caller)
        if visible is not None:
            return await _list_some_namespaces(context, visible, selector, limit, token)
    if limit is not None:
        page = await context.kube.list_page(
            namespace, label_selector=selector, limit=limit, continue_token=token
        )
        summaries = [_summary(context, item) for item in page.items]
        return json_response(
            200,
            ModelList(
                models=summaries, count=len(summaries), continue_token=page.continue_token or None
            ),
        )
    listed = context.kube.all_models(
        namespace,
        label_selector=selector,
        page_size=context.settings.list_page_size,
        continue_token=token,
    )
    # Fetch the first page before answering, so its errors still get a proper status.
    first = await anext(listed)
    return Response(status=200, body=_stream_pages(context, first, listed))


async def _watch_models(
    context: Context,
    request: Request,
    caller: Caller | None,
    namespace: str | None,
    selector: str | None,
) -> Response:
    """``GET /models?watch=true``: a stream of the models' changes (``streams``).

    One apiserver watch per stream, so ``namespace=*`` needs ``list`` and
    ``watch`` everywhere (no allowlist): a caller allowed some namespaces only
    watches each of them.

    Raises:
        errors.Invalid: ``limit`` or ``continue`` given (a stream has no pages).
        errors.Forbidden: the caller may not list and watch there.
    """
    for name in ("limit", "continue"):
        if request.query_value(name) is not None:
            raise queries.invalid_query(
                name, "does not apply to watch=true (a stream has no pages)"
            )
    if namespace is None and context.settings.allowed_namespaces is not None:
        raise errors.Forbidden(
            "watch=true over every namespace is refused under ALLOWED_NAMESPACES; "
            "watch one namespace at a time"
        )
    await context.auth.authorize(caller, ("list", "watch"), namespace or "")
    return await streams.models_stream(context, request, namespace, selector)


def _summary(context: Context, isvc: Mapping[str, Any]) -> ModelSummary:
    return status.read_summary(isvc, urls=context.settings.model_urls)


async def _list_some_namespaces(
    context: Context,
    namespaces: Sequence[str],
    selector: str | None,
    limit: int | None,
    continue_token: str | None,
) -> Response:
    """``namespace=*`` for a caller who may list only ``namespaces``: their models, in order.

    The continue token names the namespace to go on in and the apiserver's
    token within it (``continuation.encode_continue``).
    """
    start, inner = 0, None
    if continue_token:
        position = continuation.decode_continue(continue_token)
        if position is None or position[0] not in namespaces:
            raise queries.invalid_query("continue", "is not a continue token of this list")
        start, inner = namespaces.index(position[0]), position[1] or None
    if limit is None:
        pages = _pages(context, namespaces[start:], selector, inner)
        first = await anext(pages, None)
        return Response(status=200, body=_stream_pages(context, first, pages))
    items: list[dict[str, Any]] = []
    next_token = ""
    for index in range(start, len(namespaces)):
        if len(items) >= limit:
            next_token = continuation.encode_continue(namespaces[index], "")
            break
        page = await context.kube.list_page(
            namespaces[index],
            label_selector=selector,
            limit=limit - len(items),
            continue_token=inner,
        )
        inner = None
        items.extend(page.items)
        if page.continue_token:
            next_token = continuation.encode_continue(namespaces[index], page.continue_token)
            break
    summaries = [_summary(context, item) for item in items]
    return json_response(
        200, ModelList(models=summaries, count=len(summaries), continue_token=next_token or None)
    )


async def _pages(
    context: Context, namespaces: Sequence[str], selector: str | None, token: str | None
) -> AsyncIterator[Page[dict[str, Any]]]:
    """Every page of models of ``namespaces``, one apiserver page at a time.

    ``token`` continues the first namespace's list; the others start at their beginning.
    """
    for namespace in namespaces:
        async for page in context.kube.all_models(
            namespace,
            label_selector=selector,
            page_size=context.settings.list_page_size,
            continue_token=token,
        ):
            yield page
        token = None


async def _stream_pages(
    context: Context,
    first: Page[dict[str, Any]] | None,
    pages: AsyncIterator[Page[dict[str, Any]]],
) -> AsyncIterator[bytes]:
    """``{"models": [...], "count": N}`` from ``first`` and the ``pages`` after it.

    A page failing mid-stream ends the body unterminated: the status line is
    gone, and invalid JSON is better than a silently short list.

    One chunk per page: each chunk is a send through the server (a write, an
    await), which per model would cost more than reading the model. The next
    page is asked for before this one is read, so the apiserver prepares it
    meanwhile; at most two pages are held.
    """
    yield b'{"models":['
    count = 0
    page = first
    following: asyncio.Future[Page[dict[str, Any]] | None] | None = None
    try:
        while page is not None:
            following = asyncio.ensure_future(anext(pages, None))
            chunk = b",".join(dump(_summary(context, item)) for item in page.items)
            if chunk:
                yield (b"," if count else b"") + chunk
                count += len(page.items)
            try:
                page = await following
            except errors.ApiError as e:
                log.warning("model list aborted after %d models: %s", count, e.detail)
                return
    finally:
        # The reader went away (or a summary failed) while the next page was asked for.
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError, errors.ApiError):
                await following
        # A streamed list holds its apiserver connection until closed.
        close = getattr(pages, "aclose", None)
        if close is not None:
            await close()
    yield b'],"count":' + json.dumps(count).encode() + b"}"


async def get_model(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}``: the model's detail; 404 when absent.

    ``watch=true``: a stream of the model's changes instead (``streams``); the
    caller needs ``watch`` besides ``get``.
    """
    caller = await context.auth.authenticate(request)
    namespace, name = queries.path_model(params)
    watching = queries.flag(request, "watch")
    await context.auth.authorize(caller, ("get", "watch") if watching else ("get",), namespace)
    if watching:
        return await streams.model_stream(context, request, namespace, name)
    isvc = await context.kube.get(namespace, name)
    return json_response(200, await readings.read_detail(context, isvc))


async def delete_model(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``DELETE /models/{namespace}/{name}``; 404 when absent; ``wait=true`` waits until gone."""
    caller = await context.auth.authenticate(request)
    namespace, name = queries.path_model(params)
    await context.auth.authorize(caller, ("delete",), namespace)
    timeout = queries.wait_seconds(request, context.settings)
    actor = audit.http_actor(caller.user if caller else None, request.method, request.path)
    await delete(context, namespace, name, actor)
    code = 200
    if timeout is not None and not await _wait_gone(context, namespace, name, timeout):
        code = 202
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
    await context.record(regarding, reason=audit.DELETED, note="model deleted", actor=actor, at=now)


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
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            change = await context.kube.next_change(
                namespace,
                name,
                resource_version=str(isvc["metadata"].get("resourceVersion", "")),
                timeout_seconds=max(1, math.ceil(min(remaining, RECHECK_SECONDS))),
            )
            if change is None:
                break  # re-read: the watch timed out or its resourceVersion expired
            if change.type == "DELETED":
                return True
            isvc = change.object


def health_check(required: Sequence[Right]) -> Callable[..., Any]:
    """``GET /health`` for a function whose work needs the rights ``required``.

    Checks, each reported as ``ok`` or what failed: the apiserver answers, the
    InferenceService CRD is served, and this function's own identity has every
    right it needs (a SelfSubjectAccessReview each, cluster-wide; ``permissions``
    names the missing ones as RBAC writes them). A function that creates models
    also checks ``kserve_webhooks``: a dry-run create in
    ``HEALTH_PROBE_NAMESPACE`` passes KServe's admission webhooks, without which
    every deploy fails (functions without "create" may not dry-run one). 503 if
    any fails.
    """
    probes_admission = Right("create") in required

    async def health(context: Context, request: Request, params: Mapping[str, str]) -> Response:
        checks: dict[str, str] = {}
        try:
            version = await context.kube.server_version()
        except errors.ApiError as e:
            checks["apiserver"] = e.detail
            return _health_answer(checks)
        checks["apiserver"] = f"ok ({version})"
        try:
            served = await context.kube.crd_served()
            checks["inferenceservice_crd"] = "ok" if served else "not installed or not served"
        except errors.ApiError as e:
            checks["inferenceservice_crd"] = e.detail
        try:
            answers = await asyncio.gather(*(context.kube.can_i(right) for right in required))
            denied = [
                str(right) for right, allowed in zip(required, answers, strict=True) if not allowed
            ]
            checks["permissions"] = "ok" if not denied else f"may not {', '.join(denied)}"
        except errors.ApiError as e:
            checks["permissions"] = e.detail
        if probes_admission:
            try:
                await context.kube.probe_admission(context.settings.health_probe_namespace)
                checks["kserve_webhooks"] = "ok"
            except errors.ApiError as e:
                checks["kserve_webhooks"] = e.detail
        return _health_answer(checks)

    return health


def _health_answer(checks: dict[str, str]) -> Response:
    healthy = all(value.startswith("ok") for value in checks.values())
    answer = HealthResponse(status="healthy" if healthy else "unhealthy", checks=checks)
    return json_response(200 if healthy else 503, answer)
