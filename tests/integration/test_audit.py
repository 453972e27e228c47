"""Who changed a model: annotations on it and Kubernetes Events (``audit``), for real.

The function runs with ``AUTH_MODE=kubernetes``; the caller is a ServiceAccount
whose token the control plane minted. The Events are read back with the
official client, as ``kubectl events`` reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.kube import KubeRequest
from kubernetes import client
from support import workloads
from support.apiserver import send
from support.functions import FunctionLauncher
from support.objects import read_inference_service
from support.rbac import create_service_account, grant_inference_services
from support.workloads import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CHANGED_BY = "kserve-functions.dev/changed-by"
CHANGED_HOW = "kserve-functions.dev/changed-how"
CHANGED_AT = "kserve-functions.dev/changed-at"


def _events(admin_api: client.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    """The API's Events regarding InferenceService ``name``, oldest first.

    Read as JSON: the generated client's model refuses the Events other
    controllers write without an ``eventTime``.
    """
    path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    found = send(admin_api, KubeRequest("GET", path, "the Events")).body["items"]
    ours = [
        event
        for event in found
        if event["regarding"].get("kind") == "InferenceService"
        and event["regarding"].get("name") == name
        # KServe writes Events about the model too; these are the API's.
        and event.get("reportingController") == "kserve-functions.dev/api"
    ]
    return sorted(ours, key=lambda event: str(event.get("eventTime")))


@pytest.fixture
def alice(control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str) -> str:
    """A token of ServiceAccount ``alice``, allowed to manage models in ``namespace``."""
    create_service_account(admin_api, namespace, "alice")
    grant_inference_services(admin_api, namespace, service_account="alice")
    return control_plane.mint_service_account_token(namespace, "alice")


async def test_a_deploy_and_a_delete_name_the_service_account_that_asked(
    function_launcher: FunctionLauncher,
    function_env: dict[str, str],
    admin_api: client.ApiClient,
    namespace: str,
    alice: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    api, _ = function_launcher.start("root", {**function_env, "AUTH_MODE": "kubernetes"})
    who = f"system:serviceaccount:{namespace}:alice"
    headers = {"Authorization": f"Bearer {alice}"}
    body = {"name": "iris", "image": "r/m:1", "namespace": namespace}

    created = await api.post("/deploy", json=body, headers=headers)
    updated = await api.post("/deploy", json={**body, "image": "r/m:2"}, headers=headers)
    stored = read_inference_service(admin_api, namespace, "iris")
    deployment = wait_for(
        lambda: workloads.deployment(admin_api, namespace, "iris"), what="KServe's Deployment"
    )
    deployment_template_annotations = deployment["spec"]["template"]["metadata"].get(
        "annotations", {}
    )
    deleted = await api.delete(f"/models/{namespace}/iris", headers=headers)

    assert (created.status_code, updated.status_code, deleted.status_code) == (201, 200, 200)
    annotations = stored["metadata"]["annotations"]
    assert annotations[CHANGED_BY] == who
    assert annotations[CHANGED_HOW] == "POST /deploy"
    assert annotations[CHANGED_AT].endswith("Z")
    events = wait_for(
        lambda: found if len(found := _events(admin_api, namespace, "iris")) == 3 else None,
        what="the three audit Events",
    )
    assert [e["reason"] for e in events] == ["Deployed", "Updated", "Deleted"]
    assert all(who in e["note"] for e in events)
    assert events[0]["regarding"]["uid"] == stored["metadata"]["uid"]
    # KServe keeps them off the pods (serviceAnnotationDisallowedList), so a
    # retried deploy's new changed-at rolls nothing.
    template = deployment_template_annotations
    assert not {CHANGED_BY, CHANGED_AT, CHANGED_HOW} & set(template)
    assert events[2]["note"].endswith(f"({'DELETE'} /models/{namespace}/iris)")
    assert alice not in caplog.text


async def test_a_dry_run_records_nothing(
    api: Callable[[str], Any], admin_api: client.ApiClient, namespace: str
) -> None:
    answer = await api("deploy").post(
        "/deploy",
        params={"dryRun": "true"},
        json={"name": "dry", "image": "r/m:1", "namespace": namespace},
    )

    assert answer.status_code == 201, answer.text
    assert _events(admin_api, namespace, "dry") == []
