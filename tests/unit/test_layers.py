"""``make lint`` enforces the library's layering ([tool.importlinter] in pyproject.toml).

Each test breaks a copy of the library in one way and runs the real
``lint-imports`` on it with the project's contracts: the check must fail and
name the broken contract. The real library keeps both contracts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "The library's layers: a module imports only from the layers below it"
KUBE_ONLY = "Only the kube module talks to the Kubernetes API"
KUBE_LAYERS = "Inside kube: named operations, then the sender, then pure requests and answers"
PURE_REQUESTS = "Requests, answers and paging are pure: no client, no HTTP"
PLAIN_SINK = "The event sink is plain HTTP: no Kubernetes client"
NO_EVENTS_IN_APP = "The function object loads no event parsing, directly or not"
CONTRACTS = (LAYERS, KUBE_ONLY, KUBE_LAYERS, PURE_REQUESTS, PLAIN_SINK, NO_EVENTS_IN_APP)


def _lint(library_root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so it is the kserve_functions analysed.
    env = {**os.environ, "PYTHONPATH": str(library_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=library_root,
        timeout=120,
        check=False,
    )


def _broken_copy(tmp_path: Path, module: str, line: str) -> Path:
    root = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "lib" / "src" / "kserve_functions", root / "kserve_functions")
    path = root / "kserve_functions" / f"{module}.py"
    path.write_text(path.read_text() + f"\n{line}\n")
    return root


def test_the_library_keeps_its_contracts() -> None:
    result = _lint(REPO_ROOT / "lib" / "src")

    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("models", "from kserve_functions import app  # noqa", LAYERS),
        ("kube/client", "from kserve_functions import operations  # noqa", LAYERS),
        ("status", "import kubernetes  # noqa", KUBE_ONLY),
        ("operations", "import aiohttp  # noqa", KUBE_ONLY),
        ("kube/requests", "from kserve_functions.kube import client  # noqa", KUBE_LAYERS),
        ("kube/requests", "import kubernetes  # noqa", PURE_REQUESTS),
        ("notify", "import aiohttp  # noqa", KUBE_ONLY),
        ("sink", "import kubernetes  # noqa", PLAIN_SINK),
        ("transitions", "from kserve_functions import notify  # noqa", LAYERS),
        ("app", "from kserve_functions import eventing  # noqa", NO_EVENTS_IN_APP),
        ("context", "from kserve_functions import events  # noqa", NO_EVENTS_IN_APP),
    ],
    ids=[
        "models-imports-app",
        "kube-imports-operations",
        "status-imports-kubernetes",
        "aiohttp",
        "requests-import-the-client",
        "requests-import-kubernetes",
        "notify-imports-aiohttp",
        "sink-imports-kubernetes",
        "transitions-import-notify",
        "app-imports-eventing",
        "app-loads-events-through-context",
    ],
)
def test_an_import_against_the_layers_fails_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    result = _lint(_broken_copy(tmp_path, module, line))

    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout
