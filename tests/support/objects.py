"""Objects in tests: typing help for the custom-objects API (which returns plain
``object``), the InferenceService reads most tests make, the minimal
InferenceService tests write, and the YAML documents of a manifest file."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from kserve_functions.core.resources import INFERENCE_SERVICE, KSERVE_CONTAINER
from kubernetes import client

DEFAULT_IMAGE = "kserve/sklearnserver:v1"
"""The image of an InferenceService a test writes when the image does not matter."""


def as_dict(value: object) -> dict[str, Any]:
    """``value`` as the JSON object the apiserver returned (asserts it is one)."""
    assert isinstance(value, dict), f"expected a JSON object, got {type(value).__name__}"
    return value


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of ``path``, empty ones skipped (each asserted to be a mapping)."""
    with path.open(encoding="utf-8") as stream:
        loaded = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
    for doc in loaded:
        assert isinstance(doc, dict), f"{path}: every document must be a mapping"
    return loaded


def inference_service(
    namespace: str,
    name: str,
    image: str = DEFAULT_IMAGE,
    *,
    metadata: Mapping[str, Any] | None = None,
    predictor: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A minimal valid InferenceService ``namespace/name``: a custom predictor whose one
    ``kserve-container`` runs ``image``.

    ``metadata``, ``predictor`` and ``container`` are further fields of the object's
    metadata, its ``spec.predictor`` and that container (copied; a key given there
    replaces the builder's own, ``predictor={"containers": [...]}`` included).
    """
    return {
        "apiVersion": INFERENCE_SERVICE.api_version,
        "kind": INFERENCE_SERVICE.kind,
        "metadata": {"name": name, "namespace": namespace, **copy.deepcopy(dict(metadata or {}))},
        "spec": {
            "predictor": {
                "containers": [
                    {
                        "name": KSERVE_CONTAINER,
                        "image": image,
                        **copy.deepcopy(dict(container or {})),
                    }
                ],
                **copy.deepcopy(dict(predictor or {})),
            }
        },
    }


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
