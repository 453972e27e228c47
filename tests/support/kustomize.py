"""Raw apiserver requests for the manifests' objects, as test_least_privilege.py makes them.

What remains of a hand-written kustomize renderer: the kustomize bases are now
rendered and dry-run applied by the project's kubectl (``support.kubectl``).
test_least_privilege.py still creates k8s/rbac.yaml's objects and calls the API
through ``send``, so ``documents``, ``object_path``, ``send`` and ``Answer`` stay
here until it moves to ``support.kubectl``; then this module goes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

# (apiVersion, kind) → (plural, namespaced), for the kinds an rbac.yaml of the bases may hold.
KINDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
}


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of ``path`` (each asserted to be a mapping)."""
    with path.open(encoding="utf-8") as stream:
        loaded = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
    for doc in loaded:
        assert isinstance(doc, dict), f"{path}: every document must be a mapping"
    return loaded


def object_path(obj: dict[str, Any], *, name: str | None = None) -> str:
    """The API path of ``obj`` (of its collection when ``name`` is None)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    assert (api_version, kind) in KINDS, f"unknown kind {(api_version, kind)}: add it to KINDS"
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
