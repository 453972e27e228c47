"""Registry pushes roll the models that opted in (DESIGN §5).

A model opts in with ``autoUpdate: true`` at deploy: the label
``kserve-functions.dev/auto-update=true`` and the annotation
``kserve-functions.dev/tracked-image=<host/repo:tag>``. A push of that exact
``host/repo:tag`` with digest ``D`` points the model's container at
``host/repo@D`` — Knative resolves tags once per revision, so the digest is the
exact way to roll to what was pushed. The tracked tag stays in the annotation,
so the next push of it rolls again; a redelivered push finds the image already
pinned and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from kserve_functions.auth import allowlists
from kserve_functions.cloudevents.registry import ImagePush
from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.core.resources import KSERVE_CONTAINER
from kserve_functions.objects import audit, history, manifests
from kserve_functions.operations import changes
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")

# Models patched at once: enough to roll many quickly, few enough to stay a
# polite client of the apiserver.
CONCURRENCY = 8


class ModelRollout(BaseModel):
    """What one push did to one model."""

    namespace: str
    name: str
    image: str
    result: Literal["updated", "unchanged", "failed"]
    detail: str | None = None


class PushReport(BaseModel):
    """What one push did to every model tracking its tag."""

    image: str
    digest: str
    models: list[ModelRollout]


class RolloutReport(BaseModel):
    """The answer to a registry notification: one report per push."""

    pushes: list[PushReport]

    @property
    def failed(self) -> bool:
        """Whether any model could not be rolled."""
        return any(m.result == "failed" for push in self.pushes for m in push.models)


async def roll_out(context: Context, pushes: Sequence[ImagePush]) -> RolloutReport:
    """Roll every opted-in model tracking a pushed tag to the pushed digest.

    One paged list of opted-in models (all namespaces) finds the candidates,
    and one paged list per namespace their revisions (``_histories``); each
    model is then patched with its own request, ``CONCURRENCY`` at a time, and
    its outcome reported — one model failing does not stop the others.

    Raises:
        errors.ApiError: the models could not be listed (nothing was changed).
    """
    started = time.perf_counter()
    tracking = await _opted_in_models(context)
    limit = asyncio.Semaphore(CONCURRENCY)
    reports = []
    allowed = context.settings.allowed_namespaces
    for push in pushes:
        matches = [
            isvc
            for isvc in tracking
            if _tracked(isvc) == push.tagged
            and allowlists.namespace_allowed(fields.namespaced_name(isvc)[0], allowed)
        ]
        histories = await _histories(context, [m for m in matches if _needs_roll(m, push)])
        results = await asyncio.gather(
            *(
                _roll(context, limit, isvc, push, histories.get(fields.namespaced_name(isvc)))
                for isvc in matches
            )
        )
        reports.append(PushReport(image=push.tagged, digest=push.digest, models=list(results)))
        failed = any(r.result == "failed" for r in results)
        metrics.REGISTRY_PUSHES.labels("failed" if failed else "ok").inc()
        metrics.MODELS_ROLLED.unlabelled.inc(sum(r.result == "updated" for r in results))
    metrics.PUSH_TO_ROLLED.unlabelled.observe(time.perf_counter() - started)
    return RolloutReport(pushes=reports)


def _needs_roll(isvc: dict[str, Any], push: ImagePush) -> bool:
    found = _container(isvc)
    return found is not None and found[1] != push.pinned


async def _histories(
    context: Context, models: Sequence[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The revisions of ``models``, read with one list per namespace, not one per model.

    Each revision's number is then known before the model is patched: a read per
    model would scan the namespace's revisions once per model (see
    ``Kube.revisions_by_model``), which made a push to 5,000 models in one
    namespace quadratic. A namespace that cannot be read is left out: each of
    its models then reads its own (``changes.make``), as a deploy does.
    """
    by_namespace: dict[str, list[str]] = defaultdict(list)
    for isvc in models:
        namespace, name = fields.namespaced_name(isvc)
        by_namespace[namespace].append(name)
    histories: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for namespace, names in by_namespace.items():
        try:
            found = await context.kube.revisions_by_model(namespace, names)
        except errors.ApiError as e:
            log.warning("could not read the revisions in %s: %s", namespace, e.detail)
            continue
        histories.update(((namespace, name), revisions) for name, revisions in found.items())
    return histories


async def _opted_in_models(context: Context) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    async for page in context.kube.model_pages(
        None,
        label_selector=f"{manifests.AUTO_UPDATE_LABEL}=true",
        page_size=context.settings.list_page_size,
    ):
        models.extend(page.items)
    return models


def _tracked(isvc: dict[str, Any]) -> str | None:
    return fields.text(isvc, "metadata", "annotations", manifests.TRACKED_IMAGE_ANNOTATION)


def _container(isvc: dict[str, Any]) -> tuple[int, str] | None:
    # Not ``fields.items``: the index is the container's place in the list as
    # stored (the patch addresses it), so nothing in the list is skipped.
    containers = fields.get(isvc, "spec", "predictor", "containers")
    for index, container in enumerate(containers if isinstance(containers, list) else ()):
        if fields.text(container, "name") == KSERVE_CONTAINER:
            image = fields.text(container, "image")
            return None if image is None else (index, image)
    return None


async def _roll(
    context: Context,
    limit: asyncio.Semaphore,
    isvc: dict[str, Any],
    push: ImagePush,
    history_read: list[dict[str, Any]] | None,
) -> ModelRollout:
    namespace, name = fields.namespaced_name(isvc)
    found = _container(isvc)
    if found is None:
        return ModelRollout(
            namespace=namespace,
            name=name,
            image="",
            result="failed",
            detail=f"no {KSERVE_CONTAINER} container to roll",
        )
    index, current = found
    if not allowlists.image_allowed(push.pinned, context.settings.allowed_images):
        return ModelRollout(
            namespace=namespace,
            name=name,
            image=current,
            result="failed",
            detail=f"image {push.pinned} does not match ALLOWED_IMAGES",
        )
    if current == push.pinned:
        return ModelRollout(namespace=namespace, name=name, image=current, result="unchanged")
    actor = audit.Actor(by=f"registry {push.host}", how=f"registry push of {push.tagged}")
    note = f"model rolled out from {current} to {push.pinned}"

    async def write(annotations: dict[str, str]) -> changes.Written:
        patched = await context.kube.set_container_image(
            namespace,
            name,
            index=index,
            expected=current,
            image=push.pinned,
            annotations=annotations,
            has_annotations=isinstance(fields.get(isvc, "metadata", "annotations"), dict),
        )
        return changes.Written(patched, audit.ROLLED_OUT, note)

    # The records inside the limit too: a push to thousands of models stays
    # CONCURRENCY models' worth of requests at a time.
    async with limit:
        try:
            await changes.make(
                context,
                namespace,
                name,
                write,
                actor=actor,
                change=history.Change(action="rollout", image_change=(current, push.pinned)),
                known=history_read,
            )
        except errors.ApiError as e:
            log.warning("rollout of %s/%s to %s failed: %s", namespace, name, push.pinned, e.detail)
            return ModelRollout(
                namespace=namespace, name=name, image=current, result="failed", detail=e.detail
            )
    log.info("rolled %s/%s to %s", namespace, name, push.pinned)
    return ModelRollout(namespace=namespace, name=name, image=push.pinned, result="updated")
