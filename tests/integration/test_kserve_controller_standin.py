"""The KServe controller stand-in writes status the CRD keeps, in KServe's shape."""

from __future__ import annotations

import pytest
from kserve_functions.resources import INFERENCE_SERVICE
from kubernetes import client
from support.kserve_controller import FailureInfo, KServeControllerStandIn
from support.objects import read_inference_service

pytestmark = pytest.mark.integration


def _create(admin_api: client.ApiClient, namespace: str, name: str) -> None:
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        INFERENCE_SERVICE.group,
        INFERENCE_SERVICE.version,
        namespace,
        INFERENCE_SERVICE.plural,
        {
            "apiVersion": INFERENCE_SERVICE.api_version,
            "kind": INFERENCE_SERVICE.kind,
            "metadata": {"name": name},
            "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "r/m:1"}]}},
        },
    )


def test_mark_ready_is_stored_through_the_status_subresource(
    admin_api: client.ApiClient, namespace: str, kserve_controller: KServeControllerStandIn
) -> None:
    _create(admin_api, namespace, "iris")

    kserve_controller.mark_ready(
        namespace, "iris", url="http://iris.example.com", revision="iris-r1"
    )

    stored = read_inference_service(admin_api, namespace, "iris")
    status = stored["status"]
    assert status["url"] == "http://iris.example.com"
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    predictor = status["components"]["predictor"]
    assert predictor["latestReadyRevision"] == "iris-r1"
    assert predictor["traffic"] == [
        {"revisionName": "iris-r1", "percent": 100, "latestRevision": True}
    ]
    assert status["modelStatus"]["states"]["activeModelState"] == "Loaded"


def test_mark_not_ready_replaces_ready_and_keeps_the_failure(
    admin_api: client.ApiClient, namespace: str, kserve_controller: KServeControllerStandIn
) -> None:
    _create(admin_api, namespace, "iris")
    kserve_controller.mark_ready(namespace, "iris")

    kserve_controller.mark_not_ready(
        namespace,
        "iris",
        reason="RevisionFailed",
        message="image pull failed",
        failure=FailureInfo(reason="ModelLoadFailed", message="no model.joblib", exit_code=1),
    )

    status = read_inference_service(admin_api, namespace, "iris")["status"]
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready == [
        {
            "type": "Ready",
            "status": "False",
            "reason": "RevisionFailed",
            "message": "image pull failed",
            "lastTransitionTime": ready[0]["lastTransitionTime"],
        }
    ]
    assert "url" not in status
    failure = status["modelStatus"]["lastFailureInfo"]
    assert (failure["reason"], failure["message"], failure["exitCode"]) == (
        "ModelLoadFailed",
        "no model.joblib",
        1,
    )


def test_status_write_does_not_touch_the_spec_or_generation(
    admin_api: client.ApiClient, namespace: str, kserve_controller: KServeControllerStandIn
) -> None:
    _create(admin_api, namespace, "iris")
    before = read_inference_service(admin_api, namespace, "iris")

    kserve_controller.mark_ready(namespace, "iris", observed_generation=0)

    after = read_inference_service(admin_api, namespace, "iris")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == 1
    assert after["status"]["observedGeneration"] == 0
