"""What the tests through the real Knative Broker share: the local overlay of
k8s/eventing/ and test Triggers (the notify function sending into a Broker is
the fixture ``brokered_notify``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support.functions import REPO_ROOT

EVENTING_DIR = REPO_ROOT / "k8s" / "eventing"
BROKER = "default"


def patch(target: Mapping[str, str], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """A kustomize patch: JSON-patch ``operations`` on the objects ``target`` selects."""
    return {"target": dict(target), "patch": json.dumps(operations)}


def overlay(folder: Path, patches: list[dict[str, Any]]) -> Path:
    """Write into ``folder`` a kustomization of k8s/eventing/ with ``patches``; return it."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(EVENTING_DIR, folder)],
        "patches": patches,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(json.dumps(kustomization, indent=2))
    return folder


def trigger(
    namespace: str, name: str, url: str, attributes: Mapping[str, str] | None
) -> dict[str, Any]:
    """A Trigger on the Broker delivering to ``url``, filtered on exact ``attributes``."""
    spec: dict[str, Any] = {"broker": BROKER, "subscriber": {"uri": url}}
    if attributes:
        spec["filter"] = {"attributes": dict(attributes)}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
