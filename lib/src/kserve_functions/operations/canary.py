"""Finish a canary: ``POST /models/{ns}/{name}/promote`` and ``…/abort`` (issue 11).

A canary is started by a deploy with ``canary`` (``manifests``: ``spec.canary``
in Standard mode, ``canaryTrafficPercent`` in Knative mode). Promote makes it
the stable predictor at 100 %; abort removes it and leaves the stable one as it
is. Each is one JSON patch guarded by the generation (the spec) the decision was
made on (``kube.patch_if_unchanged``): two promotes, or a promote and a deploy,
racing on one model never leave a half-applied state; the loser gets 409 and
nothing of its change is written.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.cloudevents import envelope
from kserve_functions.cloudevents.sink import EventSink
from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.resources import CANARY_PREDICTOR_NAME
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit, history, manifests, status
from kserve_functions.operations import changes, retries, summaries

log = logging.getLogger("kserve_functions")

PROMOTED = "Promoted"
"""The Kubernetes Event reason of a promotion (``audit``)."""
ABORTED = "Aborted"
"""The Kubernetes Event reason of an aborted canary."""

Operations = Callable[..., list[dict[str, Any]]]

PROMOTED_TYPE = f"{envelope.PREFIX}.promoted"
"""The CloudEvent of an automatic promotion (``canary.autoPromote``)."""
ABORTED_TYPE = f"{envelope.PREFIX}.aborted"
"""The CloudEvent of an automatic abort."""
AUTO_ACTOR = audit.Actor(by="kserve-functions notify", how="canary.autoPromote")
# A canary has at most its share of the stable replicas; a few pods say it all.
CANARY_POD_SAMPLE = 20


async def promote(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /models/{namespace}/{name}/promote``: the canary becomes the stable predictor.

    200 with the model's detail as written; ``dryRun=true`` validates only.

    Raises:
        errors.NotFound: no such model.
        errors.Conflict: it runs no canary (the detail names its state), or it
            changed between this request's read and its write (another promote
            or deploy won; nothing of this one was written).
        errors.Forbidden: the caller may not patch models there.
    """
    return await _finish(
        context,
        request,
        params,
        manifests.promote_operations,
        action="promote",
        reason=PROMOTED,
        note="canary promoted",
    )


async def abort(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``POST /models/{namespace}/{name}/abort``: the canary is removed, the stable one kept.

    200 with the model's detail as written; ``dryRun=true`` validates only.
    Errors as ``promote``.
    """
    return await _finish(
        context,
        request,
        params,
        manifests.abort_operations,
        action="abort",
        reason=ABORTED,
        note="canary aborted",
    )


async def _finish(
    context: Context,
    request: Request,
    params: Mapping[str, str],
    operations: Operations,
    *,
    action: history.Action,
    reason: str,
    note: str,
) -> Response:
    namespace, name = queries.path_model(params)
    await context.auth.authorize_for(request.caller, permissions.CHANGE, namespace)
    dry_run = queries.flag(request, "dryRun")
    actor = request.actor
    isvc = await context.kube.get(namespace, name)
    if fields.get(isvc, "metadata", "deletionTimestamp"):
        raise errors.Conflict(f"model {namespace}/{name} is being deleted")
    if manifests.running_canary(isvc) is None:
        summary = status.summary_of(isvc, urls=context.settings.model_urls)
        raise errors.Conflict(
            f"model {namespace}/{name} runs no canary (state: {summary.state}); "
            "start one with POST /deploy and a canary"
        )
    made = await changes.make(
        context,
        namespace,
        name,
        lambda annotations: _patch(
            context, isvc, operations, annotations, reason=reason, note=note, dry_run=dry_run
        ),
        actor=actor,
        change=history.Change(action=action),
        dry_run=dry_run,
    )
    log.info("%s %s/%s%s", note, namespace, name, " (dry run)" if dry_run else "")
    return json_response(200, await summaries.read_detail(context, made.model))


async def _patch(
    context: Context,
    isvc: dict[str, Any],
    operations: Operations,
    annotations: dict[str, str],
    *,
    reason: str,
    note: str,
    dry_run: bool = False,
) -> changes.Written:
    """Finish the canary of ``isvc`` (as read) by ``operations``, guarded by its generation.

    Raises:
        errors.Conflict: the model changed since the read (nothing was written).
        errors.NotFound: it is gone.
    """
    patch = operations(isvc, annotations=annotations)
    written = await context.kube.patch_if_unchanged(isvc, patch, dry_run=dry_run)
    if not dry_run:
        written = await _adopt(context, written)
    return changes.Written(written, reason, note)


async def _adopt(context: Context, written: dict[str, Any]) -> dict[str, Any]:
    """Hand what the patch wrote to the deploy's apply, so the next deploy is the whole
    desired state again (``kube.adopt_updated_fields``); best effort, after the change.

    Guarded by the resourceVersion read, so KServe's status writes (several a
    second while a model rolls) make it read again and retry (``retries``); past
    those, or on another failure, the fields stay until a deploy sets them (logged).
    """
    model = written

    async def attempt(stale: bool) -> dict[str, Any]:
        nonlocal model
        if stale:
            model = await context.kube.get(*fields.namespaced_name(model))
        return await context.kube.adopt_updated_fields(model)

    try:
        return await retries.compare_and_swap(attempt)
    except retries.Contended:
        why = "it kept changing"
    except errors.ApiError as e:
        why = e.detail
    log.warning("fields of the canary's patch stay outside the deploy's apply: %s", why)
    return model


def may_concern_a_canary(changed: Mapping[str, Any], model: str) -> bool:
    """Whether an ApiServerSource event's object (``changed``) can make a canary due.

    The model with a canary (its status says when the canary is Ready), or a
    pod of its canary Deployment (a failing one aborts it): every other change
    (the stable pods, models without a canary) is skipped without a read.
    """
    if changed.get("kind") == "Pod":
        pod_name = fields.text(changed, "metadata", "name") or ""
        return pod_name.startswith(f"{model}-{CANARY_PREDICTOR_NAME}-predictor-")
    return bool(fields.get(changed, "spec", "canary"))


async def auto_finish(
    context: Context, sink: EventSink, namespace: str, name: str, *, source: str
) -> str | None:
    """Promote or abort the model's canary if it opted in (``canary.autoPromote``) and is due.

    Called by the notify function for every change of the model or its pods, so
    no function polls: a canary whose pods fail is aborted, one Ready for its
    ``afterSeconds`` is promoted (``status.auto_canary``). Exactly once: the
    write is the guarded patch of ``promote``/``abort``, so of the replicas and
    redeliveries deciding on one read, one writes, and only it sends the
    CloudEvent (``PROMOTED_TYPE``/``ABORTED_TYPE``, data: the model's summary)
    and records the Kubernetes Event. Returns ``promoted``/``aborted`` when this
    call did it, else None.

    Raises:
        errors.Unavailable: the canary is Ready but not yet for ``afterSeconds``
            (``Retry-After`` says when it will be: the Broker redelivers the
            event then), or the model kept changing under every attempt.
    """

    async def attempt(stale: bool) -> str | None:
        try:
            isvc = await context.kube.get(namespace, name)
        except errors.NotFound:
            return None
        if not fields.get(isvc, "spec", "canary"):
            return None
        prefix = f"{name}-{CANARY_PREDICTOR_NAME}-predictor-"
        pods = [
            pod
            for pod in await context.kube.model_pods(namespace, name, limit=CANARY_POD_SAMPLE)
            if (fields.text(pod, "metadata", "name") or "").startswith(prefix)
        ]
        decision = status.auto_canary(isvc, pods, now=datetime.datetime.now(datetime.UTC))
        if decision is None:
            return None
        if decision.action == "wait":
            raise errors.Unavailable(
                f"the canary of {namespace}/{name} is promoted in {decision.wait_seconds}s",
                retry_after_seconds=decision.wait_seconds,
            )
        promoting = decision.action == "promote"
        build = manifests.promote_operations if promoting else manifests.abort_operations
        reason, outcome = (PROMOTED, "promoted") if promoting else (ABORTED, "aborted")
        note = f"canary {outcome} automatically ({decision.reason})"
        # A Conflict or NotFound: changed or gone since the read; read and decide again.
        made = await changes.make(
            context,
            namespace,
            name,
            lambda annotations: _patch(context, isvc, build, annotations, reason=reason, note=note),
            actor=AUTO_ACTOR,
            change=history.Change(action="promote" if promoting else "abort"),
        )
        summary = status.summary_of(made.model, urls=context.settings.model_urls)
        metadata = fields.mapping(made.model, "metadata")
        headers, body = envelope.binary_message(
            PROMOTED_TYPE if promoting else ABORTED_TYPE,
            source=source,
            # One id per write: a consumer that drops repeated source + id sees one.
            event_id=f"{metadata.get('uid')}/{outcome}/{metadata.get('resourceVersion')}",
            subject=f"{namespace}/{name}",
            time=made.at,
            data={**summary.model_dump(by_alias=True, exclude_none=True, mode="json"), "why": note},
        )
        # The change is made; a sink that refuses the event is reported (503, the
        # Broker redelivers) but cannot undo it: the redelivery finds no canary.
        await sink.send(headers, body)
        log.info("%s/%s: %s", namespace, name, note)
        return outcome

    return await retries.compare_and_swap_or_redeliver(
        attempt, model=f"{namespace}/{name}", purpose="finish its canary"
    )
