"""Generating the Kubernetes wrapper's go.mod from a release's go.mod."""

from __future__ import annotations

import pytest
from controlplane import pinning
from controlplane.errors import ControlPlaneError

RELEASE_GO_MOD = """\
module k8s.io/kubernetes

go 1.26.0

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
\tk8s.io/apiserver v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiserver => ./staging/src/k8s.io/apiserver
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
"""


def test_only_required_staging_modules_are_replaced() -> None:
    assert pinning.staging_modules(RELEASE_GO_MOD) == ["k8s.io/api", "k8s.io/apiserver"]


def test_wrapper_replaces_staging_modules_with_the_matching_release() -> None:
    go_mod = pinning.wrapper_go_mod(RELEASE_GO_MOD, "v1.37.2")

    assert "\ngo 1.26.0\n" in go_mod
    assert "\nmodule kserve-functions.local/kubernetes\n" in go_mod
    assert (
        "\ntool (\n"
        "\tk8s.io/kubernetes/cmd/kube-apiserver\n"
        "\tk8s.io/kubernetes/cmd/kube-controller-manager\n"
        "\tk8s.io/kubernetes/cmd/kube-scheduler\n"
        "\tk8s.io/kubernetes/cmd/kubectl\n"
        ")\n"
    ) in go_mod
    assert "\nrequire k8s.io/kubernetes v1.37.2\n" in go_mod
    assert go_mod.endswith(
        "replace (\n"
        "\tk8s.io/api => k8s.io/api v0.37.2\n"
        "\tk8s.io/apiserver => k8s.io/apiserver v0.37.2\n"
        ")\n"
    )


@pytest.mark.parametrize("version", ["1.37.2", "v0.37.2", "v1.37", "latest"])
def test_a_non_release_version_is_refused(version: str) -> None:
    with pytest.raises(ControlPlaneError, match="is not a Kubernetes release"):
        pinning.wrapper_go_mod(RELEASE_GO_MOD, version)
