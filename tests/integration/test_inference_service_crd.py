"""The full InferenceService CRD is installed: objects round-trip, bad ones are refused.

These go through the official Python client, as the functions will, to prove
the local apiserver behaves as a cluster's would for the resource we manage --
KServe's admission webhooks included, since the real controller runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support.objects import as_dict, inference_service
from support.workloads import wait_for

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = (
    INFERENCE_SERVICE.group,
    INFERENCE_SERVICE.version,
    INFERENCE_SERVICE.plural,
)


def _custom_container_isvc(namespace: str, name: str, image: str) -> dict[str, Any]:
    """An InferenceService using more of the schema than the minimal one: replicas,
    pull policy, env."""
    return inference_service(
        namespace,
        name,
        image,
        predictor={"minReplicas": 1},
        container={
            "imagePullPolicy": "Always",
            "env": [{"name": "MODEL_PATH", "value": "/models"}],
        },
    )


def _server_side_apply(
    custom: client.CustomObjectsApi, namespace: str, body: dict[str, Any]
) -> tuple[object, int]:
    """Apply ``body`` the way the deploy function will: SSA, our field manager, force."""
    applied, status, _ = custom.patch_namespaced_custom_object_with_http_info(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        body["metadata"]["name"],
        body,
        field_manager="kserve-functions",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    return applied, status


def test_inference_service_create_read_list_apply_delete(
    admin_api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(admin_api)
    body = _custom_container_isvc(namespace, "iris", "registry.example.com/iris:v1")

    created = as_dict(
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    )
    assert created["metadata"]["generation"] == 1

    read = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "iris"))
    container = read["spec"]["predictor"]["containers"][0]
    assert container["image"] == "registry.example.com/iris:v1"
    assert container["env"] == [{"name": "MODEL_PATH", "value": "/models"}]

    listed = as_dict(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["iris"]

    applied_object, status = _server_side_apply(
        custom, namespace, _custom_container_isvc(namespace, "iris", "registry.example.com/iris:v2")
    )
    assert status == 200  # updated
    applied = as_dict(applied_object)
    assert applied["spec"]["predictor"]["containers"][0]["image"] == "registry.example.com/iris:v2"
    assert applied["metadata"]["generation"] == 2
    managers = {entry["manager"] for entry in applied["metadata"]["managedFields"]}
    assert "kserve-functions" in managers

    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "iris")

    # KServe's finalizer holds the object until the controller has cleaned up.
    def gone() -> int | None:
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "iris")
        except ApiException as e:
            return int(e.status)
        return None

    assert wait_for(gone, what="the deleted InferenceService gone") == 404


def test_server_side_apply_of_a_new_object_answers_201(
    admin_api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(admin_api)
    _, status = _server_side_apply(
        custom,
        namespace,
        _custom_container_isvc(namespace, "fresh", "registry.example.com/fresh:v1"),
    )
    assert status == 201


@pytest.mark.parametrize(
    ("field", "value", "status", "complaint"),
    [
        # A value outside the schema's enum: the apiserver's schema validation.
        ("scaleMetric", "latency", 422, "spec.predictor.scaleMetric: Unsupported value"),
        # A value of the wrong JSON type never reaches the schema: KServe's
        # defaulting webhook runs first and cannot decode the object.
        ("minReplicas", "two", 400, "minReplicas"),
        ("maxReplicas", 1.5, 400, "maxReplicas"),
    ],
)
def test_an_invalid_inference_service_is_refused_and_not_stored(
    admin_api: client.ApiClient,
    namespace: str,
    field: str,
    value: object,
    status: int,
    complaint: str,
) -> None:
    custom = client.CustomObjectsApi(admin_api)
    body = _custom_container_isvc(namespace, "broken", "registry.example.com/iris:v1")
    body["spec"]["predictor"][field] = value

    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    assert refused.value.status == status
    assert complaint in str(refused.value.body)
    remaining = as_dict(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    assert remaining["items"] == []
