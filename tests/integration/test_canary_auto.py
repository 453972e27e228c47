"""Automatic promotion and abort of a canary (``canary.autoPromote``, issue 11 item 5).

The notify function, as two replicas, hears every change of the test's models
and their pods from a stand-in ApiServerSource through a stand-in Broker that
delivers each event to both replicas at once (as in ``test_notify.py``). A
canary that opted in is promoted once KServe reports it Ready for its
``afterSeconds``, or aborted once its pods fail (kwok's crash-loop Stage); each
outcome is one CloudEvent and one Kubernetes Event, whoever of the replicas
wins the guarded patch.
"""

from __future__ import annotations

from typing import Any

import pytest
from kserve_functions.core.models import DeployRequest
from kserve_functions.kube import KubeRequest
from kserve_functions.objects.manifests import build_inference_service
from support import workloads
from support.apiserver import send
from support.notify_rig import NotifyRig
from support.objects import read_inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PROMOTED = "dev.kserve-functions.model.promoted"
ABORTED = "dev.kserve-functions.model.aborted"
STORAGE = "gs://kfserving-examples/models/sklearn/1.0/model"


def _with_canary(namespace: str, **canary: Any) -> dict[str, Any]:
    """The InferenceService ``POST /deploy`` applies for v1 with a canary of v2."""
    request = DeployRequest.model_validate(
        {
            "name": "iris",
            "namespace": namespace,
            "image": "r/m:1",
            "storageUri": STORAGE,
            "deploymentMode": "Standard",
            "canary": {"trafficPercent": 20, "image": "r/m:2", **canary},
        }
    )
    return build_inference_service(request, restart_token="1")


async def test_a_ready_canary_is_promoted_once(notify_rig: NotifyRig) -> None:
    notify_rig.create(_with_canary(notify_rig.namespace, autoPromote={"afterSeconds": 0}))

    await notify_rig.wait_for_type(PROMOTED)
    await notify_rig.broker.settle()

    assert notify_rig.types().count(PROMOTED) == 1
    assert ABORTED not in notify_rig.types()
    [promoted] = [event for event in notify_rig.sink.events() if event.type == PROMOTED]
    assert promoted.subject == f"{notify_rig.namespace}/iris"
    assert promoted.data["image"] == "r/m:2"
    spec = read_inference_service(notify_rig.admin, notify_rig.namespace, "iris")["spec"]
    assert "canary" not in spec
    assert spec["predictor"]["containers"][0]["image"] == "r/m:2"
    # The opt-in was the canary's: the promoted predictor does not carry it on.
    assert "kserve-functions.dev/auto-promote-after-seconds" not in (
        spec["predictor"].get("annotations") or {}
    )
    # Read as JSON: the generated client's model refuses Events without an eventTime.
    path = f"/apis/events.k8s.io/v1/namespaces/{notify_rig.namespace}/events"
    found = send(notify_rig.admin, KubeRequest("GET", path, "the Events")).body["items"]
    assert [event["reason"] for event in found].count("Promoted") == 1


async def test_a_crashing_canary_is_aborted_once_and_stable_kept(notify_rig: NotifyRig) -> None:
    manifest = _with_canary(notify_rig.namespace, autoPromote={"afterSeconds": 600})
    # kwok's Stage crashes the pods carrying this label: the canary's only.
    crashing = workloads.crash_looping("corrupt v2")
    predictor = manifest["spec"]["canary"][0]["predictor"]
    predictor["labels"] = crashing["labels"]
    predictor["annotations"] = {**predictor["annotations"], **crashing["annotations"]}
    notify_rig.create(manifest)

    await notify_rig.wait_for_type(ABORTED)
    await notify_rig.broker.settle()

    assert notify_rig.types().count(ABORTED) == 1
    assert PROMOTED not in notify_rig.types()
    [aborted] = [event for event in notify_rig.sink.events() if event.type == ABORTED]
    assert "CrashLoopBackOff" in aborted.data["why"]
    stored = read_inference_service(notify_rig.admin, notify_rig.namespace, "iris")
    assert "canary" not in stored["spec"]
    assert stored["spec"]["predictor"]["containers"][0]["image"] == "r/m:1"
    stable = workloads.wait_for(
        lambda: workloads.deployment(notify_rig.admin, notify_rig.namespace, "iris"),
        what="stable Deployment",
    )
    assert workloads.has_condition(stable, "Available")


async def test_a_canary_without_the_opt_in_is_left_alone(notify_rig: NotifyRig) -> None:
    notify_rig.create(_with_canary(notify_rig.namespace))

    workloads.wait_for(
        lambda: (
            True
            if any(
                c["type"] == "CanaryPredictorReady" and c["status"] == "True"
                for c in read_inference_service(notify_rig.admin, notify_rig.namespace, "iris")
                .get("status", {})
                .get("conditions", [])
            )
            else None
        ),
        what="CanaryPredictorReady",
        timeout=60,
    )
    await notify_rig.broker.settle()

    assert PROMOTED not in notify_rig.types()
    assert (
        "canary" in read_inference_service(notify_rig.admin, notify_rig.namespace, "iris")["spec"]
    )
