"""Building the binaries: clear one-line failures, and a wrapper module true to its release.

These run the real ``python -m controlplane build`` and the real Go toolchain
against an empty cache, so nothing here touches the binaries the suite uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from controlplane import binaries, pinning
from controlplane.processes import free_port

pytestmark = pytest.mark.integration


def _build(cache_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlplane", "--cache-dir", str(cache_dir), "build", "etcd"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_missing_go_toolchain_is_named_with_the_fix(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    env.pop("KUBEBUILDER_ASSETS", None)

    result = _build(tmp_path / "cache", env)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: the Go toolchain (go) is not on PATH: install Go 1.26 or newer, or set "
        "KUBEBUILDER_ASSETS to a folder holding kube-apiserver and etcd"
    ]
    assert not (tmp_path / "cache").exists()


def test_unreachable_module_proxy_is_named_with_the_fix(tmp_path: Path) -> None:
    proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        **os.environ,
        "GOPROXY": proxy,
        # An empty module cache forces downloads; -modcacherw lets pytest delete it.
        "GOMODCACHE": str(tmp_path / "gomodcache"),
        "GOFLAGS": "-modcacherw",
    }
    env.pop("KUBEBUILDER_ASSETS", None)
    cache = tmp_path / "cache"

    result = _build(cache, env)

    assert result.returncode == 1
    version = binaries.ETCD.version()
    progress, message, *details = result.stderr.splitlines()
    assert progress.startswith(f"building etcd {version} from Go modules into {cache}")
    assert message.startswith(
        f"error: cannot build etcd {version}: downloading Go modules through {proxy} failed ("
    )
    assert message.endswith("): check the network or GOPROXY")
    assert "connection refused" in message
    assert details == [f"full build output: {cache / f'etcd-{version}.build.log'}"]
    # Nothing half-built is left where the next run would take it for a binary.
    assert sorted(p.name for p in cache.iterdir()) == [f"etcd-{version}.build.log"]


def test_committed_kubernetes_wrapper_matches_its_release() -> None:
    """The committed replace list is exactly what `pin-kubernetes` would generate."""
    module_dir = binaries.KUBE_APISERVER.module_dir
    version = binaries.KUBE_APISERVER.version()
    generated = pinning.wrapper_go_mod(
        pinning.release_go_mod(version, cwd=module_dir.parent), version
    )
    committed = (module_dir / "go.mod").read_text()

    def replaces(go_mod: str) -> str:
        return go_mod[go_mod.index("replace (") :]

    assert replaces(committed) == replaces(generated)
    assert committed.startswith(generated[: generated.index("module ")])
