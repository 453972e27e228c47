"""Bad input gets a clear problem+json answer and leaves the cluster untouched.

Run through each function's ASGI interface and over real HTTP (the ``api``
fixture); after each refused request the test namespace must hold no model.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from support.functions import MAX_BODY_BYTES
from support.objects import inference_service_names
from support.problems import assert_problem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_invalid_json_is_400(api: Any, namespace: str, admin_api: client.ApiClient) -> None:
    answer = await api("deploy").post(
        "/deploy", content=b'{"name": "x", "image": ', headers={"content-type": "application/json"}
    )
    problem = assert_problem(answer, 400)
    assert problem["detail"].startswith("the body is not valid JSON")
    assert inference_service_names(admin_api, namespace) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_wrong_content_type_is_415(
    api: Any, namespace: str, admin_api: client.ApiClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    answer = await api("deploy").post(
        "/deploy",
        content=b'{"name": "typed", "image": "r/m:1", "namespace": "%s"}' % namespace.encode(),
        headers=headers,
    )
    problem = assert_problem(answer, 415)
    assert "application/json" in problem["detail"]
    assert inference_service_names(admin_api, namespace) == []


async def test_body_over_the_limit_is_413(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    big = {
        "name": "big",
        "image": "r/m:1",
        "namespace": namespace,
        "envs": {"PAD": "x" * MAX_BODY_BYTES},
    }
    answer = await api("deploy").post("/deploy", json=big)
    assert_problem(answer, 413)
    assert inference_service_names(admin_api, namespace) == []


LONG_NAME = "m" * 40  # with "-predictor-" and the test namespace: over 63 characters


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "My_Model"}, "name"),
        ({"name": "9lives"}, "name"),
        ({"name": LONG_NAME}, "name"),
        ({"namespace": "Bad_Namespace"}, "namespace"),
        ({"envs": {"1BAD": "x"}}, "envs.1BAD"),
        ({"envs": {"BAD-NAME": "x"}}, "envs.BAD-NAME"),
        ({"image": "Registry.Example.com/UPPER CASE:v1"}, "image"),
        ({"image": ""}, "image"),
        ({"minReplicas": -1}, "minReplicas"),
        ({"minReplicas": 3, "maxReplicas": 1}, "maxReplicas"),
        ({"canaryTrafficPercent": 101}, "canaryTrafficPercent"),
        ({"canaryTrafficPercent": -5}, "canaryTrafficPercent"),
        ({"deploymentMode": "Turbo"}, "deploymentMode"),
        ({"scaleMetric": "latency"}, "scaleMetric"),
        ({"unknownField": 1}, "unknownField"),
        ({"image": None}, "image"),
    ],
)
async def test_invalid_field_is_422_naming_it(
    api: Any, namespace: str, admin_api: client.ApiClient, change: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "name": "valid-name",
        "image": "registry.example.com/m:v1",
        "namespace": namespace,
    }
    body.update(change)
    if body["image"] is None:
        del body["image"]

    answer = await api("deploy").post("/deploy", json=body)

    problem = assert_problem(answer, 422)
    assert field in [issue["field"] for issue in problem["errors"]], problem
    assert inference_service_names(admin_api, namespace) == []


async def test_every_invalid_field_is_named_at_once(api: Any, namespace: str) -> None:
    answer = await api("deploy").post(
        "/deploy",
        json={
            "name": "Bad",
            "image": "r/m:1",
            "namespace": namespace,
            "envs": {"1X": "y"},
            "port": 0,
        },
    )
    problem = assert_problem(answer, 422)
    assert {issue["field"] for issue in problem["errors"]} >= {"name", "envs.1X", "port"}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"dryRun": "perhaps"}, "dryRun"),
        ({"wait": "true", "timeout": "forever"}, "timeout"),
        ({"wait": "true", "timeout": "-1"}, "timeout"),
    ],
)
async def test_invalid_query_parameter_is_422_naming_it(
    api: Any, namespace: str, admin_api: client.ApiClient, params: dict[str, str], name: str
) -> None:
    answer = await api("deploy").post(
        "/deploy", params=params, json={"name": "q", "image": "r/m:1", "namespace": namespace}
    )
    problem = assert_problem(answer, 422)
    assert [issue["field"] for issue in problem["errors"]] == [name]
    assert inference_service_names(admin_api, namespace) == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"limit": "100000"},
        {"namespace": "Not_A_Namespace"},
        {"namespace": "n" * 64},
    ],
)
async def test_invalid_list_parameters_are_422(api: Any, params: dict[str, str]) -> None:
    answer = await api("models").get("/models", params=params)
    assert_problem(answer, 422)


async def test_unparseable_label_selector_is_refused_by_the_cluster(
    api: Any, namespace: str
) -> None:
    answer = await api("models").get(
        "/models", params={"namespace": namespace, "labelSelector": "team in (a"}
    )
    assert answer.status_code in {400, 422}
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/models/{namespace}/Not_A_Name", "/models/{namespace}/absent"])
async def test_unknown_model_is_404(api: Any, namespace: str, path: str) -> None:
    for function, method in (("models", "GET"), ("delete", "DELETE")):
        answer = await api(function).request(method, path.format(namespace=namespace))
        assert_problem(answer, 404)
