"""Every route of the API against the real KServe cluster, as a seed client uses it.

Each test runs through a function's ASGI interface and over real HTTP to the
same function served by func-python (the ``api`` fixture), so what passes here
is what Knative would serve.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from support.objects import inference_service, read_inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

SEED_DEPLOY = {
    "name": "my-model",
    "image": "registry.example.com/my-model:v1.0.0",
    "envs": {"MODEL_PATH": "/models", "LOG_LEVEL": "INFO"},
}


async def test_seed_flow_deploy_update_list_get_delete(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    root: httpx.AsyncClient = api("root")

    created = await root.post("/deploy", json={**SEED_DEPLOY, "namespace": namespace})
    assert created.status_code == 201
    # Answered before KServe reconciled: not ready yet, and the URL it will write
    # (Standard mode, the local cluster's default, which its webhook recorded).
    assert created.json() == {
        "name": "my-model",
        "namespace": namespace,
        "action": "created",
        "status": "success",
        "url": f"http://my-model-{namespace}.example.com",
        "generation": 1,
        "ready": False,
        # The one addition: the model's history entry of this change.
        "revision": 1,
    }
    stored = read_inference_service(admin_api, namespace, "my-model")
    container = stored["spec"]["predictor"]["containers"][0]
    assert container["image"] == SEED_DEPLOY["image"]
    assert container["imagePullPolicy"] == "Always"
    assert container["env"] == [
        {"name": "MODEL_PATH", "value": "/models"},
        {"name": "LOG_LEVEL", "value": "INFO"},
    ]

    # Same image tag again: an update, and a restart (a new generation, a new revision).
    updated = await root.post(
        "/deploy", params={"wait": "true"}, json={**SEED_DEPLOY, "namespace": namespace}
    )
    assert updated.status_code == 200
    assert (updated.json()["action"], updated.json()["generation"]) == ("updated", 2)
    assert updated.json()["ready"] is True

    # A list reads KServe's status alone, which may still say "rolling out" a moment
    # after the Deployment's roll-out that wait=true followed has completed.
    for _ in range(100):
        listed = await root.get("/models", params={"namespace": namespace})
        assert listed.status_code == 200
        if all(m["ready"] for m in listed.json()["models"]):
            break
        await asyncio.sleep(0.1)
    body = listed.json()
    assert body["count"] == 1
    [model] = body["models"]
    assert {k: model[k] for k in ("name", "namespace", "url", "ready")} == {
        "name": "my-model",
        "namespace": namespace,
        "url": read_inference_service(admin_api, namespace, "my-model")["status"]["url"],
        "ready": True,
    }
    assert model["image"] == SEED_DEPLOY["image"]

    before = read_inference_service(admin_api, namespace, "my-model")
    detail = await root.get(f"/models/{namespace}/my-model")
    after = read_inference_service(admin_api, namespace, "my-model")
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["ready"] is True
    # observedGeneration is what KServe wrote: its Deployment's, not the model's
    # (KServe may write it again between the reads around the detail).
    assert shown["generation"] == 2
    assert shown["observedGeneration"] in {
        before["status"]["observedGeneration"],
        after["status"]["observedGeneration"],
    }
    assert shown["envs"] == SEED_DEPLOY["envs"]
    assert {c["type"] for c in shown["conditions"]} >= {"Ready", "PredictorReady"}

    # KServe's finalizer keeps a deleted model a moment; wait=true returns once it is gone.
    deleted = await root.delete(f"/models/{namespace}/my-model", params={"wait": "true"})
    assert deleted.status_code == 200
    assert deleted.json() == {"name": "my-model", "namespace": namespace, "status": "deleted"}
    gone = await root.get(f"/models/{namespace}/my-model")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["detail"] == f"model {namespace}/my-model not found"
    again = await root.delete(f"/models/{namespace}/my-model")
    assert again.status_code == 404


async def test_seed_default_namespace_is_default(api: Any) -> None:
    listed = await api("models").get("/models")
    assert listed.status_code == 200
    assert set(listed.json()) == {"models", "count"}


@pytest.mark.parametrize(
    ("function", "method", "path", "expected"),
    [
        ("deploy", "POST", "/", 201),
        ("deploy", "POST", "/deploy", 201),
        ("models", "GET", "/", 200),
        ("models", "GET", "/models", 200),
        ("models", "GET", "/models/{namespace}/seeded", 200),
        ("delete", "DELETE", "/models/{namespace}/seeded", 200),
        ("health", "GET", "/", 200),
        ("health", "GET", "/health", 200),
    ],
)
async def test_each_function_answers_its_route_and_at_its_own_url(
    api: Any, namespace: str, function: str, method: str, path: str, expected: int
) -> None:
    root: httpx.AsyncClient = api("root")
    seeded = await root.post(
        "/deploy", json={"name": "seeded", "image": "r/m:1", "namespace": namespace}
    )
    assert seeded.status_code == 201
    body = {"name": "fresh", "image": "r/m:1", "namespace": namespace} if method == "POST" else None

    answer = await api(function).request(method, path.format(namespace=namespace), json=body)

    assert answer.status_code == expected, answer.text


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [
        ("deploy", "GET", "/deploy"),
        ("models", "POST", "/models"),
        ("delete", "GET", "/models/default/x"),
        ("root", "PUT", "/deploy"),
    ],
)
async def test_wrong_method_is_405_with_allow(
    api: Any, function: str, method: str, path: str
) -> None:
    answer = await api(function).request(method, path)
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["allow"]


@pytest.mark.parametrize("function", ["deploy", "models", "delete", "health", "root"])
async def test_unknown_path_is_404_problem(api: Any, function: str) -> None:
    answer = await api(function).get("/no/such/route/here")
    assert answer.status_code == 404
    assert answer.json()["status"] == 404


@pytest.mark.parametrize("function", ["deploy", "models", "delete", "health", "ui", "mcp", "root"])
async def test_every_function_serves_its_openapi_document(api: Any, function: str) -> None:
    answer = await api(function).get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"] == "3.1.0"
    reads = {
        "/models",
        "/models/{namespace}/{name}",
        "/models/{namespace}/{name}/logs",
        "/models/{namespace}/{name}/events",
        "/models/{namespace}/{name}/revisions",
        "/models/{namespace}/{name}/manifest",
        "/access",
    }
    writes = {
        "/deploy",
        "/models/{namespace}/{name}/rollback",
        "/models/{namespace}/{name}/stop",
        "/models/{namespace}/{name}/resume",
        "/models/{namespace}/{name}/promote",
        "/models/{namespace}/{name}/abort",
    }
    expected = {
        "deploy": {*writes, "/health"},
        "models": {*reads, "/health"},
        "delete": {"/models/{namespace}/{name}", "/health"},
        "health": {"/health"},
        # The console's files are no operation of the API.
        "ui": {"/health"},
        # POST /mcp describes itself (MCP's tools/list), not in the OpenAPI document.
        "mcp": {"/health"},
        "root": {*writes, *reads, "/health"},
    }[function]
    assert set(document["paths"]) == expected


async def test_idempotency_key_makes_a_retry_roll_no_new_revision(api: Any, namespace: str) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    body = {"name": "retried", "image": "r/m:1", "namespace": namespace}
    headers = {"Idempotency-Key": "build-4711"}

    first = await deploy.post("/deploy", json=body, headers=headers)
    retry = await deploy.post("/deploy", json=body, headers=headers)
    fresh = await deploy.post("/deploy", json=body)

    assert (first.status_code, first.json()["generation"]) == (201, 1)
    assert (retry.status_code, retry.json()["generation"]) == (200, 1)
    assert (fresh.status_code, fresh.json()["generation"]) == (200, 2)


async def test_dry_run_changes_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    answer = await api("deploy").post(
        "/deploy",
        params={"dryRun": "true"},
        json={"name": "dry", "image": "r/m:1", "namespace": namespace},
    )
    assert answer.status_code == 201
    assert answer.json()["dryRun"] is True
    with pytest.raises(client.ApiException) as missing:
        read_inference_service(admin_api, namespace, "dry")
    assert missing.value.status == 404


async def test_wait_returns_202_with_the_status_so_far_when_not_ready_in_time(
    api: Any, namespace: str
) -> None:
    # No node has 16 GPUs: the pod stays Pending, and the model never Ready.
    gpus = {"nvidia.com/gpu": "16"}
    answer = await api("deploy").post(
        "/deploy",
        params={"wait": "true", "timeout": "1"},
        json={
            "name": "slow",
            "image": "r/m:1",
            "namespace": namespace,
            "resources": {"requests": gpus, "limits": gpus},
        },
    )
    assert answer.status_code == 202
    assert answer.json()["ready"] is False


async def test_wait_returns_when_the_model_becomes_ready(api: Any, namespace: str) -> None:
    body = {"name": "quick", "image": "r/m:1", "namespace": namespace}

    answer = await api("deploy").post(
        "/deploy", params={"wait": "true", "timeout": "30"}, json=body
    )

    assert answer.status_code == 201
    assert answer.json()["ready"] is True


async def test_deploy_of_a_model_being_deleted_is_409(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    custom = client.CustomObjectsApi(admin_api)
    g, v, p = INFERENCE_SERVICE.group, INFERENCE_SERVICE.version, INFERENCE_SERVICE.plural
    custom.create_namespaced_custom_object(
        g,
        v,
        namespace,
        p,
        # A finalizer, as KServe sets one, keeps the deleted model around for a while.
        inference_service(namespace, "leaving", metadata={"finalizers": ["example.com/hold"]}),
    )
    custom.delete_namespaced_custom_object(g, v, namespace, p, "leaving")

    answer = await api("deploy").post(
        "/deploy", json={"name": "leaving", "image": "r/m:2", "namespace": namespace}
    )

    assert answer.status_code == 409
    assert "is being deleted" in answer.json()["detail"]
    shown = (await api("models").get(f"/models/{namespace}/leaving")).json()
    assert (shown["ready"], shown["reason"]) == (False, "Deleting")


async def test_delete_with_wait_waits_until_gone(api: Any, namespace: str) -> None:
    await api("deploy").post(
        "/deploy", json={"name": "bye", "image": "r/m:1", "namespace": namespace}
    )
    answer = await api("delete").delete(
        f"/models/{namespace}/bye", params={"wait": "true", "timeout": "10"}
    )
    assert answer.status_code == 200
    assert (await api("models").get(f"/models/{namespace}/bye")).status_code == 404
