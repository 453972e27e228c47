"""Pure parts of the binary builder: versions, cache paths, flags, error wording."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from controlplane import binaries
from controlplane.errors import ControlPlaneError


@pytest.mark.parametrize("component", binaries.COMPONENTS.values(), ids=binaries.COMPONENTS)
def test_each_wrapper_module_pins_a_release_version(component: binaries.Component) -> None:
    assert re.fullmatch(r"v\d+\.\d+\.\d+", component.version())
    assert (component.module_dir / "go.sum").is_file(), "the go.sum is the lock: commit it"


def test_kube_apiserver_wrapper_replaces_every_staging_module_with_the_matching_release() -> None:
    go_mod = (binaries.KUBE_APISERVER.module_dir / "go.mod").read_text()
    minor = binaries.KUBE_APISERVER.version().split(".", 1)[1]  # v1.37.2 -> 37.2
    replaced = re.findall(r"^\s+(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", go_mod, re.M)
    assert len(replaced) > 25
    assert all(source == target for source, target, _ in replaced)
    assert {version for _, _, version in replaced} == {f"v0.{minor}"}


def test_kube_apiserver_version_goes_into_component_base() -> None:
    flags = binaries.KUBE_APISERVER.ldflags("v1.37.2")
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in flags
    assert "-X k8s.io/component-base/version.gitMajor=1" in flags
    assert "-X k8s.io/component-base/version.gitMinor=37" in flags


@pytest.mark.parametrize(
    ("module_version", "release"),
    [("v0.316.0", "3.16.0"), ("v0.300.1", "3.0.1"), ("v0.55.1", "2.55.1")],
)
def test_prometheus_module_version_names_its_release(module_version: str, release: str) -> None:
    assert binaries.prometheus_release(module_version) == release
    assert binaries.PROMETHEUS.ldflags(module_version) == [
        f"-X github.com/prometheus/common/version.Version={release}"
    ]


def test_prometheus_version_that_is_no_module_release_is_named() -> None:
    with pytest.raises(ControlPlaneError) as bad:
        binaries.prometheus_release("v3.16.0")
    assert bad.value.message == (
        "v3.16.0 is not a github.com/prometheus/prometheus release (expected v0.Y.Z)"
    )


def test_prometheus_and_promtool_share_one_wrapper_module() -> None:
    assert binaries.PROMETHEUS.module_dir == binaries.PROMTOOL.module_dir
    assert binaries.PROMTOOL.package == "github.com/prometheus/prometheus/cmd/promtool"


def test_cache_path_is_keyed_by_name_and_version(tmp_path: Path) -> None:
    path = binaries.cached_path(binaries.ETCD, tmp_path)
    assert path == tmp_path / f"etcd-{binaries.ETCD.version()}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"KSERVE_FUNCTIONS_CACHE": "/c", "XDG_CACHE_HOME": "/x"}, Path("/c/bin")),
        ({"XDG_CACHE_HOME": "/x"}, Path("/x/kserve-functions/bin")),
        ({}, Path.home() / ".cache" / "kserve-functions" / "bin"),
    ],
)
def test_default_cache_dir(environ: dict[str, str], expected: Path) -> None:
    assert binaries.default_cache_dir(environ) == expected


def test_kubebuilder_assets_replace_the_build(tmp_path: Path) -> None:
    for name in ("kube-apiserver", "etcd"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(stat.S_IRWXU)
    environ = {"KUBEBUILDER_ASSETS": str(tmp_path), "PATH": ""}

    assert binaries.ensure(binaries.ETCD, environ=environ) == tmp_path / "etcd"
    assert binaries.ensure(binaries.KUBE_APISERVER, environ=environ) == tmp_path / "kube-apiserver"


def test_kubebuilder_assets_without_the_binary_is_named(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError) as missing:
        binaries.ensure(binaries.ETCD, environ={"KUBEBUILDER_ASSETS": str(tmp_path)})
    assert missing.value.message == (
        f"KUBEBUILDER_ASSETS={tmp_path} has no executable etcd: put it there, "
        "or unset KUBEBUILDER_ASSETS to build it from Go modules"
    )


def test_too_old_go_is_named_with_the_fix(tmp_path: Path) -> None:
    # A stand-in `go` that reports an old release, as an old installation would.
    fake_go = tmp_path / "go"
    fake_go.write_text("#!/bin/sh\necho go1.22.5\n")
    fake_go.chmod(stat.S_IRWXU)
    environ = {"PATH": str(tmp_path)}

    with pytest.raises(ControlPlaneError) as old:
        binaries.ensure(binaries.ETCD, cache_dir=tmp_path / "cache", environ=environ)

    assert old.value.message == (
        f"{fake_go} is go1.22.5; the control plane needs Go 1.26 or newer: upgrade Go"
    )
