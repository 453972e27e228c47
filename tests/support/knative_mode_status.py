"""KServe's status of a Knative-mode model, built by hand: what the local cluster cannot make.

The local cluster runs the real KServe controller, in Standard mode: every
status the integration tests read comes from it. Knative mode (the default of
KServe's own install) needs Knative Serving's controllers, which do not run
here, so its status -- Knative revisions (``latestCreatedRevision``,
``latestReadyRevision``), the traffic split between them (canaries), the
``LatestDeploymentReady``/``RoutesReady`` conditions -- is never produced
locally. The unit tests of the status readers take it from ``build_status``,
in the shape KServe v0.20 writes it in Knative mode. Where Standard mode writes
the same fields (conditions, url, observedGeneration, modelStatus and its
lastFailureInfo), ``tests/integration/test_status_shapes.py`` checks this
shape against what the real controller writes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

# Conditions KServe sets on every InferenceService in Knative mode.
_COMPONENT_CONDITIONS = ("PredictorReady", "IngressReady", "LatestDeploymentReady", "RoutesReady")


@dataclass(frozen=True)
class FailureInfo:
    """``status.modelStatus.lastFailureInfo`` as KServe reports a failed load."""

    reason: str = "ModelLoadFailed"
    message: str = "model failed to load"
    location: str = ""
    exit_code: int | None = None


def build_status(
    *,
    name: str,
    namespace: str,
    generation: int,
    ready: bool,
    reason: str = "",
    message: str = "",
    url: str | None = None,
    revision: str | None = None,
    observed_generation: int | None = None,
    failure: FailureInfo | None = None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The ``status`` KServe writes for a Knative-mode model that is (not) ready.

    ``observed_generation`` defaults to ``generation`` (the controller has
    seen the current spec); pass an older one to model a spec not yet rolled out.
    """
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    flag = "True" if ready else "False"
    revision_name = revision or f"{name}-predictor-{generation:05d}"
    model_url = url or f"http://{name}.{namespace}.example.com"
    conditions = [
        {
            "type": condition,
            "status": flag,
            "lastTransitionTime": stamp,
            **({} if ready else {"reason": reason or "NotReady", "message": message}),
        }
        for condition in ("Ready", *_COMPONENT_CONDITIONS)
    ]
    predictor: dict[str, Any] = {
        "latestCreatedRevision": revision_name,
        "url": f"http://{name}-predictor.{namespace}.example.com",
    }
    if ready:
        predictor["latestReadyRevision"] = revision_name
        predictor["traffic"] = [
            {"revisionName": revision_name, "percent": 100, "latestRevision": True}
        ]
    model_status: dict[str, Any] = {
        "transitionStatus": "UpToDate" if ready else "InProgress",
        "states": {
            "activeModelState": "Loaded" if ready else "Pending",
            "targetModelState": "Loaded",
        },
    }
    if failure is not None:
        model_status["transitionStatus"] = "BlockedByFailedLoad"
        model_status["states"]["activeModelState"] = "FailedToLoad"
        model_status["states"]["targetModelState"] = "FailedToLoad"
        model_status["lastFailureInfo"] = {
            "reason": failure.reason,
            "message": failure.message,
            **({"location": failure.location} if failure.location else {}),
            **({"exitCode": failure.exit_code} if failure.exit_code is not None else {}),
        }
    status: dict[str, Any] = {
        "observedGeneration": generation if observed_generation is None else observed_generation,
        "conditions": conditions,
        "components": {"predictor": predictor},
        "modelStatus": model_status,
        "deploymentMode": "Knative",
    }
    if ready or url is not None:
        status["url"] = model_url
        status["address"] = {"url": f"http://{name}.{namespace}.svc.cluster.local"}
    return status
