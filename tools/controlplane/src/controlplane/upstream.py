"""Upstream manifests from the Go modules the project pins, found in the Go module cache.

What the launcher installs besides its own objects lives in upstream
repositories that are Go modules: KServe's CRDs and configuration
(``github.com/kserve/kserve``) and the CRDs of Knative Serving
(``knative.dev/serving``), Knative Eventing (``knative.dev/eventing``) and
Gateway API (``sigs.k8s.io/gateway-api``). A module's archive holds its whole
repository tree at the tag, manifests included, and the Go module cache keeps
it extracted (read-only, its checksum verified against the ``go.sum`` of the
module that requires it). So each is pinned by a wrapper module under
``tools/controlplane/gomod/``, as the binaries are, and its files are read where
``go mod download -json <module>``, run in that wrapper, says the module is
(its ``Dir``): at the version the wrapper's ``go.mod`` requires, downloaded
once, found again in milliseconds.

KServe's files come from ``gomod/kserve-controller/``, the wrapper the
controller manager is built from, so one version bump there moves the binary
and its configuration together; so do Knative Eventing's, from
``gomod/knative-eventing/``. The others come from ``gomod/upstream-crds/``,
which builds nothing and only pins them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane import binaries
from controlplane.errors import ControlPlaneError

# What `go mod download` of a module already in the cache takes is milliseconds;
# a first download of KServe (its whole repository) takes seconds. This bounds a
# proxy that accepts the connection and never answers.
DOWNLOAD_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class GoModule:
    """An upstream Go module and the wrapper module under ``gomod/`` that pins its version."""

    path: str
    wrapper: str

    @property
    def wrapper_dir(self) -> Path:
        """The committed wrapper module whose ``go.mod``/``go.sum`` pin this module."""
        return binaries.GOMOD_ROOT / self.wrapper

    def version(self) -> str:
        """The version the wrapper's ``go.mod`` requires.

        Raises:
            ControlPlaneError: the wrapper's ``go.mod`` is missing or does not require it.
        """
        return binaries.required_version(self.wrapper_dir, self.path)


KSERVE = GoModule("github.com/kserve/kserve", "kserve-controller")
KNATIVE_SERVING = GoModule("knative.dev/serving", "upstream-crds")
KNATIVE_EVENTING = GoModule("knative.dev/eventing", "knative-eventing")
GATEWAY_API = GoModule("sigs.k8s.io/gateway-api", "upstream-crds")
MODULES = (KSERVE, KNATIVE_SERVING, KNATIVE_EVENTING, GATEWAY_API)


def module_dir(module: GoModule, *, environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding ``module``'s files at its pinned version; downloads it if needed.

    Runs ``go mod download -json <module>`` in the wrapper module with its
    ``go.mod`` read-only and the local Go toolchain, and returns the ``Dir``
    it reports.

    Raises:
        ControlPlaneError: no ``go`` on PATH, or the download failed; the
            message names the module, its version and Go's reason.
    """
    env = dict(os.environ if environ is None else environ)
    version = module.version()
    where = f"{module.path} {version} (pinned in {module.wrapper_dir / 'go.mod'})"
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        raise ControlPlaneError(
            f"the Go toolchain (go) is not on PATH: the local cluster's manifests come from "
            f"Go module {where}: install Go {binaries.MINIMUM_GO[0]}.{binaries.MINIMUM_GO[1]} "
            "or newer"
        )
    # The committed go.sum is the lock: never let Go edit go.mod, nor fetch a toolchain.
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -mod=readonly".strip()
    env["GOTOOLCHAIN"] = "local"
    try:
        result = subprocess.run(
            [go, "mod", "download", "-json", module.path],
            cwd=module.wrapper_dir,
            capture_output=True,
            text=True,
            env=env,
            timeout=DOWNLOAD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise ControlPlaneError(
            f"cannot download Go module {where}: no answer within "
            f"{DOWNLOAD_TIMEOUT_SECONDS:.0f}s: check the network or GOPROXY"
        ) from e
    reported = _json_object(result.stdout)
    folder = reported.get("Dir")
    if result.returncode != 0 or not isinstance(folder, str) or not folder:
        reason = str(reported.get("Error") or result.stderr.strip() or "no output")
        raise ControlPlaneError(
            f"cannot download Go module {where}: {reason.splitlines()[0][:300]}: "
            "check the network or GOPROXY",
            details=result.stderr.strip()[:2000],
        )
    if reported.get("Version") != version:
        raise ControlPlaneError(
            f"go mod download gave {module.path} {reported.get('Version')}, not the pinned "
            f"{version}: run `go mod tidy` in {module.wrapper_dir} and commit its go.mod/go.sum"
        )
    return Path(folder)


def module_file(
    module: GoModule, relative: str, *, environ: Mapping[str, str] | None = None
) -> Path:
    """The file (or folder) ``relative`` inside ``module`` at its pinned version.

    Raises:
        ControlPlaneError: the module cannot be had, or it has no such path at
            that version (an upstream layout change after a version bump).
    """
    path = module_dir(module, environ=environ) / relative
    if not path.exists():
        raise ControlPlaneError(
            f"Go module {module.path} {module.version()} has no {relative}: its layout "
            f"changed; update the path in controlplane (or the version in "
            f"{module.wrapper_dir / 'go.mod'})"
        )
    return path


def _json_object(text: str) -> dict[str, Any]:
    """The one JSON object ``go mod download -json`` prints, or ``{}`` if it printed none."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
