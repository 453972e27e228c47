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

from kserve_functions.cloudevents import envelope
from kserve_functions.cloudevents.sink import EventSink
from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.core.resources import CANARY_PREDICTOR_NAME
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.objects import audit, history, manifests, status
from kserve_functions.operations import summaries

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
# Reads and guarded patches per decision: KServe writes the model's status while
# its canary starts, so a read can be stale by the time of the write.
ATTEMPTS = 5
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
    caller = await context.auth.authenticate(request)
    namespace, name = queries.path_model(params)
    await context.auth.authorize(caller, ("patch",), namespace)
    dry_run = queries.flag(request, "dryRun")
    actor = audit.http_actor(caller.user if caller else None, request.method, request.path)
    isvc = await context.kube.get(namespace, name)
    if isvc.get("metadata", {}).get("deletionTimestamp"):
        raise errors.Conflict(f"model {namespace}/{name} is being deleted")
    if manifests.running_canary(isvc) is None:
        summary = status.read_summary(isvc, urls=context.settings.model_urls)
        raise errors.Conflict(
            f"model {namespace}/{name} runs no canary (state: {summary.state}); "
            "start one with POST /deploy and a canary"
        )
    now = datetime.datetime.now(datetime.UTC)
    patch = operations(isvc, annotations=audit.change_annotations(actor, now))
    written = await context.kube.patch_if_unchanged(isvc, patch, dry_run=dry_run)
    if not dry_run:
        written = await _adopt(context, written)
        await context.record_change(
            written, history.Change(action=action), reason=reason, note=note, actor=actor, at=now
        )
    log.info("%s %s/%s%s", note, namespace, name, " (dry run)" if dry_run else "")
    return json_response(200, await summaries.read_detail(context, written))


# Reads and rewrites of the managed fields while KServe keeps writing the status.
ADOPT_ATTEMPTS = 5


async def _adopt(context: Context, written: dict[str, Any]) -> dict[str, Any]:
    """Hand what the patch wrote to the deploy's apply, so the next deploy is the whole
    desired state again (``kube.adopt_updated_fields``); best effort, after the change.

    Guarded by the resourceVersion read, so KServe's status writes (several a
    second while a model rolls) make it read again and retry, a few times; past
    those, or on another failure, the fields stay until a deploy sets them (logged).
    """
    model = written
    for _ in range(ADOPT_ATTEMPTS):
        try:
            return await context.kube.adopt_updated_fields(model)
        except errors.Conflict:
            metadata = model.get("metadata") or {}
            model = await context.kube.get(str(metadata["namespace"]), str(metadata["name"]))
        except errors.ApiError as e:
            log.warning(
                "fields of the canary's patch stay outside the deploy's apply: %s", e.detail
            )
            return model
    log.warning("fields of the canary's patch stay outside the deploy's apply: it kept changing")
    return model


def may_concern_a_canary(changed: Mapping[str, Any], model: str) -> bool:
    """Whether an ApiServerSource event's object (``changed``) can make a canary due.

    The model with a canary (its status says when the canary is Ready), or a
    pod of its canary Deployment (a failing one aborts it): every other change
    (the stable pods, models without a canary) is skipped without a read.
    """
    if changed.get("kind") == "Pod":
        pod_name = str((changed.get("metadata") or {}).get("name") or "")
        return pod_name.startswith(f"{model}-{CANARY_PREDICTOR_NAME}-predictor-")
    return bool((changed.get("spec") or {}).get("canary"))


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
    for _ in range(ATTEMPTS):
        try:
            isvc = await context.kube.get(namespace, name)
        except errors.NotFound:
            return None
        if not (isvc.get("spec") or {}).get("canary"):
            return None
        prefix = f"{name}-{CANARY_PREDICTOR_NAME}-predictor-"
        pods = [
            pod
            for pod in await context.kube.model_pods(namespace, name, limit=CANARY_POD_SAMPLE)
            if str(pod.get("metadata", {}).get("name", "")).startswith(prefix)
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
        now = datetime.datetime.now(datetime.UTC)
        build = manifests.promote_operations if promoting else manifests.abort_operations
        patch = build(isvc, annotations=audit.change_annotations(AUTO_ACTOR, now))
        try:
            written = await context.kube.patch_if_unchanged(isvc, patch)
        except (errors.Conflict, errors.NotFound):
            continue  # changed or gone since the read: read and decide again
        written = await _adopt(context, written)
        outcome = "promoted" if promoting else "aborted"
        note = f"canary {outcome} automatically ({decision.reason})"
        await context.record_change(
            written,
            history.Change(action="promote" if promoting else "abort"),
            reason=PROMOTED if promoting else ABORTED,
            note=note,
            actor=AUTO_ACTOR,
            at=now,
        )
        summary = status.read_summary(written, urls=context.settings.model_urls)
        metadata = written.get("metadata") or {}
        headers, body = envelope.binary_message(
            PROMOTED_TYPE if promoting else ABORTED_TYPE,
            source=source,
            # One id per write: a consumer that drops repeated source + id sees one.
            event_id=f"{metadata.get('uid')}/{outcome}/{metadata.get('resourceVersion')}",
            subject=f"{namespace}/{name}",
            time=now,
            data={**summary.model_dump(by_alias=True, exclude_none=True, mode="json"), "why": note},
        )
        # The change is made; a sink that refuses the event is reported (503, the
        # Broker redelivers) but cannot undo it: the redelivery finds no canary.
        await sink.send(headers, body)
        log.info("%s/%s: %s", namespace, name, note)
        return outcome
    raise errors.Unavailable(
        f"model {namespace}/{name} changed under each of {ATTEMPTS} attempts to finish its "
        "canary; redeliver the event"
    )
