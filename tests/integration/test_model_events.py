"""``GET /models/{ns}/{name}/events``: the Events Kubernetes and KServe wrote about a model.

The model is deployed through the API and reconciled by the real KServe
controller, controller-manager and scheduler, which write the Events read back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from kubernetes import client
from support.functions import FunctionLauncher
from support.problems import assert_problem
from support.rbac import create_service_account, grant_inference_services

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_the_events_of_the_model_its_deployment_and_pods_newest_first(
    api: Any, namespace: str
) -> None:
    body = {"name": "told", "image": "r/m:1", "namespace": namespace}
    deployed = await api("deploy").post("/deploy", params={"wait": "true"}, json=body)
    assert deployed.status_code == 201, deployed.text

    async def kinds() -> set[str] | None:
        answer = await api("models").get(f"/models/{namespace}/told/events")
        assert answer.status_code == 200, answer.text
        found = {event["object"].split("/")[0] for event in answer.json()["events"]}
        return found if {"InferenceService", "Deployment", "Pod"} <= found else None

    # The scheduler's and controllers' Events are written a moment after the fact.
    for _ in range(100):
        if await kinds():
            break
        await asyncio.sleep(0.2)
    answer = (await api("models").get(f"/models/{namespace}/told/events")).json()
    events = answer["events"]
    assert {e["object"].split("/")[0] for e in events} >= {"InferenceService", "Deployment", "Pod"}
    assert answer["count"] == len(events)
    times = [e["lastTime"] for e in events]
    assert times == sorted(times, reverse=True)
    ours = [e for e in events if e["reporter"] == "kserve-functions.dev/api"]
    assert [e["reason"] for e in ours] == ["Deployed"]
    assert any(
        e["reason"] == "Scheduled" and e["object"].startswith("Pod/told-predictor-") for e in events
    )
    assert all(e["object"].split("/")[1].startswith("told") for e in events)


async def test_events_of_a_missing_model_are_404_and_the_limit_is_checked(
    api: Any, namespace: str
) -> None:
    missing = await api("models").get(f"/models/{namespace}/nothing/events")
    too_many = await api("models").get(f"/models/{namespace}/nothing/events", params={"limit": "0"})

    assert_problem(missing, 404)
    assert_problem(too_many, 422)


async def test_a_caller_who_may_not_list_events_is_refused_naming_the_verb(
    function_launcher: FunctionLauncher,
    function_env: dict[str, str],
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
) -> None:
    create_service_account(admin_api, namespace, "viewer")
    grant_inference_services(admin_api, namespace, service_account="viewer", verbs=("get",))
    token = control_plane.mint_service_account_token(namespace, "viewer")
    models, _ = function_launcher.start("models", {**function_env, "AUTH_MODE": "kubernetes"})
    deploy, _ = function_launcher.start("deploy", function_env)
    created = await deploy.post(
        "/deploy", json={"name": "m", "image": "r/m:1", "namespace": namespace}
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {token}"}

    events = await models.get(f"/models/{namespace}/m/events", headers=headers)
    logs = await models.get(f"/models/{namespace}/m/logs", headers=headers)

    detail = assert_problem(events, 403, token=token)["detail"]
    assert detail == (
        f"system:serviceaccount:{namespace}:viewer may not list events in namespace {namespace}"
    )
    assert assert_problem(logs, 403, token=token)["detail"] == (
        f"system:serviceaccount:{namespace}:viewer may not get pods/log in namespace {namespace}"
    )
