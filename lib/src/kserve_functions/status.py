"""Read an InferenceService object into the API's answers (DESIGN §3).

The objects read here are written by the KServe controller (``status``), by this
API, and by anyone else with access: ``kubectl``, GitOps tools, older KServe
versions. So every field may be missing or of an unexpected type, and a listing
must not fail because one object in the namespace is odd. The readers never
raise on such input; what they cannot read comes back as ``None`` or empty.

Pure: no client, no clock, no environment. The caller passes the object as the
apiserver returned it (a JSON mapping) and the configured URL template and domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kserve_functions.models import Condition, ModelDetail, ModelSummary, TrafficTarget
from kserve_functions.resources import DEPLOYMENT_MODE_ANNOTATION, KSERVE_CONTAINER, STORAGE_URI_ENV

DEFAULT_URL_TEMPLATE = "http://{name}.{namespace}.{domain}"
"""Knative's default host shape, used until KServe reports ``status.url``."""


PENDING_REASON = "Pending"
PENDING_MESSAGE = "the KServe controller has not reported status yet"
ROLLOUT_REASON = "RolloutInProgress"

# How an env var set by reference (``valueFrom``) is shown: its source, never its
# value. The API does not read Secrets or ConfigMaps, and must not leak them.
_ENV_REFERENCE_KINDS = {
    "secretKeyRef": "secret",
    "configMapKeyRef": "configMap",
    "fieldRef": "field",
    "resourceFieldRef": "resource",
}
ENV_REFERENCE_UNKNOWN = "(from a reference)"


def is_ready(isvc: Mapping[str, Any]) -> bool:
    """Whether the model serves its current spec.

    True when the ``Ready`` condition is ``"True"`` and ``status.observedGeneration``
    is at least ``metadata.generation``: KServe keeps the previous Ready while it
    reconciles a new spec, so an old Ready must not count for a new spec. A missing
    status, Ready condition or observedGeneration gives False. A missing
    ``metadata.generation`` (the apiserver always sets it; only hand-built objects
    lack it) leaves no newer spec to be stale against, so Ready decides.
    """
    ready = _condition(isvc, "Ready")
    if ready is None or ready.get("status") != "True":
        return False
    observed = _int(_get(isvc, "status", "observedGeneration"))
    if observed is None:
        return False
    generation = _int(_get(isvc, "metadata", "generation"))
    return generation is None or observed >= generation


def model_url(isvc: Mapping[str, Any], *, url_template: str, domain: str) -> str:
    """The model's URL: ``status.url`` once KServe has set it, else the template's.

    ``url_template`` is formatted with ``name``, ``namespace`` and ``domain``; a
    template with other placeholders raises ``KeyError`` (configuration is
    validated when the function starts, not per object).
    """
    reported = _str(_get(isvc, "status", "url"))
    if reported:
        return reported
    return url_template.format(name=_name(isvc), namespace=_namespace(isvc), domain=domain)


def read_summary(isvc: Mapping[str, Any], *, url_template: str, domain: str) -> ModelSummary:
    """One ``GET /models`` item: the seed's ``name, namespace, url, ready`` plus additions.

    ``reason``/``message`` are set only when the model is not ready (see
    ``_not_ready_because``); ``createdAt`` is ``metadata.creationTimestamp`` as given.
    """
    ready = is_ready(isvc)
    reason, message = (None, None) if ready else _not_ready_because(isvc)
    return ModelSummary(
        name=_name(isvc),
        namespace=_namespace(isvc),
        url=model_url(isvc, url_template=url_template, domain=domain),
        ready=ready,
        image=_image(isvc),
        modelFormat=_str(_get(isvc, "spec", "predictor", "model", "modelFormat", "name")),
        reason=reason,
        message=message,
        createdAt=_str(_get(isvc, "metadata", "creationTimestamp")),
    )


def read_detail(isvc: Mapping[str, Any], *, url_template: str, domain: str) -> ModelDetail:
    """The ``GET /models/{namespace}/{name}`` answer: the summary plus spec and status details.

    Env vars set by reference (``valueFrom``) are shown as a placeholder naming the
    source, e.g. ``(from secret creds/token)``, ``(from configMap settings/level)``,
    ``(from field metadata.name)``, ``(from resource limits.cpu)``, or
    ``(from a reference)``; they are never resolved.
    """
    summary = read_summary(isvc, url_template=url_template, domain=domain)
    predictor = _get(isvc, "spec", "predictor")
    components = _get(isvc, "status", "components", "predictor")
    serving = _serving_spec(isvc)
    return ModelDetail(
        name=summary.name,
        namespace=summary.namespace,
        url=summary.url,
        ready=summary.ready,
        image=summary.image,
        modelFormat=summary.model_format,
        reason=summary.reason,
        message=summary.message,
        createdAt=summary.created_at,
        generation=_int(_get(isvc, "metadata", "generation")),
        observedGeneration=_int(_get(isvc, "status", "observedGeneration")),
        conditions=_conditions(isvc),
        latestCreatedRevision=_str(_get(components, "latestCreatedRevision")),
        latestReadyRevision=_str(_get(components, "latestReadyRevision")),
        traffic=_traffic(_get(components, "traffic")),
        # modelStatus is passed on as KServe wrote it: its states and
        # lastFailureInfo (reason, message, location, exitCode) explain a failed load.
        modelStatus=_json_object(_get(isvc, "status", "modelStatus")),
        envs=_envs(_get(serving, "env")),
        resources=_json_object(_get(serving, "resources")),
        storageUri=_storage_uri(isvc),
        runtime=_str(_get(predictor, "model", "runtime")),
        deploymentMode=_deployment_mode(isvc),
        minReplicas=_int(_get(predictor, "minReplicas")),
        maxReplicas=_int(_get(predictor, "maxReplicas")),
        canaryTrafficPercent=_int(_get(predictor, "canaryTrafficPercent")),
        labels=_str_dict(_get(isvc, "metadata", "labels")),
        annotations=_str_dict(_get(isvc, "metadata", "annotations")),
    )


def _not_ready_because(isvc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(reason, message)`` for a model that ``is_ready`` calls not ready."""
    ready = _condition(isvc, "Ready")
    if ready is None:
        return PENDING_REASON, PENDING_MESSAGE
    if ready.get("status") != "True":
        return _str(ready.get("reason")), _str(ready.get("message"))
    # Ready is True but describes an older spec than the current one.
    generation = _int(_get(isvc, "metadata", "generation"))
    observed = _int(_get(isvc, "status", "observedGeneration"))
    wanted = f"generation {generation}" if generation is not None else "the current generation"
    seen = f" (observed: {observed})" if observed is not None else ""
    return ROLLOUT_REASON, f"the KServe controller has not yet observed {wanted}{seen}"


def _name(isvc: Mapping[str, Any]) -> str:
    return _str(_get(isvc, "metadata", "name")) or ""


def _namespace(isvc: Mapping[str, Any]) -> str:
    return _str(_get(isvc, "metadata", "namespace")) or ""


def _condition(isvc: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type ``kind`` (Knative keeps one per type), if any."""
    for condition in _mappings(_get(isvc, "status", "conditions")):
        if condition.get("type") == kind:
            return condition
    return None


def _conditions(isvc: Mapping[str, Any]) -> list[Condition]:
    """All readable conditions; items without a string ``type`` are skipped.

    A condition without a string ``status`` is reported ``"Unknown"``, the value
    Kubernetes uses when a condition cannot be determined.
    """
    return [
        Condition(
            type=kind,
            status=_str(condition.get("status")) or "Unknown",
            reason=_str(condition.get("reason")),
            message=_str(condition.get("message")),
            lastTransitionTime=_str(condition.get("lastTransitionTime")),
        )
        for condition in _mappings(_get(isvc, "status", "conditions"))
        if (kind := _str(condition.get("type"))) is not None
    ]


def _traffic(value: object) -> list[TrafficTarget]:
    return [
        TrafficTarget(
            revisionName=_str(target.get("revisionName")),
            percent=_int(target.get("percent")),
            latestRevision=_bool(target.get("latestRevision")),
            tag=_str(target.get("tag")),
        )
        for target in _mappings(value)
    ]


def _predictor_container(isvc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The custom predictor container: the one named ``kserve-container``, else the first."""
    containers = _mappings(_get(isvc, "spec", "predictor", "containers"))
    for container in containers:
        if container.get("name") == KSERVE_CONTAINER:
            return container
    return containers[0] if containers else None


def _serving_spec(isvc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Where env and resources live: the custom container, else ``spec.predictor.model``.

    KServe's model spec embeds a container spec, so a model-format predictor
    carries ``env`` and ``resources`` on ``spec.predictor.model``.
    """
    container = _predictor_container(isvc)
    if container is not None:
        return container
    model = _get(isvc, "spec", "predictor", "model")
    return model if isinstance(model, Mapping) else None


def _image(isvc: Mapping[str, Any]) -> str | None:
    return _str(_get(_predictor_container(isvc), "image"))


def _envs(value: object) -> dict[str, str]:
    """``name -> value`` of a container's ``env``; references shown, never resolved.

    An entry with neither ``value`` nor ``valueFrom`` is the empty string, as in
    Kubernetes. A later entry with the same name wins, as in the container.
    """
    envs: dict[str, str] = {}
    for entry in _mappings(value):
        name = _str(entry.get("name"))
        if name is None:
            continue
        reference = entry.get("valueFrom")
        if isinstance(reference, Mapping):
            envs[name] = _env_reference(reference)
        else:
            envs[name] = _str(entry.get("value")) or ""
    return envs


def _env_reference(reference: Mapping[str, Any]) -> str:
    """The placeholder for a ``valueFrom``: its kind and what it points at."""
    for key, kind in _ENV_REFERENCE_KINDS.items():
        source = reference.get(key)
        if not isinstance(source, Mapping):
            continue
        if key == "fieldRef":
            target = _str(source.get("fieldPath"))
        elif key == "resourceFieldRef":
            target = _str(source.get("resource"))
        else:
            name, item = _str(source.get("name")), _str(source.get("key"))
            target = f"{name}/{item}" if name is not None and item is not None else None
        return f"(from {kind} {target})" if target else f"(from {kind})"
    return ENV_REFERENCE_UNKNOWN


def _storage_uri(isvc: Mapping[str, Any]) -> str | None:
    """``spec.predictor.model.storageUri``, else a literal ``STORAGE_URI`` of the container."""
    declared = _str(_get(isvc, "spec", "predictor", "model", "storageUri"))
    if declared is not None:
        return declared
    for entry in _mappings(_get(_predictor_container(isvc), "env")):
        # A STORAGE_URI from a Secret is not shown: it may carry credentials.
        if entry.get("name") == STORAGE_URI_ENV and "valueFrom" not in entry:
            return _str(entry.get("value"))
    return None


def _deployment_mode(isvc: Mapping[str, Any]) -> str | None:
    """The annotation the user set, else the mode KServe reports it chose.

    KServe decides the mode from the annotation or, without one, from its
    cluster-wide default, and writes its choice to ``status.deploymentMode``.
    """
    annotated = _str(_get(isvc, "metadata", "annotations", DEPLOYMENT_MODE_ANNOTATION))
    return annotated if annotated is not None else _str(_get(isvc, "status", "deploymentMode"))


# Safe access to JSON of unknown shape: each returns None or empty instead of raising.


def _get(value: object, *path: str) -> object:
    """``value[path[0]][path[1]]...``, or None when a step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    # bool is an int in Python, but never a generation, replica count or percent.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _mappings(value: object) -> list[Mapping[str, Any]]:
    """The mapping items of a JSON list; anything else in it, or a non-list, is dropped."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _json_object(value: object) -> dict[str, Any] | None:
    """A JSON object as a dict with its string keys, or None when ``value`` is not one."""
    if not isinstance(value, Mapping):
        return None
    return {key: item for key, item in value.items() if isinstance(key, str)}


def _str_dict(value: object) -> dict[str, str]:
    """The string-to-string entries of a mapping (labels, annotations); others dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {
        key: item for key, item in value.items() if isinstance(key, str) and isinstance(item, str)
    }
