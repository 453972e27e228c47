"""The project's kubectl (k8s.io/kubernetes v1.37.2, built-in kustomize v5.8.1), run by tests.

The binary is the one ``controlplane.binaries`` builds and caches beside the
control plane's, so the manifests are rendered and applied exactly as
``kubectl kustomize`` and ``kubectl apply -k`` of that release do. Every
helper raises AssertionError, carrying kubectl's stderr, when kubectl fails.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import binaries
from controlplane.cluster import ControlPlane
from controlplane.errors import ControlPlaneError

# Far above what rendering or a dry run of the bases takes (about a second).
TIMEOUT_SECONDS = 120
# libyaml's loader when PyYAML has it: six times faster on a rendered base, same result.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def executable() -> Path:
    """The cached kubectl binary; fails the test with the builder's message if it cannot be had."""
    try:
        return binaries.ensure(binaries.KUBECTL)
    except ControlPlaneError as e:
        pytest.fail(f"kubectl could not be built: {e}", pytrace=False)


def run(args: Sequence[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``kubectl *args`` (stdin fed from ``stdin``); its outcome, asserted to exit 0."""
    argv = [str(executable()), *args]
    done = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (
        f"kubectl {' '.join(argv[1:])} exited {done.returncode}:\n{done.stderr.strip()}"
    )
    return done


def _mappings(documents: list[object], where: str) -> list[dict[str, Any]]:
    mappings: list[dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        assert isinstance(document, dict), f"{where}: a document is not a mapping: {document!r}"
        mappings.append(document)
    return mappings


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` prints, in its order (offline: no cluster)."""
    done = run(["kustomize", str(directory)])
    loaded = list(yaml.load_all(done.stdout, Loader=_LOADER))
    return _mappings(loaded, f"kubectl kustomize {directory}")


def cluster_args(plane: ControlPlane) -> list[str]:
    """The flags that point kubectl at ``plane`` as its admin.

    kubectl's discovery cache goes into the control plane's work dir (removed
    with it), not ~/.kube/cache: a port reused by a later session must not
    find the API groups of an earlier one.
    """
    return [f"--kubeconfig={plane.kubeconfig_path}", f"--cache-dir={plane.work_dir / 'kubectl'}"]


@dataclass(frozen=True)
class DryRun:
    """What ``kubectl apply -k --dry-run=server -o json`` answered.

    ``objects`` are the objects as the apiserver returned them (defaulted,
    admitted, not stored); ``stderr`` holds kubectl's warnings, the apiserver's
    Warning headers among them.
    """

    objects: list[dict[str, Any]]
    stderr: str


def dry_run_apply(plane: ControlPlane, directory: Path, *, namespace: str | None = None) -> DryRun:
    """``kubectl apply -k directory --dry-run=server --validate=strict -o json`` against ``plane``.

    Every object of the kustomization goes to the apiserver as a dry run with
    strict field validation (an unknown or duplicated field is an error, not a
    warning); ``namespace`` is ``-n``, for bases that name none. Asserts that
    kubectl exited 0, i.e. that the apiserver accepted every object.
    """
    args = ["apply", "-k", str(directory), "--dry-run=server", "--validate=strict", "-o", "json"]
    if namespace is not None:
        args += ["-n", namespace]
    done = run([*args, *cluster_args(plane)])
    printed = json.loads(done.stdout)
    assert isinstance(printed, dict), f"kubectl apply -k {directory}: not a JSON object"
    # kubectl prints a List when it applied several objects, the object itself for one.
    items = printed["items"] if printed.get("kind") == "List" else [printed]
    return DryRun(objects=_mappings(items, f"kubectl apply -k {directory}"), stderr=done.stderr)


def apply(plane: ControlPlane, objects: list[dict[str, Any]]) -> str:
    """``kubectl apply -f -`` of ``objects`` against ``plane``, for real; kubectl's report."""
    args = ["apply", "-f", "-", "--validate=strict", *cluster_args(plane)]
    return run(args, stdin=yaml.safe_dump_all(objects, sort_keys=False)).stdout


def identity(obj: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """(apiVersion, kind, namespace or None, name): what tells ``obj`` from other objects."""
    metadata = obj["metadata"]
    return obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"]
