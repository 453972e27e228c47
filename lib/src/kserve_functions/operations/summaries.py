"""One model as the API reports it, read with the function's own identity.

KServe's status alone cannot tell everything a caller asks: whether the current
spec has rolled out (the predictor Deployment knows) and why a model cannot
start (its pods know: a node the scheduler cannot find, an image that cannot be
pulled). The single-model views (detail, deploy answers, streams, status
events) read those too; lists read KServe's status only, one call per page.
Each extra read happens only when it can change the answer, and is skipped,
with a warning, when this function's RBAC does not allow it (an installation
with older manifests), so readiness then rests on KServe's status alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.models import ModelDetail, ModelSummary
from kserve_functions.objects import status

log = logging.getLogger("kserve_functions")

# How many of a model's pods are read to find one that is stuck: replicas beyond
# these would only repeat the reason.
POD_SAMPLE = 20


async def predictor_rollout(context: Context, isvc: Mapping[str, Any]) -> status.Rollout | None:
    """How far the model's predictor Deployment has rolled out its spec (Standard mode).

    None for other modes, when KServe's status already says not ready (no
    Deployment read is needed to know that), and when this function may not
    read Deployments.
    """
    if status.deployment_mode(isvc) != status.STANDARD_MODE or not status.is_ready(isvc):
        return None
    return await _deployment_rollout(context, isvc)


async def _deployment_rollout(context: Context, isvc: Mapping[str, Any]) -> status.Rollout | None:
    """``status.predictor_rollout`` of the Deployment read now; None when it may not be read."""
    namespace, name = fields.namespaced_name(isvc)
    try:
        deployment = await context.kube.predictor_deployment(namespace, name)
    except errors.Forbidden as e:
        log.warning("cannot compare %s with its Deployment: %s", name, e.detail)
        return None
    return status.predictor_rollout(isvc, deployment)


async def _model_pods(
    context: Context, isvc: Mapping[str, Any], standing: status.Standing
) -> list[dict[str, Any]] | None:
    """The model's pods when they can explain why it is not ready; else None.

    ``standing`` is the model's by KServe's status alone. Read only while it
    says starting or failed: a ready, updating, stopped or deleting model's
    pods have nothing to explain.
    """
    if standing.state not in {"starting", "failed"}:
        return None
    # KServe has reported nothing yet (no Ready condition): it has made no
    # Deployment, so there are no pods to explain anything; skip the call.
    if standing.reason == status.PENDING_REASON:
        return None
    namespace, name = fields.namespaced_name(isvc)
    try:
        return await context.kube.model_pods(namespace, name, limit=POD_SAMPLE)
    except errors.Forbidden as e:
        log.warning("cannot read the pods of %s: %s", name, e.detail)
        return None


async def _standing(context: Context, isvc: Mapping[str, Any]) -> status.Standing:
    """``status.model_state`` with the predictor's roll-out or pods read where they count.

    The state by KServe's status alone comes first. A model it calls ready may
    still roll out in Standard mode, which its Deployment tells; one starting
    or failed may have pods that say why (``_model_pods``). At most one of the
    two is read, and the state is computed again only with what was read. A
    stopped or deleting model is neither: its state is final without a read.
    """
    standing = status.model_state(isvc)
    if standing.state == "ready":
        if status.deployment_mode(isvc) != status.STANDARD_MODE:
            return standing
        rollout = await _deployment_rollout(context, isvc)
        return standing if rollout is None else status.model_state(isvc, rollout=rollout)
    pods = await _model_pods(context, isvc, standing)
    return standing if pods is None else status.model_state(isvc, pods=pods)


async def read_summary(
    context: Context, isvc: Mapping[str, Any], *, again: int | None = None
) -> ModelSummary:
    """``status.summary_of`` with the predictor's roll-out or pods read as needed.

    Shared: every watch stream that sees the same change of a model asks at
    once; they wait for one read (``Context.summaries``, keyed by the model's
    resourceVersion, kept briefly) instead of each reading the Deployment and
    pods again. ``again`` reads a model whose resourceVersion has not moved
    anew (a roll-out can complete without a change to the model): reads with
    the same ``again`` are shared in the same way.
    """
    version = fields.resource_version(isvc)
    key = (
        *fields.namespaced_name(isvc),
        version if again is None or not version else f"{version}/{again}",
    )
    if not key[2]:
        return await _read_summary(context, isvc)
    return await context.summaries.get(key, lambda: _read_summary(context, isvc))


async def _read_summary(context: Context, isvc: Mapping[str, Any]) -> ModelSummary:
    standing = await _standing(context, isvc)
    return status.summary_of(isvc, urls=context.settings.model_urls, standing=standing)


async def read_detail(context: Context, isvc: Mapping[str, Any]) -> ModelDetail:
    """``status.detail_of`` with the predictor's roll-out or pods read as needed."""
    standing = await _standing(context, isvc)
    return status.detail_of(isvc, urls=context.settings.model_urls, standing=standing)
