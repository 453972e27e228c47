"""Deploy and delete by CloudEvent, and the reply events, against the real control plane.

Events are built and replies parsed with the official CloudEvents SDK, and sent
through each function's ASGI interface and over real HTTP (the ``api`` fixture).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import (
    HTTPMessage,
    from_http_event,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent
from kubernetes import client
from support.objects import inference_service_names, read_inference_service
from support.workloads import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DEPLOY = "dev.kserve-functions.model.deploy"
DELETE = "dev.kserve-functions.model.delete"


def _event(event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        attributes={
            "type": event_type,
            "source": "/tests/ci-pipeline",
            "id": event_id or uuid.uuid4().hex,
            "datacontenttype": "application/json",
        },
        data=data,
    )


async def _send(target: httpx.AsyncClient, event: CloudEvent, mode: str) -> httpx.Response:
    message = to_binary_event(event) if mode == "binary" else to_structured_event(event)
    return await target.post("/", content=message.body, headers=message.headers)


def _reply(answer: httpx.Response) -> CloudEvent:
    event = from_http_event(HTTPMessage(headers=dict(answer.headers), body=answer.content))
    assert isinstance(event, CloudEvent)
    return event


def _generation(admin_api: client.ApiClient, namespace: str, name: str) -> int:
    generation: int = read_inference_service(admin_api, namespace, name)["metadata"]["generation"]
    return generation


@pytest.mark.parametrize("mode", ["binary", "structured"])
@pytest.mark.parametrize("function", ["deploy", "root"])
async def test_deploy_event_deploys_and_replies_deployed(
    api: Any, namespace: str, admin_api: client.ApiClient, mode: str, function: str
) -> None:
    event = _event(DEPLOY, {"name": "evented", "image": "r/m:1", "namespace": namespace})

    answer = await _send(api(function), event, mode)

    assert answer.status_code == 200, answer.text
    reply = _reply(answer)
    assert reply.get_type() == "dev.kserve-functions.model.deployed"
    assert reply.get_subject() == f"{namespace}/evented"
    data = reply.get_data()
    assert isinstance(data, dict)
    assert (data["action"], data["status"], data["name"]) == ("created", "success", "evented")
    assert _generation(admin_api, namespace, "evented") == 1


async def test_redelivered_deploy_event_changes_nothing(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    event = _event(
        DEPLOY, {"name": "again", "image": "r/m:1", "namespace": namespace}, event_id="e-1"
    )

    first = await _send(deploy, event, "binary")
    second = await _send(deploy, event, "binary")
    other = await _send(
        deploy,
        _event(DEPLOY, {"name": "again", "image": "r/m:1", "namespace": namespace}),
        "binary",
    )

    assert (first.status_code, second.status_code, other.status_code) == (200, 200, 200)
    data = _reply(second).get_data()
    assert isinstance(data, dict)
    assert (data["action"], data["generation"]) == ("updated", 1)
    assert _generation(admin_api, namespace, "again") == 2  # a new event id is a new rollout


@pytest.mark.parametrize("mode", ["binary", "structured"])
@pytest.mark.parametrize("function", ["delete", "root"])
async def test_delete_event_deletes_and_redelivery_succeeds(
    api: Any, namespace: str, mode: str, function: str, admin_api: client.ApiClient
) -> None:
    created = await api("deploy").post(
        "/deploy", json={"name": "doomed", "image": "r/m:1", "namespace": namespace}
    )
    assert created.status_code == 201
    event = _event(DELETE, {"namespace": namespace, "name": "doomed"}, event_id="d-1")

    first = await _send(api(function), event, mode)
    again = await _send(api(function), event, mode)

    for answer in (first, again):
        assert answer.status_code == 200, answer.text
        reply = _reply(answer)
        assert reply.get_type() == "dev.kserve-functions.model.deleted"
        assert reply.get_subject() == f"{namespace}/doomed"
        assert reply.get_data() == {"name": "doomed", "namespace": namespace, "status": "deleted"}
    # Deleted, not yet gone: KServe's finalizer holds it until the controller cleans up.
    wait_for(
        lambda: True if inference_service_names(admin_api, namespace) == [] else None,
        what="the model gone",
    )
    assert (await api("models").get(f"/models/{namespace}/doomed")).status_code == 404


async def test_invalid_deploy_data_replies_failed_with_the_problem(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    event = _event(DEPLOY, {"name": "Bad_Name", "image": "r/m:1", "namespace": namespace})

    answer = await _send(api("deploy"), event, "binary")

    assert answer.status_code == 200
    reply = _reply(answer)
    assert reply.get_type() == "dev.kserve-functions.model.failed"
    assert reply.get_subject() == f"{namespace}/Bad_Name"
    data = reply.get_data()
    assert isinstance(data, dict)
    assert data["status"] == 422
    assert [issue["field"] for issue in data["errors"]] == ["name"]
    assert inference_service_names(admin_api, namespace) == []


BINARY_HEADERS = {
    "ce-specversion": "1.0",
    "ce-type": DEPLOY,
    "ce-source": "/tests",
    "ce-id": "x-1",
    "content-type": "application/json",
}


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        ({**BINARY_HEADERS, "ce-id": ""}, b"{}", 400, "missing required attribute(s) id"),
        ({k: v for k, v in BINARY_HEADERS.items() if k != "ce-source"}, b"{}", 400, "source"),
        ({**BINARY_HEADERS, "ce-specversion": "0.9"}, b"{}", 400, "specversion"),
        (BINARY_HEADERS, b'{"name": ', 422, "must be a JSON object"),
        ({**BINARY_HEADERS, "ce-type": "com.example.unknown"}, b"{}", 400, "does not handle"),
        (
            {"content-type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "type": DEPLOY, "source": "/t", "data": {}}).encode(),
            400,
            "missing required attribute(s) id",
        ),
        ({"content-type": "application/cloudevents+json"}, b"not json", 400, "not JSON"),
    ],
)
async def test_malformed_event_is_a_clear_4xx(
    api: Any, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    answer = await api("deploy").post("/", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.json()["detail"]


async def test_a_function_refuses_event_types_of_another_concern(api: Any, namespace: str) -> None:
    event = _event(DEPLOY, {"name": "x", "image": "r/m:1", "namespace": namespace})
    answer = await _send(api("delete"), event, "binary")
    assert answer.status_code == 400
    assert "handles: dev.kserve-functions.model.delete" in answer.json()["detail"]


async def test_event_grid_validation_handshake(api: Any) -> None:
    answer = await api("deploy").request(
        "OPTIONS", "/", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}
    )
    assert answer.status_code == 200
    assert answer.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
