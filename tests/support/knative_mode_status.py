"""A stand-in for the KServe controller, which does not run in the local cluster.

The real controller reconciles an InferenceService and reports through its
``status`` subresource: conditions, URL, revisions, traffic and model state.
Tests that need a Ready (or failed) model write that status here, through the
same subresource and in the shape KServe v0.20 writes it, so the code under
test reads exactly what it would read in a cluster.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from kserve_functions.resources import INFERENCE_SERVICE
from kubernetes import client

from support.objects import as_dict

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
    """The ``status`` KServe would write for a model that is (not) ready.

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
            "time": stamp,
            **({"location": failure.location} if failure.location else {}),
            **({"exitCode": failure.exit_code} if failure.exit_code is not None else {}),
        }
    status: dict[str, Any] = {
        "observedGeneration": generation if observed_generation is None else observed_generation,
        "conditions": conditions,
        "components": {"predictor": predictor},
        "modelStatus": model_status,
        "deploymentMode": "Serverless",
    }
    if ready or url is not None:
        status["url"] = model_url
        status["address"] = {"url": f"http://{name}.{namespace}.svc.cluster.local"}
    return status


class KServeControllerStandIn:
    """Writes InferenceService status through the status subresource, as KServe would."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api_client)

    def _write(self, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
        current = as_dict(
            self._custom.get_namespaced_custom_object(
                INFERENCE_SERVICE.group,
                INFERENCE_SERVICE.version,
                namespace,
                INFERENCE_SERVICE.plural,
                name,
            )
        )
        status = build_status(
            name=name,
            namespace=namespace,
            generation=current["metadata"]["generation"],
            now=datetime.datetime.now(datetime.UTC),
            **fields,
        )
        # Replace (not merge) the status, so nothing of an earlier write lingers;
        # the resourceVersion makes a concurrent spec change fail loudly (409).
        current["status"] = status
        return as_dict(
            self._custom.replace_namespaced_custom_object_status(
                INFERENCE_SERVICE.group,
                INFERENCE_SERVICE.version,
                namespace,
                INFERENCE_SERVICE.plural,
                name,
                current,
            )
        )

    def mark_ready(
        self,
        namespace: str,
        name: str,
        *,
        url: str | None = None,
        revision: str | None = None,
        observed_generation: int | None = None,
    ) -> dict[str, Any]:
        """Report the model Ready and serving; returns the updated object."""
        return self._write(
            namespace,
            name,
            ready=True,
            url=url,
            revision=revision,
            observed_generation=observed_generation,
        )

    def mark_not_ready(
        self,
        namespace: str,
        name: str,
        *,
        reason: str,
        message: str,
        url: str | None = None,
        failure: FailureInfo | None = None,
    ) -> dict[str, Any]:
        """Report the model not Ready with ``reason``/``message``; returns the object.

        ``url`` is absent unless given: a model that never became Ready has none,
        one that failed after serving keeps the one it had.
        """
        return self._write(
            namespace, name, ready=False, reason=reason, message=message, url=url, failure=failure
        )
