"""Canary, promote and abort against the real KServe v0.20.0 controller (issue 11).

Standard mode: a deploy with ``canary`` makes ``spec.canary[0]`` (predictor
``canary``); KServe creates the Deployment ``<model>-canary-predictor`` beside
``<model>-predictor`` and reports ``CanaryPredictorReady`` and
``status.canaryStatuses``. Knative mode cannot run locally (no Knative
Serving), so there the test is what KServe's webhooks accept, by a server-side
dry run; whether such a canary becomes Ready is out of reach here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support import workloads
from support.objects import as_dict, inference_service_names, read_inference_service
from support.problems import assert_problem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WAIT = {"wait": "true", "timeout": "60"}
STORAGE = "gs://kfserving-examples/models/sklearn/1.0/model"


def _stable(namespace: str, **extra: Any) -> dict[str, Any]:
    # KServe refuses a canary unless the stable predictor has a model or a storage URI.
    return {
        "name": "iris",
        "namespace": namespace,
        "image": "r/m:1",
        "storageUri": STORAGE,
        **extra,
    }


def _canary_deployment(api: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    """KServe's canary Deployment ``iris-canary-predictor``, or None while absent."""
    try:
        found = client.AppsV1Api(api).read_namespaced_deployment("iris-canary-predictor", namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    return as_dict(api.sanitize_for_serialization(found))  # type: ignore[no-untyped-call]


def _image(found: dict[str, Any] | None) -> str:
    assert found is not None
    containers = found["spec"]["template"]["spec"]["containers"]
    [image] = [c["image"] for c in containers if c["name"] == "kserve-container"]
    return str(image)


def _canary_ready(admin_api: client.ApiClient, namespace: str) -> bool | None:
    stored = read_inference_service(admin_api, namespace, "iris")
    statuses = stored.get("status", {}).get("canaryStatuses") or []
    conditions = {c["type"]: c["status"] for c in stored.get("status", {}).get("conditions", [])}
    if conditions.get("CanaryPredictorReady") == "True" and statuses and statuses[0]["ready"]:
        return True
    return None


async def _start_canary(api: Any, namespace: str, admin_api: client.ApiClient) -> None:
    created = await api("deploy").post("/deploy", params=WAIT, json=_stable(namespace))
    assert created.status_code == 201, created.text
    started = await api("deploy").post(
        "/deploy",
        json=_stable(namespace, canary={"trafficPercent": 20, "image": "r/m:2"}),
    )
    assert started.status_code == 200, started.text
    workloads.wait_for(
        lambda: _canary_ready(admin_api, namespace), what="CanaryPredictorReady", timeout=60
    )


async def test_standard_canary_runs_beside_stable_and_detail_shows_both(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    await _start_canary(api, namespace, admin_api)

    stable = workloads.deployment(admin_api, namespace, "iris")
    assert _image(stable) == "r/m:1"
    assert _image(_canary_deployment(admin_api, namespace)) == "r/m:2"
    stored = read_inference_service(admin_api, namespace, "iris")
    assert stored["spec"]["canary"][0]["predictor"]["name"] == "canary"
    assert stored["spec"]["canary"][0]["trafficPercent"] == 20
    assert "maxReplicas" not in stored["spec"]["canary"][0]["predictor"]
    # Starting the canary kept the stable restart token: the stable pods did not roll.
    assert len(workloads.replica_sets(admin_api, namespace, "iris")) == 2  # stable + canary

    detail = (await api("models").get(f"/models/{namespace}/iris")).json()
    assert detail["stable"] == {
        "image": "r/m:1",
        "storageUri": STORAGE,
        "trafficPercent": 80,
        "ready": True,
    }
    assert detail["canary"] == {
        "name": "canary",
        "image": "r/m:2",
        "storageUri": STORAGE,
        "trafficPercent": 20,
        "ready": True,
    }


async def test_promote_leaves_one_predictor_with_the_canary_image(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    await _start_canary(api, namespace, admin_api)

    promoted = await api("deploy").post(f"/models/{namespace}/iris/promote")

    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["image"] == "r/m:2"
    assert "canary" not in promoted.json()
    # The history records the promotion as the request that now runs.
    history = (await api("models").get(f"/models/{namespace}/iris/revisions")).json()
    newest = history["revisions"][0]
    assert newest["action"] == "promote"
    assert newest["request"]["image"] == "r/m:2"
    assert "canary" not in newest["request"]
    stored = read_inference_service(admin_api, namespace, "iris")
    assert "canary" not in stored["spec"]
    assert "name" not in stored["spec"]["predictor"]
    workloads.wait_for(
        lambda: True if _canary_deployment(admin_api, namespace) is None else None,
        what="the canary Deployment removed",
        timeout=60,
    )
    workloads.wait_for(
        lambda: (
            True if _image(workloads.deployment(admin_api, namespace, "iris")) == "r/m:2" else None
        ),
        what="the stable Deployment on the canary's image",
    )
    ready = await api("models").get(f"/models/{namespace}/iris")
    workloads.wait_for(
        lambda: (
            True
            if read_inference_service(admin_api, namespace, "iris")["status"].get("canaryStatuses")
            is None
            else None
        ),
        what="canaryStatuses cleared",
    )
    assert ready.status_code == 200
    # Nothing left to promote.
    again = await api("deploy").post(f"/models/{namespace}/iris/promote")
    assert "runs no canary" in assert_problem(again, 409)["detail"]


async def test_abort_removes_the_canary_and_leaves_stable_untouched(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    await _start_canary(api, namespace, admin_api)
    before = workloads.deployment(admin_api, namespace, "iris")
    assert before is not None
    stable_spec = read_inference_service(admin_api, namespace, "iris")["spec"]["predictor"]

    aborted = await api("deploy").post(f"/models/{namespace}/iris/abort")

    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["image"] == "r/m:1"
    stored = read_inference_service(admin_api, namespace, "iris")
    assert "canary" not in stored["spec"]
    assert stored["spec"]["predictor"] == stable_spec
    workloads.wait_for(
        lambda: True if _canary_deployment(admin_api, namespace) is None else None,
        what="the canary Deployment removed",
        timeout=60,
    )
    after = workloads.deployment(admin_api, namespace, "iris")
    assert after is not None
    # The same pod template: the stable predictor never rolled, and stayed Available.
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert workloads.has_condition(after, "Available")
    detail = (await api("models").get(f"/models/{namespace}/iris")).json()
    assert detail["ready"] is True
    assert "canary" not in detail


async def test_two_promotes_racing_one_wins_and_the_model_is_consistent(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    await _start_canary(api, namespace, admin_api)
    deploy = api("deploy")

    answers = await asyncio.gather(
        deploy.post(f"/models/{namespace}/iris/promote"),
        deploy.post(f"/models/{namespace}/iris/promote"),
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409], [answer.text for answer in answers]
    stored = read_inference_service(admin_api, namespace, "iris")
    assert "canary" not in stored["spec"]
    [container] = stored["spec"]["predictor"]["containers"]
    assert container["image"] == "r/m:2"


async def test_promote_racing_a_deploy_never_half_applies(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    await _start_canary(api, namespace, admin_api)
    deploy = api("deploy")

    promoted, deployed = await asyncio.gather(
        deploy.post(f"/models/{namespace}/iris/promote"),
        deploy.post("/deploy", json=_stable(namespace, image="r/m:3")),
    )

    assert deployed.status_code == 200, deployed.text
    assert promoted.status_code in {200, 409}, promoted.text
    spec = read_inference_service(admin_api, namespace, "iris")["spec"]
    # Whichever came last, the spec is one writer's whole: the deploy's (no canary,
    # r/m:3) or the promotion's on top of it cannot mix.
    assert "canary" not in spec
    [container] = spec["predictor"]["containers"]
    assert container["image"] in {"r/m:2", "r/m:3"}


async def test_knative_canary_is_the_canary_traffic_percent_kserve_accepts(
    api: Any, namespace: str
) -> None:
    answer = await api("deploy").post(
        "/deploy",
        params={"dryRun": "true"},
        json=_stable(
            namespace, deploymentMode="Knative", canary={"trafficPercent": 20, "image": "r/m:2"}
        ),
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["dryRun"] is True


async def test_promote_and_abort_without_a_canary_are_409(api: Any, namespace: str) -> None:
    created = await api("deploy").post("/deploy", params=WAIT, json=_stable(namespace))
    assert created.status_code == 201, created.text

    for action in ("promote", "abort"):
        answer = await api("deploy").post(f"/models/{namespace}/iris/{action}")
        problem = assert_problem(answer, 409)
        assert "runs no canary (state: ready)" in problem["detail"]
    missing = await api("deploy").post(f"/models/{namespace}/absent/promote")
    assert_problem(missing, 404)


@pytest.mark.parametrize(
    ("canary", "field"),
    [
        ({"trafficPercent": 0, "image": "r/m:2"}, "canary.trafficPercent"),
        ({"trafficPercent": 100, "image": "r/m:2"}, "canary.trafficPercent"),
        ({"trafficPercent": 20}, "canary"),
        ({"trafficPercent": 20, "image": "r/m:1"}, "canary"),
    ],
)
async def test_bad_canaries_are_422_and_change_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient, canary: dict[str, Any], field: str
) -> None:
    answer = await api("deploy").post("/deploy", json=_stable(namespace, canary=canary))

    problem = assert_problem(answer, 422)
    assert field in [issue["field"] for issue in problem["errors"]]
    assert inference_service_names(admin_api, namespace) == []


@pytest.mark.parametrize(
    ("action", "percent"),
    [("promote", None), ("abort", 0)],
)
async def test_knative_promote_and_abort_move_canary_traffic_percent(
    api: Any, namespace: str, admin_api: client.ApiClient, action: str, percent: int | None
) -> None:
    # Stored and admitted by KServe's webhooks; nothing reconciles it (no Knative
    # Serving here), so this checks the writes, not the traffic they would move.
    body = _stable(
        namespace, deploymentMode="Knative", canary={"trafficPercent": 20, "image": "r/m:2"}
    )
    created = await api("deploy").post("/deploy", json=body)
    assert created.status_code == 201, created.text
    stored = read_inference_service(admin_api, namespace, "iris")
    assert stored["spec"]["predictor"]["canaryTrafficPercent"] == 20

    finished = await api("deploy").post(f"/models/{namespace}/iris/{action}")

    assert finished.status_code == 200, finished.text
    predictor = read_inference_service(admin_api, namespace, "iris")["spec"]["predictor"]
    assert predictor.get("canaryTrafficPercent") == percent
    assert predictor["containers"][0]["image"] == "r/m:2"
    again = await api("deploy").post(f"/models/{namespace}/iris/{action}")
    assert_problem(again, 409)


@pytest.mark.parametrize("mode", ["Standard", "Knative"])
@pytest.mark.parametrize("action", ["promote", "abort"])
async def test_the_next_deploy_is_the_whole_desired_state_again(
    api: Any, namespace: str, admin_api: client.ApiClient, mode: str, action: str
) -> None:
    canary = {"trafficPercent": 20, "image": "r/m:2", "resources": {"limits": {"cpu": "2"}}}
    started = await api("deploy").post(
        "/deploy", json=_stable(namespace, deploymentMode=mode, canary=canary)
    )
    assert started.status_code == 201, started.text
    finished = await api("deploy").post(f"/models/{namespace}/iris/{action}")
    assert finished.status_code == 200, finished.text

    deployed = await api("deploy").post(
        "/deploy", json=_stable(namespace, deploymentMode=mode, image="r/m:3")
    )

    assert deployed.status_code == 200, deployed.text
    spec = read_inference_service(admin_api, namespace, "iris")["spec"]
    # Nothing promote or abort wrote outlives the deploy that came after them.
    assert "canary" not in spec
    assert "canaryTrafficPercent" not in spec["predictor"]
    [container] = spec["predictor"]["containers"]
    assert container["image"] == "r/m:3"
    # KServe's defaulter gives a container default resources; not the canary's.
    assert container.get("resources", {}).get("limits", {}).get("cpu") != "2"


async def test_a_promoted_model_format_canary_leaves_nothing_the_next_deploy_omits(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    base = {
        "name": "iris",
        "namespace": namespace,
        "modelFormat": {"name": "sklearn"},
        "storageUri": "gs://models/v1",
        "envs": {"A": "1"},
    }
    canary = {"trafficPercent": 20, "storageUri": "gs://models/v2", "envs": {"A": "1", "B": "2"}}
    canary["resources"] = {"limits": {"cpu": "2"}}
    started = await api("deploy").post("/deploy", json={**base, "canary": canary})
    assert started.status_code == 201, started.text
    promoted = await api("deploy").post(f"/models/{namespace}/iris/promote")
    assert promoted.status_code == 200, promoted.text
    model = read_inference_service(admin_api, namespace, "iris")["spec"]["predictor"]["model"]
    assert (model["storageUri"], model["env"][-1]) == (
        "gs://models/v2",
        {"name": "B", "value": "2"},
    )

    deployed = await api("deploy").post("/deploy", json={**base, "storageUri": "gs://models/v3"})

    assert deployed.status_code == 200, deployed.text
    model = read_inference_service(admin_api, namespace, "iris")["spec"]["predictor"]["model"]
    assert model["storageUri"] == "gs://models/v3"
    # The promotion's env var and resources went with the deploy that left them out.
    assert model["env"] == [{"name": "A", "value": "1"}]
    assert model.get("resources", {}).get("limits", {}).get("cpu") != "2"
