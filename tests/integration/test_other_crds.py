"""Knative Serving/Eventing and Gateway API objects can be created (CRDs installed)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from support.objects import as_dict

pytestmark = pytest.mark.integration

_KNATIVE_SERVICE = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "deploy"},
    "spec": {"template": {"spec": {"containers": [{"image": "registry.example.com/fn:v1"}]}}},
}
_BROKER = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Broker",
    "metadata": {"name": "default"},
}
_TRIGGER = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Trigger",
    "metadata": {"name": "deploy-on-model-deploy"},
    "spec": {
        "broker": "default",
        "filter": {"attributes": {"type": "dev.kserve-functions.model.deploy"}},
        "subscriber": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "deploy"}
        },
    },
}
_HTTP_ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "kserve-api"},
    "spec": {
        "parentRefs": [{"name": "gateway"}],
        "rules": [
            {
                "matches": [{"path": {"type": "Exact", "value": "/deploy"}, "method": "POST"}],
                "backendRefs": [{"name": "deploy", "port": 80}],
            }
        ],
    },
}


def _is_subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _is_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_is_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


@pytest.mark.parametrize(
    ("plural", "body"),
    [
        ("services", _KNATIVE_SERVICE),
        ("brokers", _BROKER),
        ("triggers", _TRIGGER),
        ("httproutes", _HTTP_ROUTE),
    ],
    ids=["knative-service", "broker", "trigger", "httproute"],
)
def test_object_of_installed_crd_can_be_created(
    admin_api: client.ApiClient, namespace: str, plural: str, body: dict[str, Any]
) -> None:
    group, version = body["apiVersion"].split("/")
    custom = client.CustomObjectsApi(admin_api)

    created = as_dict(
        custom.create_namespaced_custom_object(group, version, namespace, plural, body)
    )

    assert created["kind"] == body["kind"]
    stored = as_dict(
        custom.get_namespaced_custom_object(
            group, version, namespace, plural, body["metadata"]["name"]
        )
    )
    # The apiserver may add defaults, but must keep (not prune) every field we sent.
    assert _is_subset(body.get("spec", {}), stored.get("spec", {}))
