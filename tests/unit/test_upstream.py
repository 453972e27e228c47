"""Finding the upstream Go modules' folders: the pinned version, from the Go module cache."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from controlplane import binaries, upstream
from controlplane.errors import ControlPlaneError


def _module_cache() -> Path:
    go = shutil.which("go")
    assert go is not None, "the upstream modules are found with the Go toolchain"
    go_env = subprocess.run(
        [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=60
    )
    return Path(go_env.stdout.strip())


@pytest.mark.parametrize("module", upstream.MODULES, ids=lambda m: m.path)
def test_each_module_is_pinned_and_locked_by_its_wrapper(module: upstream.GoModule) -> None:
    version = module.version()
    assert re.fullmatch(r"v\d+\.\d+\.\d+", version)
    go_sum = (module.wrapper_dir / "go.sum").read_text().splitlines()
    assert any(line.startswith(f"{module.path} {version} h1:") for line in go_sum)
    assert any(line.startswith(f"{module.path} {version}/go.mod h1:") for line in go_sum)


def test_the_crd_wrapper_requires_the_crd_modules_and_nothing_else() -> None:
    go_mod = (binaries.GOMOD_ROOT / "upstream-crds" / "go.mod").read_text()
    required = re.findall(r"^\s+(\S+) (v\S+)$", go_mod, re.M)

    assert sorted(required) == sorted(
        (module.path, module.version())
        for module in upstream.MODULES
        if module.wrapper == "upstream-crds"
    )
    assert upstream.KSERVE.wrapper_dir == binaries.KSERVE_CONTROLLER.module_dir


@pytest.mark.parametrize("module", upstream.MODULES, ids=lambda m: m.path)
def test_the_folder_is_the_module_cache_s_copy_of_the_pinned_version(
    module: upstream.GoModule,
) -> None:
    folder = upstream.module_dir(module)

    assert folder == _module_cache() / f"{module.path}@{module.version()}"
    assert folder.is_dir()


def test_a_module_path_is_found_or_named() -> None:
    module = upstream.GATEWAY_API
    assert upstream.module_file(module, "config/crd/standard").is_dir()

    with pytest.raises(ControlPlaneError) as missing:
        upstream.module_file(module, "config/nowhere.yaml")

    assert missing.value.message.startswith(
        f"Go module sigs.k8s.io/gateway-api {module.version()} has no config/nowhere.yaml: "
    )


def test_a_failed_download_names_the_module_its_version_and_go_s_reason(
    tmp_path: Path,
) -> None:
    # An empty module cache and no proxy: what a machine without network meets.
    environ = {**os.environ, "GOMODCACHE": str(tmp_path / "modcache"), "GOPROXY": "off"}
    module = upstream.KNATIVE_SERVING

    with pytest.raises(ControlPlaneError) as failed:
        upstream.module_dir(module, environ=environ)

    assert failed.value.message == (
        f"cannot download Go module knative.dev/serving {module.version()} (pinned in "
        f"{module.wrapper_dir / 'go.mod'}): module lookup disabled by GOPROXY=off: "
        "check the network or GOPROXY"
    )


def _fake_go(tmp_path: Path, answer: dict[str, str], status: int) -> dict[str, str]:
    """A PATH whose ``go`` prints ``answer`` as ``go mod download -json`` does."""
    go = tmp_path / "go"
    go.write_text(f"#!/bin/sh\necho '{json.dumps(answer)}'\nexit {status}\n")
    go.chmod(0o755)
    return {"PATH": str(tmp_path)}


def test_a_version_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    module = upstream.KNATIVE_EVENTING
    environ = _fake_go(
        tmp_path, {"Path": module.path, "Version": "v9.9.9", "Dir": str(tmp_path)}, 0
    )

    with pytest.raises(ControlPlaneError) as refused:
        upstream.module_dir(module, environ=environ)

    assert refused.value.message.startswith(
        f"go mod download gave knative.dev/eventing v9.9.9, not the pinned {module.version()}:"
    )


def test_without_go_the_module_is_named(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError) as missing:
        upstream.module_dir(upstream.KSERVE, environ={"PATH": str(tmp_path)})

    assert missing.value.message.startswith(
        "the Go toolchain (go) is not on PATH: the local cluster's manifests come from Go "
        f"module github.com/kserve/kserve {upstream.KSERVE.version()} (pinned in "
    )
