"""A model's history, rollback, stop and resume against the real KServe controller.

Revisions are ControllerRevisions the API writes; what the model does after a
rollback, a stop or a resume is KServe's (and the controller-manager's, whose
garbage collector removes the history with the model).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent
from kserve_functions.kube import requests
from kserve_functions.objects import audit, history
from kubernetes import client
from support import workloads
from support.apiserver import send
from support.functions import new_function
from support.objects import read_inference_service
from support.problems import assert_problem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WAIT = {"wait": "true", "timeout": "60"}
ANONYMOUS = "anonymous (AUTH_MODE=none)"
DIGEST = "sha256:" + "ef" * 32


def stored_revisions(admin_api: client.ApiClient, namespace: str, model: str) -> list[Any]:
    """The model's ControllerRevisions as stored (the project's label)."""
    listed = client.AppsV1Api(admin_api).list_namespaced_controller_revision(
        namespace, label_selector=f"kserve-functions.dev/revision-of={model}"
    )
    return list(listed.items)


def predictor_container(admin_api: client.ApiClient, namespace: str, model: str) -> Any:
    stored = read_inference_service(admin_api, namespace, model)
    [container] = stored["spec"]["predictor"]["containers"]
    return {"image": container["image"], "env": container.get("env")}


def version(namespace: str, n: int) -> dict[str, Any]:
    return {"name": "iris", "namespace": namespace, "image": f"r/m:{n}", "envs": {"V": str(n)}}


async def test_deploys_are_revisions_and_a_rollback_restores_one_as_a_new_revision(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy, models = api("deploy"), api("models")
    first = await deploy.post("/deploy", params=WAIT, json=version(namespace, 1))
    v1 = predictor_container(admin_api, namespace, "iris")
    second = await deploy.post("/deploy", json=version(namespace, 2))
    third = await deploy.post("/deploy", params=WAIT, json=version(namespace, 3))

    assert [a.json()["revision"] for a in (first, second, third)] == [1, 2, 3]
    listed = (await models.get(f"/models/{namespace}/iris/revisions")).json()
    assert listed["count"] == 3
    assert [r["revision"] for r in listed["revisions"]] == [3, 2, 1]
    assert [r["generation"] for r in listed["revisions"]] == [3, 2, 1]
    for entry in listed["revisions"]:
        assert (entry["by"], entry["how"], entry["action"]) == (ANONYMOUS, "POST /deploy", "deploy")
        assert entry["at"].endswith("Z")
    assert listed["revisions"][2]["request"] == version(namespace, 1)

    dry = await deploy.post(
        f"/models/{namespace}/iris/rollback", params={"dryRun": "true"}, json={"revision": 1}
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["dryRun"] is True
    assert "revision" not in dry.json()
    assert len(stored_revisions(admin_api, namespace, "iris")) == 3

    rolled = await deploy.post(
        f"/models/{namespace}/iris/rollback", params=WAIT, json={"revision": 1}
    )

    assert rolled.status_code == 200, rolled.text
    answer = rolled.json()
    assert (answer["action"], answer["ready"], answer["revision"]) == ("updated", True, 4)
    assert answer["generation"] == 4
    assert predictor_container(admin_api, namespace, "iris") == v1
    newest = (await models.get(f"/models/{namespace}/iris/revisions")).json()["revisions"][0]
    assert (newest["revision"], newest["action"], newest["rollbackOf"]) == (4, "rollback", 1)
    assert newest["how"] == f"POST /models/{namespace}/iris/rollback"
    assert newest["generation"] == 4
    assert newest["request"] == version(namespace, 1)

    # History goes with the model: the garbage collector follows the owner references.
    gone = await api("delete").delete(f"/models/{namespace}/iris", params=WAIT)
    assert gone.status_code == 200, gone.text
    workloads.wait_for(
        lambda: True if not stored_revisions(admin_api, namespace, "iris") else None,
        timeout=60,
        what="the model's revisions garbage-collected",
    )


async def test_a_rollback_to_a_missing_revision_is_404_and_changes_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy = api("deploy")
    assert (await deploy.post("/deploy", json=version(namespace, 1))).status_code == 201
    before = read_inference_service(admin_api, namespace, "iris")

    missing = await deploy.post(f"/models/{namespace}/iris/rollback", json={"revision": 9})
    no_previous = await deploy.post(f"/models/{namespace}/iris/rollback")
    no_model = await deploy.post(f"/models/{namespace}/nope/rollback", json={"revision": 1})
    bad = await deploy.post(f"/models/{namespace}/iris/rollback", json={"revision": 0})

    assert "revision 9" in assert_problem(missing, 404)["detail"]
    assert "no previous revision" in assert_problem(no_previous, 409)["detail"]
    assert_problem(no_model, 404)
    assert_problem(bad, 422)
    after = read_inference_service(admin_api, namespace, "iris")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert len(stored_revisions(admin_api, namespace, "iris")) == 1


async def test_stop_removes_the_predictor_and_resume_brings_it_back(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy = api("deploy")
    assert (await deploy.post("/deploy", params=WAIT, json=version(namespace, 1))).json()["ready"]

    stopped = await deploy.post(f"/models/{namespace}/iris/stop", params=WAIT)

    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["state"], stopped.json()["ready"]) == ("stopped", False)
    stored = read_inference_service(admin_api, namespace, "iris")
    assert stored["metadata"]["annotations"]["serving.kserve.io/stop"] == "true"
    assert workloads.has_condition(stored, "Stopped")
    workloads.wait_for(
        lambda: True if workloads.deployment(admin_api, namespace, "iris") is None else None,
        what="KServe's predictor Deployment removed",
    )
    # A deploy that does not mention the stop leaves the model stopped.
    redeployed = await deploy.post("/deploy", json=version(namespace, 2))
    assert redeployed.status_code == 200, redeployed.text
    stored = read_inference_service(admin_api, namespace, "iris")
    assert stored["metadata"]["annotations"]["serving.kserve.io/stop"] == "true"

    resumed = await deploy.post(f"/models/{namespace}/iris/resume", params=WAIT)

    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["state"], resumed.json()["ready"]) == ("ready", True)
    stored = read_inference_service(admin_api, namespace, "iris")
    assert "serving.kserve.io/stop" not in stored["metadata"]["annotations"]
    assert workloads.deployment(admin_api, namespace, "iris") is not None
    listed = (await api("models").get(f"/models/{namespace}/iris/revisions")).json()
    assert [r["action"] for r in listed["revisions"]] == ["resume", "deploy", "stop", "deploy"]


async def test_stop_of_a_missing_model_is_404(api: Any, namespace: str) -> None:
    assert_problem(await api("deploy").post(f"/models/{namespace}/nope/stop"), 404)


def _cloud_event(event_type: str, data: dict[str, Any], event_id: str) -> tuple[bytes, Any]:
    event = CloudEvent(
        attributes={
            "type": event_type,
            "source": "/tests/revisions",
            "id": event_id,
            "datacontenttype": "application/json",
        },
        data=data,
    )
    message = to_structured_event(event)
    return message.body, message.headers


async def test_deploy_events_and_registry_rollouts_are_revisions_too(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy = api("deploy")
    # A repository of this test's own: a push rolls every model tracking the tag.
    tracked = f"harbor.example.com/{namespace}/app:v1"
    request = {"name": "iris", "namespace": namespace, "image": tracked, "autoUpdate": True}
    body, headers = _cloud_event("dev.kserve-functions.model.deploy", request, "e-1")

    first = await deploy.post("/", content=body, headers=headers)
    redelivered = await deploy.post("/", content=body, headers=headers)
    push = {
        "resources": [{"digest": DIGEST, "tag": "v1", "resource_url": tracked}],
        "repository": {"name": "app", "namespace": namespace, "repo_full_name": f"{namespace}/app"},
    }
    body, headers = _cloud_event("harbor.artifact.pushed", push, "p-1")
    pushed = await deploy.post("/", content=body, headers=headers)

    assert (first.status_code, redelivered.status_code, pushed.status_code) == (200, 200, 200)
    listed = (await api("models").get(f"/models/{namespace}/iris/revisions")).json()
    # The redelivery (same event id, same data) changed nothing and added no revision.
    assert [r["action"] for r in listed["revisions"]] == ["rollout", "deploy"]
    rollout, deployed = listed["revisions"]
    assert (
        deployed["how"] == "event dev.kserve-functions.model.deploy from /tests/revisions (id e-1)"
    )
    assert deployed["request"] == request
    pinned = f"harbor.example.com/{namespace}/app@{DIGEST}"
    assert rollout["change"] == {"image": {"from": tracked, "to": pinned}}
    assert rollout["request"] == {**request, "image": pinned}
    assert rollout["by"] == "registry harbor.example.com"

    # A rollback to the deploy undoes the rollout.
    rolled = await deploy.post(f"/models/{namespace}/iris/rollback")
    assert rolled.status_code == 200, rolled.text
    assert predictor_container(admin_api, namespace, "iris")["image"] == tracked


async def test_a_push_to_many_models_gives_each_its_next_revision(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    # The models' revisions are read with one list of the namespace before the
    # patches (``rollouts._histories``): each still gets its own next number and
    # its own previous request, whatever the others' histories are.
    deploy = api("deploy")
    tracked = f"harbor.example.com/{namespace}/fleet:v1"
    deploys = {"a": 1, "b": 3, "c": 2}
    for name, times in deploys.items():
        for n in range(times):
            request = {"name": name, "namespace": namespace, "image": tracked, "autoUpdate": True}
            answer = await deploy.post("/deploy", json={**request, "envs": {"N": str(n)}})
            assert answer.status_code in {200, 201}, answer.text
    # Another model's revisions in the namespace, not tracking the tag.
    assert (await deploy.post("/deploy", json=version(namespace, 0))).status_code == 201
    push = {
        "resources": [{"digest": DIGEST, "tag": "v1", "resource_url": tracked}],
        "repository": {
            "name": "fleet",
            "namespace": namespace,
            "repo_full_name": f"{namespace}/fleet",
        },
    }
    body, headers = _cloud_event("harbor.artifact.pushed", push, "p-fleet")

    pushed = await deploy.post("/", content=body, headers=headers)

    assert pushed.status_code == 200, pushed.text
    pinned = f"harbor.example.com/{namespace}/fleet@{DIGEST}"
    for name, times in deploys.items():
        listed = (await api("models").get(f"/models/{namespace}/{name}/revisions")).json()
        newest = listed["revisions"][0]
        assert [r["revision"] for r in listed["revisions"]] == list(range(times + 1, 0, -1))
        assert newest["action"] == "rollout"
        assert newest["request"] == {
            "name": name,
            "namespace": namespace,
            "image": pinned,
            "autoUpdate": True,
            "envs": {"N": str(times - 1)},
        }
    untouched = (
        await api("models").get(f"/models/{namespace}/{version(namespace, 0)['name']}/revisions")
    ).json()
    assert [r["action"] for r in untouched["revisions"]] == ["deploy"]


async def test_concurrent_deploys_get_distinct_revision_numbers(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy = api("deploy")
    assert (await deploy.post("/deploy", json=version(namespace, 0))).status_code == 201

    answers = await asyncio.gather(
        *(deploy.post("/deploy", json=version(namespace, n)) for n in range(1, 6))
    )

    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["revision"] for a in answers) == [2, 3, 4, 5, 6]
    numbers = sorted(r.revision for r in stored_revisions(admin_api, namespace, "iris"))
    assert numbers == [1, 2, 3, 4, 5, 6]


async def test_the_newest_revisions_are_shown_and_the_oldest_pruned_at_once(
    function_env: dict[str, str], namespace: str, admin_api: client.ApiClient
) -> None:
    function = new_function("deploy")
    function.start({**function_env, "REVISION_HISTORY_LIMIT": "2"})
    models = new_function("models")
    models.start({**function_env, "REVISION_HISTORY_LIMIT": "2"})
    async with (
        _client(function) as deploy,
        _client(models) as reader,
    ):
        for n in range(1, 5):
            answer = await deploy.post("/deploy", json=version(namespace, n))
            assert answer.json()["revision"] == n, answer.text
        # Four of at most twice the limit: none pruned yet, the newest two shown.
        assert _numbers(admin_api, namespace) == [1, 2, 3, 4]
        listed = (await reader.get(f"/models/{namespace}/iris/revisions")).json()
        assert [r["revision"] for r in listed["revisions"]] == [4, 3]
        hidden = await deploy.post(f"/models/{namespace}/iris/rollback", json={"revision": 2})
        assert "revision 2" in assert_problem(hidden, 404)["detail"]

        # The fifth is one too many: all but the newest two go, in one request.
        assert (await deploy.post("/deploy", json=version(namespace, 5))).json()["revision"] == 5
        assert _numbers(admin_api, namespace) == [4, 5]
        assert (await deploy.post("/deploy", json=version(namespace, 6))).json()["revision"] == 6
        assert _numbers(admin_api, namespace) == [4, 5, 6]
        listed = (await reader.get(f"/models/{namespace}/iris/revisions")).json()
        assert [r["revision"] for r in listed["revisions"]] == [6, 5]
    await function.aclose()
    await models.aclose()


async def test_revisions_written_before_the_number_label_are_pruned_by_name(
    api: Any, function_env: dict[str, str], namespace: str, admin_api: client.ApiClient
) -> None:
    assert (await api("deploy").post("/deploy", json=version(namespace, 1))).status_code == 201
    # Revision 1 as an earlier version wrote it: without its number label (a
    # ControllerRevision's data cannot be updated, so it is written again).
    legacy = history.revision(
        read_inference_service(admin_api, namespace, "iris"),
        revision_number=1,
        recorded={"action": "deploy", "request": version(namespace, 1)},
        actor=audit.Actor(by=ANONYMOUS, how="POST /deploy"),
        at=datetime.datetime.now(datetime.UTC),
    )
    del legacy["metadata"]["labels"]["kserve-functions.dev/revision"]
    client.AppsV1Api(admin_api).delete_namespaced_controller_revision("iris-rev-1", namespace)
    made = send(admin_api, requests.create_revision(legacy))
    assert made.status == 201, made.body.get("message")
    # An instance that did not write it reads it, without its number label.
    function = new_function("deploy")
    function.start({**function_env, "REVISION_HISTORY_LIMIT": "1"})
    async with _client(function) as deploy:
        for n in (2, 3):
            answer = await deploy.post("/deploy", json=version(namespace, n))
            assert answer.json()["revision"] == n, answer.text
    await function.aclose()

    assert _numbers(admin_api, namespace) == [3]


async def test_replicas_number_their_changes_of_one_model_in_turn(
    function_env: dict[str, str], namespace: str, admin_api: client.ApiClient
) -> None:
    # Each replica remembers the history as it wrote it; the other's revisions
    # make that memory stale, and its next number collides and is taken again.
    replicas = [new_function("deploy"), new_function("deploy")]
    for replica in replicas:
        replica.start(function_env)
    async with _client(replicas[0]) as first, _client(replicas[1]) as second:
        key_a, key_b = {"Idempotency-Key": "key-a"}, {"Idempotency-Key": "key-b"}
        turns = [
            (first, 1, key_a, 1),
            (second, 2, {}, 2),
            # The first remembers revision 1 as the newest, of this very key and
            # request; the second's revision 2 since makes this a change of its own.
            (first, 1, key_a, 3),
            # The second remembers 2 as the newest: its number 3 collides.
            (second, 4, key_b, 4),
            # A retry of the newest change, through the replica that did not make it.
            (first, 4, key_b, 4),
        ]
        for deploy, n, headers, expected in turns:
            answer = await deploy.post("/deploy", json=version(namespace, n), headers=headers)
            assert answer.json()["revision"] == expected, answer.text
    for replica in replicas:
        await replica.aclose()

    assert _numbers(admin_api, namespace) == [1, 2, 3, 4]


def _client(function: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=function.handle)
    return httpx.AsyncClient(transport=transport, base_url="http://function")


def _numbers(admin_api: client.ApiClient, namespace: str) -> list[int]:
    """The numbers of model iris's revisions in the store."""
    return sorted(r.revision for r in stored_revisions(admin_api, namespace, "iris"))
