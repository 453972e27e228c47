"""Render the project's kustomize bases as ``kubectl apply -k`` would, and send them.

The bases use only what kubectl's built-in kustomize renders offline: plain
``resources`` (files, or folders holding a kustomization.yaml) and
``namespace``. ``render`` refuses anything else, so a transformer added to a
base fails the tests instead of being silently ignored. ``send`` is one raw
apiserver request (any kind, any body), for dry runs of what ``render`` made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

# What a kustomization.yaml may hold: nothing that transforms its resources but the namespace.
_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources"}

# (apiVersion, kind) → (plural, namespaced), for every kind the bases hold.
KINDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Service"): ("services", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("serving.knative.dev/v1", "Service"): ("services", True),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): ("httproutes", True),
    ("eventing.knative.dev/v1", "Broker"): ("brokers", True),
    ("eventing.knative.dev/v1", "Trigger"): ("triggers", True),
    ("eventing.knative.dev/v1beta2", "EventType"): ("eventtypes", True),
}


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of ``path`` (each asserted to be a mapping)."""
    with path.open(encoding="utf-8") as stream:
        loaded = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
    for doc in loaded:
        assert isinstance(doc, dict), f"{path}: every document must be a mapping"
    return loaded


def kustomization(directory: Path) -> dict[str, Any]:
    """The kustomization.yaml of ``directory``, checked to use only what ``render`` renders."""
    (found,) = documents(directory / "kustomization.yaml")
    assert found["kind"] == "Kustomization", directory
    extra = set(found) - _KUSTOMIZATION_KEYS
    assert not extra, f"{directory}/kustomization.yaml uses {sorted(extra)}"
    return found


def namespaced(obj: dict[str, Any]) -> bool:
    """Whether ``obj``'s kind lives in a namespace."""
    key = (obj["apiVersion"], obj["kind"])
    assert key in KINDS, f"unknown kind {key}: add it to KINDS"
    return KINDS[key][1]


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kustomize build directory`` prints, in resource order."""
    spec = kustomization(directory)
    rendered: list[dict[str, Any]] = []
    for resource in spec["resources"]:
        path = (directory / resource).resolve()
        # kustomize's default load restrictor: nothing from outside the folder.
        assert path.is_relative_to(directory.resolve()), f"{resource} is outside {directory}"
        if path.is_dir():
            rendered.extend(render(path))
        else:
            assert path.is_file(), f"resource {resource!r} is not a file of {directory}"
            rendered.extend(documents(path))
    namespace = spec.get("namespace")
    if namespace:
        for obj in rendered:
            if namespaced(obj):
                obj["metadata"]["namespace"] = namespace
    return rendered


def object_path(obj: dict[str, Any], *, name: str | None = None) -> str:
    """The API path of ``obj`` (of its collection when ``name`` is None)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural, is_namespaced = KINDS[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if is_namespaced:
        prefix += f"/namespaces/{obj['metadata']['namespace']}"
    path = f"{prefix}/{plural}"
    return f"{path}/{name}" if name else path


@dataclass(frozen=True)
class Answer:
    """The apiserver's answer: status, decoded JSON body, Warning header (None if absent)."""

    status: int
    body: dict[str, Any]
    warning: str | None


def send(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    body: object = None,
    query: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request to the apiserver as ``api``'s identity; never raises on a status."""
    serialized = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params={
            "Content-Type": content_type,
            "Accept": "application/json",
            **(headers or {}),
        },
        body=body,
        auth_settings=["BearerToken"],
    )
    _, url, sent_headers, payload, _ = serialized
    # The REST response's methods are unannotated: handle it as what it is, untyped.
    response: Any = api.call_api(method, url, header_params=sent_headers, body=payload)
    response.read()
    raw = response.data or b"{}"
    decoded = json.loads(raw)
    assert isinstance(decoded, dict), f"{method} {path}: not a JSON object"
    warning = response.getheader("Warning")
    return Answer(
        status=int(response.status),
        body=decoded,
        warning=str(warning) if warning is not None else None,
    )


def dry_run_apply(api: client.ApiClient, obj: dict[str, Any]) -> Answer:
    """Server-side apply ``obj`` with a dry run and strict field validation."""
    return send(
        api,
        "PATCH",
        object_path(obj, name=obj["metadata"]["name"]),
        body=obj,
        query=[("dryRun", "All"), ("fieldValidation", "Strict"), ("fieldManager", "tests")],
        content_type="application/apply-patch+yaml",
    )
