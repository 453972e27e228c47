"""The project's Knative Eventing wiring (``k8s/eventing/``) for ``make dev``'s cluster.

``apply`` runs ``kubectl apply -k`` of a local overlay of ``k8s/eventing/``
that changes one thing: every Trigger's subscriber (a Knative Service of the
functions in a real cluster; no Knative Serving data plane runs here) becomes
one URI, the API served beside the cluster. The Broker, the EventTypes, the
ApiServerSource and the SinkBinding are applied as they are. ``curl_example``
is the first event a newcomer sends through the real Broker.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

from controlplane.errors import ControlPlaneError

EVENTING_DIR = Path(__file__).resolve().parents[4] / "k8s" / "eventing"
BROKER = "default"
DEPLOY_TYPE = "dev.kserve-functions.model.deploy"
_KUBECTL_TIMEOUT_SECONDS = 120.0


def overlay(folder: Path, subscriber_uri: str) -> Path:
    """Write the overlay's ``kustomization.yaml`` into ``folder``; return ``folder``."""
    patch = [{"op": "replace", "path": "/spec/subscriber", "value": {"uri": subscriber_uri}}]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(EVENTING_DIR, folder)],
        "patches": [{"target": {"kind": "Trigger"}, "patch": json.dumps(patch)}],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(json.dumps(kustomization, indent=2) + "\n")
    return folder


def apply(
    *, kubectl: Path, kubeconfig: Path, folder: Path, namespace: str, subscriber_uri: str
) -> None:
    """``kubectl apply -k`` the overlay into ``namespace``.

    Raises:
        ControlPlaneError: kubectl failed (the apiserver or a webhook refused
            an object); the message carries kubectl's error.
    """
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", "apply", "-n", namespace]
    argv += ["-k", str(overlay(folder, subscriber_uri))]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=_KUBECTL_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise ControlPlaneError(
            f"applying k8s/eventing/ to namespace {namespace} failed",
            details=result.stderr.strip()[-2000:],
        )


def curl_example(ingress_url: str, namespace: str) -> str:
    """A ``curl`` that sends a deploy request event (binary mode) to the Broker's ingress."""
    data = json.dumps(
        {"name": "first-model", "image": "registry.example/team/model:1", "namespace": namespace}
    )
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": DEPLOY_TYPE,
        "Ce-Source": "/dev/curl",
        "Ce-Id": "first-event",
        "Content-Type": "application/json",
    }
    words = ["curl", "-i", ingress_url]
    for name, value in headers.items():
        words += ["-H", f"{name}: {value}"]
    words += ["-d", data]
    return shlex.join(words)
