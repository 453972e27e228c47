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
    namespace, name = fields.namespaced_name(isvc)
    try:
        deployment = await context.kube.predictor_deployment(namespace, name)
    except errors.Forbidden as e:
        log.warning("cannot compare %s with its Deployment: %s", name, e.detail)
        return None
    return status.predictor_rollout(isvc, deployment)


async def model_pods(context: Context, isvc: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The model's pods when they can explain why it is not ready; else None.

    Read only while KServe's status says not ready and the model is neither
    being deleted nor stopped: a ready model's pods have nothing to explain.
    """
    standing = status.model_state(isvc)
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


async def read_summary(
    context: Context, isvc: Mapping[str, Any], *, again: int | None = None
) -> ModelSummary:
    """``status.summary_of`` with the predictor's roll-out and pods read as needed.

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
    rollout = await predictor_rollout(context, isvc)
    pods = await model_pods(context, isvc)
    return status.summary_of(isvc, urls=context.settings.model_urls, rollout=rollout, pods=pods)


async def read_detail(context: Context, isvc: Mapping[str, Any]) -> ModelDetail:
    """``status.detail_of`` with the predictor's roll-out and pods read as needed."""
    rollout = await predictor_rollout(context, isvc)
    pods = await model_pods(context, isvc)
    return status.detail_of(isvc, urls=context.settings.model_urls, rollout=rollout, pods=pods)
