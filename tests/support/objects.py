"""Reading stored objects in tests: typing help for the custom-objects API (which
returns plain ``object``) and the InferenceService reads most tests make."""

from __future__ import annotations

from typing import Any

from kserve_functions.resources import INFERENCE_SERVICE
from kubernetes import client


def as_dict(value: object) -> dict[str, Any]:
    """``value`` as the JSON object the apiserver returned (asserts it is one)."""
    assert isinstance(value, dict), f"expected a JSON object, got {type(value).__name__}"
    return value


def read_inference_service(
    api_client: client.ApiClient, namespace: str, name: str
) -> dict[str, Any]:
    """The InferenceService ``namespace/name`` as stored (raises ApiException 404 if absent)."""
    return as_dict(
        client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            INFERENCE_SERVICE.group,
            INFERENCE_SERVICE.version,
            namespace,
            INFERENCE_SERVICE.plural,
            name,
        )
    )


def inference_service_names(api_client: client.ApiClient, namespace: str) -> list[str]:
    """The names of the InferenceServices stored in ``namespace``."""
    listing = as_dict(
        client.CustomObjectsApi(api_client).list_namespaced_custom_object(
            INFERENCE_SERVICE.group, INFERENCE_SERVICE.version, namespace, INFERENCE_SERVICE.plural
        )
    )
    return [item["metadata"]["name"] for item in listing["items"]]
