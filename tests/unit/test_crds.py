"""Finding and checking the CRD folder, before any process starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from controlplane import crds
from controlplane.cluster import REPO_ROOT
from controlplane.errors import ControlPlaneError

SHARED_CRDS = Path(os.environ.get("CRD_DIR") or crds.default_crd_dir(REPO_ROOT))


def test_the_shared_folder_holds_every_crd_the_project_uses() -> None:
    names = {crd["metadata"]["name"] for crd in crds.load_crds(SHARED_CRDS)}
    assert {
        "inferenceservices.serving.kserve.io",
        "servingruntimes.serving.kserve.io",
        "clusterservingruntimes.serving.kserve.io",
        "services.serving.knative.dev",
        "brokers.eventing.knative.dev",
        "triggers.eventing.knative.dev",
        "eventtypes.eventing.knative.dev",
        "httproutes.gateway.networking.k8s.io",
    } <= names


def test_missing_folder_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError, match=r"CRD folder .*/nope does not exist: set CRD_DIR"):
        crds.check_crd_dir(tmp_path / "nope")


def test_folder_lacking_an_upstream_project_is_named(tmp_path: Path) -> None:
    (tmp_path / "kserve").mkdir()
    (tmp_path / "gateway-api").mkdir()
    with pytest.raises(ControlPlaneError) as incomplete:
        crds.check_crd_dir(tmp_path)
    assert "lacks knative-serving, knative-eventing:" in incomplete.value.message
