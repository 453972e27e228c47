"""The API against the real KServe controller: models go Ready, roll, fail and go away.

Everything a model's status says here was written by KServe v0.20.0 itself
(Standard mode), from a Deployment the real controller-manager rolled out,
pods the real scheduler placed on kwok's nodes and kwok ran (or crashed).
Nothing in these tests writes a status.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kubernetes import client
from support import workloads
from support.objects import inference_service_names, read_inference_service
from support.problems import assert_problem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WAIT = {"wait": "true", "timeout": "60"}
# No node has more than 8 GPUs: a pod asking for 16 fits nowhere.
TOO_MANY_GPUS = {"limits": {"nvidia.com/gpu": "16"}, "requests": {"nvidia.com/gpu": "16"}}


async def test_custom_container_model_goes_ready_as_kserve_reports_it(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    answer = await api("deploy").post(
        "/deploy", params=WAIT, json={"name": "iris", "image": "r/m:1", "namespace": namespace}
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["ready"] is True
    stored = read_inference_service(admin_api, namespace, "iris")
    # The URL KServe wrote (Standard mode: the ingress domainTemplate), and the API agrees.
    assert stored["status"]["url"] == f"http://iris-{namespace}.example.com"
    assert answer.json()["url"] == stored["status"]["url"]
    assert workloads.has_condition(workloads.deployment(admin_api, namespace, "iris"), "Available")
    assert workloads.service(admin_api, namespace, "iris") is not None
    assert workloads.autoscaler(admin_api, namespace, "iris") is not None
    [pod] = workloads.pods(admin_api, namespace, "iris")
    assert pod["status"]["phase"] == "Running"
    assert workloads.has_condition(pod, "Ready")
    assert pod["spec"]["nodeName"].startswith("kwok-")

    detail = (await api("models").get(f"/models/{namespace}/iris")).json()
    assert (detail["ready"], detail["url"]) == (True, stored["status"]["url"])
    assert detail["deploymentMode"] == "Standard"
    assert detail["generation"] == 1
    # KServe's observedGeneration is its Deployment's (PropagateRawStatus), shown as written.
    found = workloads.deployment(admin_api, namespace, "iris")
    assert found is not None
    assert detail["observedGeneration"] == found["status"]["observedGeneration"]
    assert {c["type"]: c["status"] for c in detail["conditions"]} == {
        c["type"]: c["status"] for c in stored["status"]["conditions"]
    }
    assert detail["modelStatus"] == stored["status"]["modelStatus"]
    assert detail["modelStatus"]["states"]["activeModelState"] == "Loaded"


async def test_model_format_is_served_by_kserves_cluster_serving_runtime(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    body = {
        "name": "sk",
        "namespace": namespace,
        "modelFormat": {"name": "sklearn"},
        "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
    }
    answer = await api("deploy").post("/deploy", params=WAIT, json=body)

    assert answer.status_code == 201, answer.text
    assert answer.json()["ready"] is True
    found = workloads.deployment(admin_api, namespace, "sk")
    assert found is not None
    containers = found["spec"]["template"]["spec"]["containers"]
    [container] = [c for c in containers if c["name"] == "kserve-container"]
    assert container["image"] == "kserve/sklearnserver:latest"  # kserve-sklearnserver's image
    # KServe's pod mutator (a webhook of its own) added the storage initializer.
    [pod] = workloads.pods(admin_api, namespace, "sk")
    assert [c["name"] for c in pod["spec"].get("initContainers", [])] == ["storage-initializer"]


async def test_update_rolls_a_new_generation_and_wait_sees_it_ready(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    body = {"name": "rolling", "image": "r/m:1", "namespace": namespace}
    first = await deploy.post("/deploy", params=WAIT, json=body)
    assert (first.status_code, first.json()["ready"]) == (201, True)

    second = await deploy.post(
        "/deploy", params=WAIT, json={**body, "envs": {"MODEL_VERSION": "2"}}
    )

    assert second.status_code == 200, second.text
    assert (second.json()["generation"], second.json()["ready"]) == (2, True)
    stored = read_inference_service(admin_api, namespace, "rolling")
    replica_sets = workloads.replica_sets(admin_api, namespace, "rolling")
    assert len(replica_sets) == 2
    # Ready means the new spec serves: the Deployment finished rolling it out.
    found = workloads.deployment(admin_api, namespace, "rolling")
    assert found is not None
    assert stored["status"]["observedGeneration"] == found["status"]["observedGeneration"]
    progressing = next(c for c in found["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    newest = max(
        replica_sets,
        key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
    )
    assert newest["status"].get("readyReplicas") == newest["spec"]["replicas"] == 1


async def test_a_retry_with_the_same_idempotency_key_creates_no_replica_set(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    body = {"name": "retried", "image": "r/m:1", "namespace": namespace}
    key = {"Idempotency-Key": "build-4711"}
    first = await deploy.post("/deploy", params=WAIT, json=body, headers=key)
    assert first.status_code == 201, first.text

    retry = await deploy.post("/deploy", params=WAIT, json=body, headers=key)

    assert (retry.status_code, retry.json()["generation"], retry.json()["ready"]) == (200, 1, True)
    assert len(workloads.replica_sets(admin_api, namespace, "retried")) == 1


async def test_a_crashing_model_is_not_ready_with_kserves_reason_and_the_message(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    message = "model file /mnt/models/model.joblib is corrupt"
    body = {
        "name": "broken",
        "image": "r/m:1",
        "namespace": namespace,
        **workloads.crash_looping(message, exit_code=3),
    }
    answer = await api("deploy").post("/deploy", params={"wait": "true", "timeout": "5"}, json=body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["ready"] is False

    def failure() -> dict[str, Any] | None:
        stored = read_inference_service(admin_api, namespace, "broken")
        info = stored.get("status", {}).get("modelStatus", {}).get("lastFailureInfo")
        return info if isinstance(info, dict) else None

    info = workloads.wait_for(failure, what="KServe reporting the failed load")
    assert (info["reason"], info["message"], info["exitCode"]) == ("ModelLoadFailed", message, 3)

    detail = (await api("models").get(f"/models/{namespace}/broken")).json()
    assert (detail["ready"], detail["reason"], detail["message"]) == (
        False,
        "ModelLoadFailed",
        f"{message} (exit code 3)",
    )
    assert detail["modelStatus"]["lastFailureInfo"] == info
    listed = (await api("models").get("/models", params={"namespace": namespace})).json()
    [model] = listed["models"]
    assert (model["ready"], model["reason"]) == (False, "ModelLoadFailed")


async def test_a_model_that_cannot_be_scheduled_is_not_ready_with_a_reason(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    body = {"name": "greedy", "image": "r/m:1", "namespace": namespace, "resources": TOO_MANY_GPUS}
    answer = await api("deploy").post("/deploy", json=body)
    assert answer.status_code == 201, answer.text

    def unschedulable() -> dict[str, Any] | None:
        for pod in workloads.pods(admin_api, namespace, "greedy"):
            for condition in pod["status"].get("conditions", []):
                if condition["type"] == "PodScheduled" and condition["reason"] == "Unschedulable":
                    return pod
        return None

    pod = workloads.wait_for(unschedulable, what="the scheduler refusing the pod")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")

    detail = (await api("models").get(f"/models/{namespace}/greedy")).json()
    # KServe says only that its Deployment has no available pod; the pod says why,
    # and the detail reads it (a list reads KServe's status alone).
    assert (detail["ready"], detail["state"], detail["reason"], detail["message"]) == (
        False,
        "failed",
        "Unschedulable",
        scheduled["message"],
    )
    assert "nvidia.com/gpu" in detail["message"]

    def kserve_saw_no_available_pod() -> str | None:
        # KServe copies the Deployment's conditions on its next reconcile: first
        # "NewReplicaSetCreated" (progressing), then the Deployment's unavailability.
        stored = read_inference_service(admin_api, namespace, "greedy")
        conditions = stored.get("status", {}).get("conditions", [])
        reasons = {c.get("reason") for c in conditions if c["type"] == "Ready"}
        return "MinimumReplicasUnavailable" if "MinimumReplicasUnavailable" in reasons else None

    workloads.wait_for(kserve_saw_no_available_pod, what="KServe reporting no available pod")
    listed = (await api("models").get("/models", params={"namespace": namespace})).json()
    [model] = listed["models"]
    assert (model["state"], model["reason"]) == ("starting", "MinimumReplicasUnavailable")


async def test_kserves_webhook_refusal_is_a_422_problem_and_creates_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    # The CRD schema takes any env var; KServe's validator blocks PYTHONPATH
    # (pkg/validation/env_policy.go), which would let a model import other code.
    body = {"name": "pyp", "image": "r/m:1", "namespace": namespace, "envs": {"PYTHONPATH": "/x"}}

    problem = assert_problem(await api("deploy").post("/deploy", json=body), 422)

    assert problem["detail"].startswith(f"KServe refused model {namespace}/pyp: ")
    assert "PYTHONPATH" in problem["detail"]
    assert inference_service_names(admin_api, namespace) == []


async def test_kserves_refusal_of_an_update_leaves_the_model_as_it_was(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    body = {"name": "fixed", "image": "r/m:1", "namespace": namespace}
    assert (await api("deploy").post("/deploy", params=WAIT, json=body)).status_code == 201
    before = read_inference_service(admin_api, namespace, "fixed")

    # KServe refuses to move a model between deployment modes once it runs: a valid
    # request that conflicts with the model as it is (409, not 422).
    answer = await api("deploy").post("/deploy", json={**body, "deploymentMode": "Knative"})

    problem = assert_problem(answer, 409)
    assert "deploymentMode cannot be changed from 'Standard' to 'Knative'" in problem["detail"]
    after = read_inference_service(admin_api, namespace, "fixed")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["annotations"] == before["metadata"]["annotations"]


async def test_delete_waits_until_kserves_objects_are_collected(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    body = {"name": "bye", "image": "r/m:1", "namespace": namespace}
    assert (await api("deploy").post("/deploy", params=WAIT, json=body)).status_code == 201

    answer = await api("delete").delete(f"/models/{namespace}/bye", params=WAIT)

    assert answer.status_code == 200, answer.text
    assert inference_service_names(admin_api, namespace) == []
    # The garbage collector removes what KServe made, through owner references.
    workloads.wait_for(
        lambda: (
            True
            if (
                workloads.deployment(admin_api, namespace, "bye") is None
                and workloads.service(admin_api, namespace, "bye") is None
                and workloads.autoscaler(admin_api, namespace, "bye") is None
                and not workloads.pods(admin_api, namespace, "bye")
            )
            else None
        ),
        what="the Deployment, Service, HPA and pods garbage-collected",
    )


async def test_deleting_a_namespace_with_models_completes(
    api: Any, make_namespace: Any, admin_api: client.ApiClient
) -> None:
    namespace = make_namespace()
    body = {"name": "doomed", "image": "r/m:1", "namespace": namespace}
    assert (await api("deploy").post("/deploy", params=WAIT, json=body)).status_code == 201
    core = client.CoreV1Api(admin_api)

    core.delete_namespace(namespace)

    def gone() -> bool | None:
        try:
            core.read_namespace(namespace)
        except client.ApiException as e:
            return True if e.status == 404 else None
        return None

    workloads.wait_for(gone, timeout=60, what=f"namespace {namespace} deleted")


async def test_a_webhook_that_does_not_answer_is_a_503_with_retry_after(
    api: Any, kserve_webhook_down: str, admin_api: client.ApiClient
) -> None:
    namespace = kserve_webhook_down
    body = {"name": "later", "image": "r/m:1", "namespace": namespace}

    answer = await api("deploy").post("/deploy", json=body)

    problem = assert_problem(answer, 503)
    assert answer.headers["retry-after"]
    assert "admission webhook did not answer" in problem["detail"]
    _assert_nothing_written(admin_api, namespace)


def _assert_nothing_written(admin_api: client.ApiClient, namespace: str) -> None:
    """Nothing half-created: no model, and none of what a deploy writes after it
    (its revision in the history, its Event)."""
    assert inference_service_names(admin_api, namespace) == []
    revisions = client.AppsV1Api(admin_api).list_namespaced_controller_revision(namespace)
    assert revisions.items == []
    assert client.EventsV1Api(admin_api).list_namespaced_event(namespace).items == []


async def test_a_deploy_event_while_the_webhook_does_not_answer_is_redelivered(
    api: Any, kserve_webhook_down: str, admin_api: client.ApiClient
) -> None:
    namespace = kserve_webhook_down
    event_headers = {
        "ce-specversion": "1.0",
        "ce-id": "build-1",
        "ce-source": "/ci/pipeline",
        "ce-type": "dev.kserve-functions.model.deploy",
    }
    body = {"name": "later", "image": "r/m:1", "namespace": namespace}

    answer = await api("deploy").post("/", json=body, headers=event_headers)

    # Not a .failed reply: a 503 makes the Broker deliver the event again later.
    problem = assert_problem(answer, 503)
    assert "admission webhook did not answer" in problem["detail"]
    _assert_nothing_written(admin_api, namespace)
