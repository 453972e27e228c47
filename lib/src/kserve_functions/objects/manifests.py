"""Build the InferenceService a deploy request asks for (DESIGN §3, FACTS "KServe").

The deploy operation sends this dict as one server-side apply, so it is the
*whole* desired state of the fields this project owns: a field applied before
and left out now is removed by the apiserver (an env var dropped from the
request disappears from the container). The builder therefore emits only what
the request says, never a None or an empty placeholder, and stays pure: no
client, clock, randomness or environment, so the exact manifest can be asserted
in unit tests and checked against the real CRD schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from kserve_functions.core import fields, merging, resources
from kserve_functions.core.models import (
    RESERVED_PREFIX,
    DeployRequest,
    ModelFormat,
    ResourceRequirements,
)

# Label and annotation keys this project writes itself live under RESERVED_PREFIX;
# DeployRequest refuses caller keys there, so these cannot be forged.
RESTART_TOKEN_ANNOTATION = resources.RESTART_TOKEN_ANNOTATION

AUTO_UPDATE_LABEL = f"{RESERVED_PREFIX}auto-update"
"""In ``metadata.labels`` (value ``"true"``): registry pushes may roll this model (§5)."""

TRACKED_IMAGE_ANNOTATION = f"{RESERVED_PREFIX}tracked-image"
"""In ``metadata.annotations``: the image as requested (``repo:tag``), which pushes match."""

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kserve-functions"
DEPLOYMENT_MODE_ANNOTATION = resources.DEPLOYMENT_MODE_ANNOTATION
KSERVE_CONTAINER = resources.KSERVE_CONTAINER
STORAGE_URI_ENV = resources.STORAGE_URI_ENV

CANARY_PREDICTOR_NAME = resources.CANARY_PREDICTOR_NAME
"""``predictor.name`` of the Standard-mode canary entry: KServe names its Deployment
``{model}-canary-predictor``."""

AUTO_PROMOTE_ANNOTATION = resources.AUTO_PROMOTE_ANNOTATION

KNATIVE_MODES = frozenset({"Knative", "Serverless"})
"""Deployment modes whose canary is Knative's ``canaryTrafficPercent``."""


def build_inference_service(
    request: DeployRequest,
    *,
    restart_token: str,
    audit_annotations: Mapping[str, str] | None = None,
    knative: bool | None = None,
) -> dict[str, Any]:
    """Return the ``serving.kserve.io/v1beta1`` InferenceService for ``request``.

    A request with ``canary`` gets the canary of the model's mode (``knative``;
    None: decided by ``request.deploymentMode``, Knative for ``Knative`` and
    ``Serverless``, else Standard). Standard: the stable predictor as requested
    plus ``spec.canary[0]`` (KServe v0.20), a predictor named
    ``CANARY_PREDICTOR_NAME`` with the canary's container or model and its
    ``trafficPercent``, without the autoscaling fields KServe's webhook refuses
    on a canary (it runs fixed replicas). Knative: the predictor is the canary's
    with ``canaryTrafficPercent``, since Knative keeps the previous revision as
    the stable one.

    ``restart_token`` goes into ``spec.predictor.annotations``; a value that differs
    from the one applied before makes KServe roll a new revision even when nothing
    else changed (the seed's "update triggers restart"). The same token applied
    twice changes nothing, which is how a retried request avoids a second restart.

    The result holds no None values and no empty maps or lists for absent optional
    fields: under server-side apply an omitted field is a removed field.

    ``audit_annotations`` (``audit.change_annotations``) record who changed the model;
    they are set after the request's own annotations, under the reserved prefix
    a request may not use.

    Raises:
        ValueError: ``restart_token`` is empty (a caller that forgot to make one would
            silently lose the restart-on-update guarantee).
    """
    if not restart_token:
        raise ValueError("restart_token must be a non-empty string")

    # A predictor annotation is part of the spec, so a new token bumps
    # metadata.generation, and KServe copies it onto the pod template, so the pods
    # roll. (KServe copies metadata.annotations there too, in Standard mode, except
    # the keys of its serviceAnnotationDisallowedList; but they bump no generation.)
    canary_request = request.canary_request()
    spec: dict[str, Any] = {}
    if canary_request is None or request.canary is None:
        spec["predictor"] = _predictor(request, restart_token)
    elif (request.deployment_mode in KNATIVE_MODES) if knative is None else knative:
        predictor = _predictor(canary_request, restart_token)
        predictor["canaryTrafficPercent"] = request.canary.traffic_percent
        spec["predictor"] = predictor
    else:
        canary_predictor: dict[str, Any] = {"name": CANARY_PREDICTOR_NAME}
        if request.canary.auto_promote is not None:
            # On the canary's own predictor: KServe puts it on the canary's pods only,
            # so the stable pods do not roll for it.
            after = str(request.canary.auto_promote.after_seconds)
            canary_predictor["annotations"] = {AUTO_PROMOTE_ANNOTATION: after}
        canary_predictor.update(_implementation(canary_request))
        spec["predictor"] = _predictor(request, restart_token)
        spec["canary"] = [
            {"predictor": canary_predictor, "trafficPercent": request.canary.traffic_percent}
        ]

    metadata: dict[str, Any] = {
        "name": request.name,
        "namespace": request.namespace,
        "labels": _labels(request),
    }
    annotations = {**_annotations(request), **(audit_annotations or {})}
    if annotations:
        metadata["annotations"] = annotations

    return {
        "apiVersion": resources.INFERENCE_SERVICE.api_version,
        "kind": resources.INFERENCE_SERVICE.kind,
        "metadata": metadata,
        "spec": spec,
    }


def _predictor(request: DeployRequest, restart_token: str) -> dict[str, Any]:
    predictor: dict[str, Any] = {"annotations": {RESTART_TOKEN_ANNOTATION: restart_token}}
    predictor.update(_predictor_options(request))
    predictor.update(_implementation(request))
    return predictor


def _implementation(request: DeployRequest) -> dict[str, Any]:
    """``model`` or ``containers``: what the predictor runs."""
    # DeployRequest guarantees exactly one of modelFormat and image.
    if request.model_format is not None:
        return {"model": _model(request, request.model_format)}
    if request.image is not None:
        return {"containers": [_container(request, request.image)]}
    return {}


def _labels(request: DeployRequest) -> dict[str, str]:
    labels = dict(request.labels)
    # Our keys are set after the caller's, so ours win on a clash: managed-by is how
    # this project finds its own InferenceServices.
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if request.auto_update:
        labels[AUTO_UPDATE_LABEL] = "true"
    return labels


def _annotations(request: DeployRequest) -> dict[str, str]:
    annotations = dict(request.annotations)
    # Set after the caller's, so the request's own fields win over raw annotations.
    if request.deployment_mode is not None:
        annotations[DEPLOYMENT_MODE_ANNOTATION] = request.deployment_mode
    if request.auto_update and request.image is not None:
        annotations[TRACKED_IMAGE_ANNOTATION] = request.image
    return annotations


def _predictor_options(request: DeployRequest) -> dict[str, Any]:
    options: dict[str, Any] = {
        "minReplicas": request.min_replicas,
        "maxReplicas": request.max_replicas,
        "scaleTarget": request.scale_target,
        "scaleMetric": request.scale_metric,
        "canaryTrafficPercent": request.canary_traffic_percent,
        "serviceAccountName": request.service_account_name,
        # An empty nodeSelector given explicitly is dropped like an absent one: both
        # mean "schedule anywhere", and SSA then removes one we applied before.
        "nodeSelector": dict(request.node_selector) if request.node_selector else None,
        "tolerations": [
            toleration.model_dump(by_alias=True, exclude_none=True)
            for toleration in request.tolerations
        ]
        if request.tolerations
        else None,
    }
    return {key: value for key, value in options.items() if value is not None}


def _model(request: DeployRequest, model_format: ModelFormat) -> dict[str, Any]:
    model: dict[str, Any] = {
        "modelFormat": model_format.model_dump(by_alias=True, exclude_none=True)
    }
    if request.runtime is not None:
        model["runtime"] = request.runtime
    if request.storage_uri is not None:
        model["storageUri"] = request.storage_uri
    model.update(_process(request, env=_env(request.envs)))
    return model


def _container(request: DeployRequest, image: str) -> dict[str, Any]:
    env = _env(request.envs)
    # Kubernetes rejects duplicate env names, so an explicit STORAGE_URI in envs wins
    # over storageUri: the caller said both, and envs is the more specific of the two.
    if request.storage_uri is not None and STORAGE_URI_ENV not in request.envs:
        env.append({"name": STORAGE_URI_ENV, "value": request.storage_uri})
    container: dict[str, Any] = {
        "name": KSERVE_CONTAINER,
        "image": image,
        # A tag can be pushed again with new content: pull on every start, so a
        # restart after an update runs what the tag names now.
        "imagePullPolicy": "Always",
    }
    container.update(_process(request, env=env))
    return container


def _env(envs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in envs.items()]


def _process(request: DeployRequest, *, env: list[dict[str, str]]) -> dict[str, Any]:
    """The container fields a custom container and a model predictor share."""
    process: dict[str, Any] = {}
    if env:
        process["env"] = env
    # An empty args list means the image's own CMD, the same as no args.
    if request.args:
        process["args"] = list(request.args)
    if request.port is not None:
        process["ports"] = [{"containerPort": request.port, "protocol": "TCP"}]
    if request.resources is not None:
        resource_fields = _resources(request.resources)
        if resource_fields:
            process["resources"] = resource_fields
    return process


def _resources(requirements: ResourceRequirements) -> dict[str, dict[str, str]]:
    halves = {"requests": requirements.requests, "limits": requirements.limits}
    return {
        half: {str(name): quantity for name, quantity in quantities.items()}
        for half, quantities in halves.items()
        if quantities
    }


# -- promote and abort: JSON patches of a running canary -------------------------

CanaryForm = Literal["Standard", "Knative"]


def running_canary(isvc: Mapping[str, Any]) -> CanaryForm | None:
    """Which canary ``isvc`` runs: ``spec.canary`` entries (Standard), a
    ``canaryTrafficPercent`` of 1-99 (Knative), or None.

    Knative's 0 routes everything to the previous revision (an aborted canary)
    and 100 everything to the latest (a promoted one): neither is a canary
    left to finish.
    """
    if fields.get(isvc, "spec", "canary"):
        return "Standard"
    percent = fields.integer(isvc, "spec", "predictor", "canaryTrafficPercent")
    if percent is not None and 0 < percent < 100:  # noqa: PLR2004 - percent bounds
        return "Knative"
    return None


def promote_operations(
    isvc: Mapping[str, Any], *, annotations: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The JSON patch that makes ``isvc``'s canary the stable predictor at 100 %.

    Standard: the stable predictor becomes the canary's as KServe builds it (the
    stable predictor with the canary entry's fields merged over it: maps merged
    key by key, other values, lists included, replaced), without the canary's
    ``name``, so the model keeps its ``{model}-predictor`` Deployment, which
    rolls to the canary's image; ``spec.canary`` is removed, and KServe deletes
    the canary Deployment. Knative: ``canaryTrafficPercent`` is removed, so the
    latest revision (the canary) takes all traffic. ``annotations`` (the audit
    record) are set too. The caller prepends the generation guard
    (``kube.patch_if_unchanged``).

    Raises:
        ValueError: ``isvc`` runs no canary (``running_canary``).
    """
    form = running_canary(isvc)
    if form == "Knative":
        operations: list[dict[str, Any]] = [
            {"op": "remove", "path": "/spec/predictor/canaryTrafficPercent"}
        ]
    elif form == "Standard":
        # A Standard canary's entries are objects (KServe's schema); the first is it.
        entry = fields.items(isvc, "spec", "canary")[0]
        canary = dict(fields.mapping(entry, "predictor"))
        canary.pop("name", None)
        promoted = merging.merged(fields.mapping(isvc, "spec", "predictor"), canary)
        # The opt-in belonged to the canary; as the stable predictor's it would be
        # read as a canary's again.
        kept = dict(fields.mapping(promoted, "annotations"))
        kept.pop(AUTO_PROMOTE_ANNOTATION, None)
        if kept:
            promoted["annotations"] = kept
        else:
            promoted.pop("annotations", None)
        operations = [
            {"op": "replace", "path": "/spec/predictor", "value": promoted},
            {"op": "remove", "path": "/spec/canary"},
        ]
    else:
        raise ValueError("the model runs no canary")
    return operations + _annotation_operations(isvc, annotations)


def abort_operations(
    isvc: Mapping[str, Any], *, annotations: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The JSON patch that removes ``isvc``'s canary, leaving the stable predictor as it is.

    Standard: ``spec.canary`` is removed (KServe deletes the canary Deployment;
    the stable predictor's spec is untouched, so its pods do not roll).
    Knative: ``canaryTrafficPercent`` becomes 0, which KServe documents as the
    rollback: all traffic goes to the last rolled-out revision (the stable one)
    while the spec still holds the canary's predictor until the next deploy.
    ``annotations`` as in ``promote_operations``.

    Raises:
        ValueError: ``isvc`` runs no canary (``running_canary``).
    """
    form = running_canary(isvc)
    if form == "Knative":
        operations: list[dict[str, Any]] = [
            {"op": "replace", "path": "/spec/predictor/canaryTrafficPercent", "value": 0}
        ]
    elif form == "Standard":
        operations = [{"op": "remove", "path": "/spec/canary"}]
    else:
        raise ValueError("the model runs no canary")
    return operations + _annotation_operations(isvc, annotations)


def _annotation_operations(
    isvc: Mapping[str, Any], annotations: Mapping[str, str]
) -> list[dict[str, Any]]:
    if not annotations:
        return []
    if not fields.get(isvc, "metadata", "annotations"):
        # JSON patch "add" needs the parent map: without one, it is added whole.
        return [{"op": "add", "path": "/metadata/annotations", "value": dict(annotations)}]
    return [
        {"op": "add", "path": "/metadata/annotations/" + _pointer(key), "value": value}
        for key, value in annotations.items()
    ]


def _pointer(key: str) -> str:
    """``key`` as one JSON Pointer segment (RFC 6901: ``~`` is ``~0``, ``/`` is ``~1``)."""
    return key.replace("~", "~0").replace("/", "~1")
