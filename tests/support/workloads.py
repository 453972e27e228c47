"""What the real KServe controller made of a model: its predictor's Deployment,
ReplicaSets, pods, Service and HPA, read as the admin (as JSON objects, the
way the apiserver sent them); and a bounded wait.

KServe (Standard mode) names the predictor's Deployment, Service and HPA
``<model>-predictor`` and labels its pods ``serving.kserve.io/inferenceservice:
<model>``; the controller-manager makes the ReplicaSets and pods, the scheduler
binds them to kwok's nodes, kwok runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

_T = TypeVar("_T")
MODEL_LABEL = "serving.kserve.io/inferenceservice"


def wait_for(
    probe: Callable[[], _T | None], *, timeout: float = 30.0, what: str, interval: float = 0.2
) -> _T:
    """Poll ``probe`` until it returns something other than None; fail after ``timeout``.

    The assertion message names ``what`` was awaited and the last value seen
    is in the probe's hands: make it return None until the state is reached.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout:g}s")
        time.sleep(interval)


def predictor_name(model: str) -> str:
    """KServe's name for a model's predictor Deployment, Service and HPA."""
    return f"{model}-predictor"


JSON = dict[str, Any]


def deployment(api: client.ApiClient, namespace: str, model: str) -> JSON | None:
    """The predictor Deployment of ``model``, or None while absent."""
    apps = client.AppsV1Api(api)
    return _read(api, lambda: apps.read_namespaced_deployment(predictor_name(model), namespace))


def service(api: client.ApiClient, namespace: str, model: str) -> JSON | None:
    """The predictor Service of ``model``, or None while absent."""
    core = client.CoreV1Api(api)
    return _read(api, lambda: core.read_namespaced_service(predictor_name(model), namespace))


def autoscaler(api: client.ApiClient, namespace: str, model: str) -> JSON | None:
    """The predictor HPA of ``model``, or None while absent."""
    autoscaling = client.AutoscalingV2Api(api)
    return _read(
        api,
        lambda: autoscaling.read_namespaced_horizontal_pod_autoscaler(
            predictor_name(model), namespace
        ),
    )


def replica_sets(api: client.ApiClient, namespace: str, model: str) -> list[JSON]:
    """The ReplicaSets of ``model``'s predictor, one per rolled-out pod template."""
    listed = client.AppsV1Api(api).list_namespaced_replica_set(
        namespace, label_selector=f"{MODEL_LABEL}={model}"
    )
    return _json_items(api, listed)


def pods(api: client.ApiClient, namespace: str, model: str) -> list[JSON]:
    """The pods of ``model``'s predictor."""
    listed = client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"{MODEL_LABEL}={model}"
    )
    return _json_items(api, listed)


def has_condition(found: JSON | None, kind: str, *, status: str = "True") -> bool:
    """``found`` (any object with ``status.conditions``) has condition ``kind`` at ``status``."""
    conditions = ((found or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == status for c in conditions)


def _json(api: client.ApiClient, model: object) -> JSON:
    found = api.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]
    assert isinstance(found, dict)
    return found


def _json_items(api: client.ApiClient, listed: object) -> list[JSON]:
    return list(_json(api, listed).get("items") or [])


def _read(api: client.ApiClient, read: Callable[[], object]) -> JSON | None:
    try:
        return _json(api, read())
    except ApiException as e:
        if e.status == 404:
            return None
        raise


# kwok's Stage (tools/controlplane/src/controlplane/stages/kwok-stages.yaml)
# crashes the kserve-container of pods with this label, with this exit code and
# termination message; KServe copies a model's labels and annotations to its pods.
CRASH_LABEL = "kwok.kserve-functions.dev/simulate"
CRASH_EXIT_CODE = "kwok.kserve-functions.dev/exit-code"
CRASH_MESSAGE = "kwok.kserve-functions.dev/message"


def crash_looping(message: str = "", exit_code: int = 1) -> dict[str, Any]:
    """The ``labels`` and ``annotations`` of a model whose container crashes in a loop."""
    annotations = {CRASH_EXIT_CODE: str(exit_code)}
    if message:
        annotations[CRASH_MESSAGE] = message
    return {"labels": {CRASH_LABEL: "crash-loop"}, "annotations": annotations}
