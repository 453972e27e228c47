"""The control plane runs the pinned versions built from Go modules."""

from __future__ import annotations

import os
import subprocess

import pytest
from controlplane import binaries
from controlplane.cluster import ControlPlane
from kubernetes import client

pytestmark = pytest.mark.integration

# With KUBEBUILDER_ASSETS the binaries are whatever that folder holds, not ours.
_OWN_BINARIES = pytest.mark.skipif(
    bool(os.environ.get("KUBEBUILDER_ASSETS")),
    reason="KUBEBUILDER_ASSETS replaces the pinned kube-apiserver and etcd",
)


def _version_output(component: binaries.Component, *args: str) -> str:
    path = binaries.ensure(component)
    result = subprocess.run([str(path), *args], capture_output=True, text=True, check=True)
    return result.stdout + result.stderr


@_OWN_BINARIES
def test_kube_apiserver_binary_reports_the_pinned_version() -> None:
    version = binaries.KUBE_APISERVER.version()
    assert _version_output(binaries.KUBE_APISERVER, "--version").strip() == f"Kubernetes {version}"


@_OWN_BINARIES
def test_etcd_binary_reports_the_pinned_version() -> None:
    version = binaries.ETCD.version().removeprefix("v")
    assert f"etcd Version: {version}\n" in _version_output(binaries.ETCD, "--version")


def test_func_cli_reports_the_pinned_version() -> None:
    version = binaries.FUNC.version()
    assert _version_output(binaries.FUNC, "version").strip() == version


@_OWN_BINARIES
def test_running_apiserver_serves_the_pinned_version(control_plane: ControlPlane) -> None:
    with control_plane.admin_client() as api_client:
        info = client.VersionApi(api_client).get_code()
    assert info.git_version == binaries.KUBE_APISERVER.version()
