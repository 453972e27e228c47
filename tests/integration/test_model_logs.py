"""``GET /models/{ns}/{name}/logs``: the predictor's log, through the apiserver's ``pods/log``.

The model is deployed through the API; KServe makes its Deployment, the
scheduler places the pod on a kwok node, and kwok serves the container's log
from the file the test writes (``support.pod_logs``), as a kubelet would.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from controlplane.cluster import ControlPlane
from kubernetes import client
from support import workloads
from support.pod_logs import LogLine, append_pod_log, write_pod_log
from support.problems import assert_problem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CONTAINER = "kserve-container"


@pytest.fixture
def models(served_client: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return served_client("models")


async def _ready_model(api: Any, namespace: str, name: str, **fields: Any) -> None:
    body = {"name": name, "image": "r/m:1", "namespace": namespace, **fields}
    answer = await api("deploy").post("/deploy", params={"wait": "true"}, json=body)
    assert answer.status_code == 201, answer.text


def _pod(admin_api: client.ApiClient, namespace: str, name: str) -> str:
    [pod] = workloads.pods(admin_api, namespace, name)
    return str(pod["metadata"]["name"])


async def test_the_tail_of_the_newest_pods_container_log(
    api: Any, control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    await _ready_model(api, namespace, "talker")
    pod = _pod(admin_api, namespace, "talker")
    write_pod_log(control_plane, namespace, pod, CONTAINER, ["loading", "loaded", "serving"])

    whole = await api("models").get(f"/models/{namespace}/talker/logs")
    tail = await api("models").get(
        f"/models/{namespace}/talker/logs", params={"tailLines": "2", "pod": pod}
    )

    assert whole.status_code == 200, whole.text
    assert whole.headers["content-type"] == "text/plain; charset=utf-8"
    assert (whole.headers["x-pod"], whole.headers["x-container"]) == (pod, CONTAINER)
    assert whole.text == "loading\nloaded\nserving\n"
    assert tail.text == "loaded\nserving\n"


async def test_since_seconds_keeps_the_recent_lines(
    api: Any, control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    await _ready_model(api, namespace, "older")
    pod = _pod(admin_api, namespace, "older")
    hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    write_pod_log(
        control_plane, namespace, pod, CONTAINER, [LogLine("stale", at=hour_ago), "fresh"]
    )

    answer = await api("models").get(
        f"/models/{namespace}/older/logs", params={"sinceSeconds": "60"}
    )

    assert answer.text == "fresh\n"


async def test_follow_streams_lines_as_the_container_writes_them(
    models: httpx.AsyncClient,
    api: Any,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
) -> None:
    await _ready_model(api, namespace, "chatty")
    pod = _pod(admin_api, namespace, "chatty")
    write_pod_log(control_plane, namespace, pod, CONTAINER, ["first"])
    received: list[str] = []

    async with models.stream(
        "GET", f"/models/{namespace}/chatty/logs", params={"follow": "true"}
    ) as followed:
        assert followed.status_code == 200
        lines = followed.aiter_lines()
        received.append(await asyncio.wait_for(anext(lines), 20))
        append_pod_log(control_plane, namespace, pod, CONTAINER, ["second", "third"])
        received.append(await asyncio.wait_for(anext(lines), 20))
        received.append(await asyncio.wait_for(anext(lines), 20))

    assert received == ["first", "second", "third"]


async def test_a_model_without_a_pod_is_a_conflict_and_bad_bounds_are_422(
    api: Any, namespace: str
) -> None:
    # KServe's stop annotation: the model exists, its pods are removed.
    stopped = {"serving.kserve.io/stop": "true"}
    answer = await api("deploy").post(
        "/deploy",
        json={"name": "quiet", "image": "r/m:1", "namespace": namespace, "annotations": stopped},
    )
    assert answer.status_code == 201, answer.text

    no_pod = await api("models").get(f"/models/{namespace}/quiet/logs")
    missing = await api("models").get(f"/models/{namespace}/absent/logs")
    too_long = await api("models").get(f"/models/{namespace}/quiet/logs", params={"tailLines": "0"})
    not_its_pod = await api("models").get(f"/models/{namespace}/quiet/logs", params={"pod": "x"})

    assert "has no pod yet" in assert_problem(no_pod, 409)["detail"]
    assert_problem(missing, 404)
    assert [e["field"] for e in assert_problem(too_long, 422)["errors"]] == ["tailLines"]
    assert_problem(not_its_pod, 404)
