"""Registry pushes roll the models that opted in, and only those (DESIGN §5).

Realistic Harbor (CloudEvents), Azure Container Registry (Event Grid
CloudEvents) and Docker Distribution (plain webhook) notifications, sent to the
deploy function through its ASGI interface and over real HTTP.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from kubernetes import client
from support.objects import read_inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


def _harbor(host: str, repository: str, tag: str, digest: str) -> tuple[bytes, dict[str, str]]:
    event = CloudEvent(
        attributes={
            "type": "harbor.artifact.pushed",
            "source": "/projects/3/webhook/policies/7",
            "id": str(uuid.uuid4()),
            "datacontenttype": "application/json",
            "operator": "robot$ci",
            "requestid": str(uuid.uuid4()),
        },
        data={
            "resources": [
                {"digest": digest, "tag": tag, "resource_url": f"{host}/{repository}:{tag}"}
            ],
            "repository": {
                "name": repository.rsplit("/", 1)[-1],
                "namespace": repository.split("/", 1)[0],
                "repo_full_name": repository,
                "repo_type": "private",
            },
        },
    )
    message = to_structured_event(event)
    return message.body, message.headers


def _acr(host: str, repository: str, tag: str, digest: str) -> tuple[bytes, dict[str, str]]:
    event = CloudEvent(
        attributes={
            "type": "Microsoft.ContainerRegistry.ImagePushed",
            "source": (
                "/subscriptions/0000/resourceGroups/ml/providers"
                "/Microsoft.ContainerRegistry/registries/myreg"
            ),
            "id": str(uuid.uuid4()),
            "subject": f"{repository}:{tag}",
            "datacontenttype": "application/json",
        },
        data={
            "id": str(uuid.uuid4()),
            "timestamp": "2026-11-27T09:00:00Z",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": 524,
                "digest": digest,
                "length": 524,
                "repository": repository,
                "tag": tag,
            },
            "request": {
                "id": str(uuid.uuid4()),
                "host": host,
                "method": "PUT",
                "useragent": "docker/27",
            },
        },
    )
    message = to_structured_event(event)
    return message.body, message.headers


def _distribution(
    host: str, repository: str, tag: str, digest: str
) -> tuple[bytes, dict[str, str]]:
    layer = {
        "action": "push",
        "target": {
            "mediaType": "application/octet-stream",
            "digest": OTHER_DIGEST,
            "repository": repository,
            "url": f"http://{host}/v2/{repository}/blobs/{OTHER_DIGEST}",
        },
        "request": {"host": host, "method": "PUT"},
    }
    manifest = {
        "id": str(uuid.uuid4()),
        "timestamp": "2026-11-27T09:00:00Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 708,
            "digest": digest,
            "length": 708,
            "repository": repository,
            "url": f"http://{host}/v2/{repository}/manifests/{digest}",
            "tag": tag,
        },
        "request": {
            "id": "r1",
            "addr": "10.1.2.3:4242",
            "host": host,
            "method": "PUT",
            "useragent": "docker",
        },
        "actor": {},
        "source": {"addr": "registry-0:5000", "instanceID": str(uuid.uuid4())},
    }
    body = json.dumps({"events": [layer, manifest]}).encode()
    return body, {"content-type": "application/vnd.docker.distribution.events.v1+json"}


FORMATS = {
    "harbor": (_harbor, "harbor.example.com"),
    "acr": (_acr, "myreg.azurecr.io"),
    "distribution": (_distribution, "registry.local:5000"),
}


def _image(admin_api: client.ApiClient, namespace: str, name: str) -> tuple[str, int]:
    found = read_inference_service(admin_api, namespace, name)
    image: str = found["spec"]["predictor"]["containers"][0]["image"]
    generation: int = found["metadata"]["generation"]
    return image, generation


async def _deploy(
    deploy: httpx.AsyncClient, namespace: str, name: str, image: str, auto: bool
) -> None:
    body = {"name": name, "image": image, "namespace": namespace, "autoUpdate": auto}
    answer = await deploy.post("/deploy", json=body)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("registry", sorted(FORMATS))
async def test_push_rolls_opted_in_models_tracking_the_tag_only(
    api: Any, namespace: str, admin_api: client.ApiClient, registry: str
) -> None:
    build, host = FORMATS[registry]
    deploy: httpx.AsyncClient = api("deploy")
    tracked = f"{host}/team/app:v1"
    await _deploy(deploy, namespace, "follower", tracked, auto=True)
    await _deploy(deploy, namespace, "other-tag", f"{host}/team/app:v2", auto=True)
    await _deploy(deploy, namespace, "opted-out", tracked, auto=False)
    body, headers = build(host, "team/app", "v1", DIGEST)

    answer = await deploy.post("/", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    pinned = f"{host}/team/app@{DIGEST}"
    assert _image(admin_api, namespace, "follower") == (pinned, 2)
    assert _image(admin_api, namespace, "other-tag") == (f"{host}/team/app:v2", 1)
    assert _image(admin_api, namespace, "opted-out") == (tracked, 1)
    report = answer.json() if registry == "distribution" else _reply_data(answer, "deployed")
    [push] = report["pushes"]
    ours = [m for m in push["models"] if m["namespace"] == namespace]
    assert ours == [
        {"namespace": namespace, "name": "follower", "image": pinned, "result": "updated"}
    ]

    # Redelivery (same push again): nothing changes.
    again = await deploy.post("/", content=body, headers=headers)
    assert again.status_code == 200
    assert _image(admin_api, namespace, "follower") == (pinned, 2)


def _reply_data(answer: httpx.Response, outcome: str) -> dict[str, Any]:
    event = from_http_event(HTTPMessage(headers=dict(answer.headers), body=answer.content))
    assert event.get_type() == f"dev.kserve-functions.model.{outcome}"
    data = event.get_data()
    assert isinstance(data, dict)
    return data


async def test_redeploy_after_a_rollout_tracks_the_tag_again(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    tracked = "harbor.example.com/team/app:v1"
    await _deploy(deploy, namespace, "follower", tracked, auto=True)
    body, headers = _harbor("harbor.example.com", "team/app", "v1", DIGEST)
    assert (await deploy.post("/", content=body, headers=headers)).status_code == 200

    second, headers = _harbor("harbor.example.com", "team/app", "v1", OTHER_DIGEST)
    assert (await deploy.post("/", content=second, headers=headers)).status_code == 200

    assert (
        _image(admin_api, namespace, "follower")[0] == f"harbor.example.com/team/app@{OTHER_DIGEST}"
    )


async def test_invalid_push_changes_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    await _deploy(deploy, namespace, "follower", "harbor.example.com/team/app:v1", auto=True)
    body, headers = _harbor("harbor.example.com", "team/app", "v1", "sha256:not-a-digest")

    answer = await deploy.post("/", content=body, headers=headers)

    assert answer.status_code == 200
    data = _reply_data(answer, "failed")
    assert data["status"] == 422
    assert any("digest" in issue["field"] for issue in data["errors"])
    assert _image(admin_api, namespace, "follower") == ("harbor.example.com/team/app:v1", 1)


async def test_huge_distribution_envelope_is_refused_with_bounded_work(api: Any) -> None:
    envelope: dict[str, list[dict[str, str]]] = {
        "events": [{}] * 10_000
    }  # 40 kB: under the body limit, over the event cap
    answer = await api("deploy").post(
        "/",
        content=json.dumps(envelope).encode(),
        headers={"content-type": "application/vnd.docker.distribution.events.v1+json"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert "10000" in answer.json()["detail"]
