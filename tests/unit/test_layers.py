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
LAYERS = "The library's layers: a package imports only from the layers below it"
OPERATIONS = "Operations: the routes, then deploy, then waits and streams, then reads"
INTAKE = "Intake: the dispatch by event type, then what each event does"
API = "API: the OpenAPI document and the contracts, then the routes"
OBJECTS = "Pure objects: builders and readers, then the audit records they share"
CORE = "Core: errors, then the models, then the grammars and names"
HTTP = "HTTP: the query and body parsers, then the request and response"
AUTH = "Auth: the authorizer, then the allowlists"
CLOUDEVENTS = "CloudEvents: envelope, registry payloads and sink are independent"
KUBE_ONLY = "Only the kube package talks to the Kubernetes API"
KUBE_LAYERS = "Inside kube: named operations, then the sender, then pure requests and answers"
PURE_REQUESTS = "Requests, answers and paging are pure: no client, no HTTP"
FACADE = "Above kube, only its facade: kserve_functions.kube, not its modules"
PLAIN_SINK = "The event sink is plain HTTP: no Kubernetes client"
NO_EVENTS_IN_APP = "The function object loads no event parsing, directly or not"
MCP = "MCP: the endpoint, then the SDK's server, resources, tools, who asks"
CONTRACTS = (
    LAYERS,
    OPERATIONS,
    INTAKE,
    API,
    OBJECTS,
    CORE,
    HTTP,
    AUTH,
    CLOUDEVENTS,
    KUBE_ONLY,
    KUBE_LAYERS,
    PURE_REQUESTS,
    FACADE,
    PLAIN_SINK,
    NO_EVENTS_IN_APP,
    MCP,
)


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
    existing = path.read_text() if path.exists() else '"""A module added after the contracts."""\n'
    path.write_text(existing + f"\n{line}\n")
    return root


def test_the_library_keeps_its_contracts() -> None:
    result = _lint(REPO_ROOT / "lib" / "src")

    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/models", "from kserve_functions import app  # noqa", LAYERS),
        ("kube/client", "from kserve_functions.operations import deploy  # noqa", LAYERS),
        ("config", "from kserve_functions.objects import status  # noqa", LAYERS),
        ("objects/status", "import kubernetes  # noqa", KUBE_ONLY),
        ("operations/deploy", "import aiohttp  # noqa", KUBE_ONLY),
        # A module that did not exist when the contract was written is covered.
        ("operations/brand_new", "import kubernetes  # noqa", KUBE_ONLY),
        ("kube/requests", "from kserve_functions.kube import client  # noqa", KUBE_LAYERS),
        ("kube/requests", "import kubernetes  # noqa", PURE_REQUESTS),
        ("operations/diagnostics", "from kserve_functions.kube import requests  # noqa", FACADE),
        ("context", "from kserve_functions.kube.client import Kube  # noqa", FACADE),
        ("intake/notify", "import aiohttp  # noqa", KUBE_ONLY),
        ("operations/listing", "import orjson  # noqa", KUBE_ONLY),
        ("cloudevents/sink", "import kubernetes  # noqa", PLAIN_SINK),
        (
            "cloudevents/sink",
            "from kserve_functions.cloudevents import envelope  # noqa",
            CLOUDEVENTS,
        ),
        ("objects/transitions", "from kserve_functions.intake import notify  # noqa", LAYERS),
        (
            "operations/summaries",
            "from kserve_functions.operations import deploy  # noqa",
            OPERATIONS,
        ),
        ("intake/commands", "from kserve_functions.intake import dispatch  # noqa", INTAKE),
        ("api/routing", "from kserve_functions.api import contract  # noqa", API),
        ("objects/audit", "from kserve_functions.objects import history  # noqa", OBJECTS),
        ("core/grammar", "from kserve_functions.core import errors  # noqa", CORE),
        ("http/asgi", "from kserve_functions.http import queries  # noqa", HTTP),
        ("auth/allowlists", "from kserve_functions.auth import authorizer  # noqa", AUTH),
        ("app", "from kserve_functions.intake import commands  # noqa", NO_EVENTS_IN_APP),
        ("context", "from kserve_functions.cloudevents import envelope  # noqa", NO_EVENTS_IN_APP),
        ("mcp/tools", "from kserve_functions.mcp import server  # noqa", MCP),
        ("mcp/endpoint", "from kserve_functions import app  # noqa", LAYERS),
        ("operations/listing", "from kserve_functions.mcp import tools  # noqa", LAYERS),
    ],
    ids=[
        "models-import-app",
        "kube-imports-operations",
        "config-imports-objects",
        "status-imports-kubernetes",
        "deploy-imports-aiohttp",
        "a-new-module-imports-kubernetes",
        "requests-import-the-client",
        "requests-import-kubernetes",
        "diagnostics-imports-the-requests",
        "context-imports-the-client",
        "notify-imports-aiohttp",
        "listing-imports-orjson",
        "sink-imports-kubernetes",
        "sink-imports-the-envelope",
        "transitions-import-notify",
        "summaries-import-deploy",
        "commands-import-dispatch",
        "routing-imports-contract",
        "audit-imports-history",
        "grammar-imports-errors",
        "asgi-imports-queries",
        "allowlists-import-the-authorizer",
        "app-imports-commands",
        "app-loads-the-envelope-through-context",
        "mcp-tools-import-the-sdks-server",
        "mcp-imports-the-function-object",
        "an-operation-imports-the-mcp-tools",
    ],
)
def test_an_import_against_the_layers_fails_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    result = _lint(_broken_copy(tmp_path, module, line))

    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout
