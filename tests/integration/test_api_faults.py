"""When the cluster is unreachable, slow, or denies the function: 503s and honest health.

Functions here are started against kubeconfigs that point at a closed port, at
a port that accepts connections but never answers, or at the real apiserver
with a ServiceAccount that has no rights.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from controlplane import kubeconfig
from controlplane.cluster import ControlPlane
from controlplane.processes import free_port
from kserve_functions.core import errors
from kserve_functions.kube import Kube
from kubernetes import client
from support.functions import FunctionLauncher
from support.objects import inference_service
from support.rbac import create_service_account

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _kubeconfig_for(control_plane: ControlPlane, path: Path, *, server: str, token: str) -> Path:
    document = kubeconfig.render(
        server=server, ca_pem=control_plane.ca_cert_path.read_bytes(), user="tester", token=token
    )
    kubeconfig.write(path, document)
    return path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    return free_port()


Launch = Callable[[str, Path], httpx.AsyncClient]


@pytest.fixture
def launch(function_launcher: FunctionLauncher, function_env: dict[str, str]) -> Launch:
    """Start a function against a given kubeconfig; a client for it."""

    def start(name: str, config: Path) -> httpx.AsyncClient:
        env = {**function_env, "KUBECONFIG": str(config), "KUBE_TIMEOUT_SECONDS": "1"}
        return function_launcher.start(name, env)[0]

    return start


@pytest.fixture
def rightless(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str, tmp_path: Path
) -> tuple[Path, str]:
    """A kubeconfig for a new ServiceAccount without any rights, and its token."""
    create_service_account(admin_api, namespace, "rightless")
    token = control_plane.mint_service_account_token(namespace, "rightless")
    path = tmp_path / "kubeconfig"
    return _kubeconfig_for(control_plane, path, server=control_plane.server, token=token), token


ROUTES = [
    ("deploy", "POST", "/deploy", {"name": "x", "image": "r/m:1"}),
    ("models", "GET", "/models", None),
    ("models", "GET", "/models/default/x", None),
    ("delete", "DELETE", "/models/default/x", None),
]


@pytest.mark.parametrize(("function", "method", "path", "body"), ROUTES)
@pytest.mark.parametrize("outage", ["closed", "silent"])
async def test_unreachable_apiserver_is_503_with_retry_after(
    launch: Launch,
    control_plane: ControlPlane,
    tmp_path: Path,
    closed_port: int,
    silent_port: int,
    outage: str,
    function: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    port = closed_port if outage == "closed" else silent_port
    config = _kubeconfig_for(
        control_plane, tmp_path / "kubeconfig", server=f"https://127.0.0.1:{port}", token="t"
    )
    answer = await launch(function, config).request(method, path, json=body)

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0
    assert "Kubernetes API" in answer.json()["detail"]
    assert "Traceback" not in answer.text


async def test_health_is_503_naming_the_unreachable_apiserver(
    launch: Launch, control_plane: ControlPlane, tmp_path: Path, closed_port: int
) -> None:
    config = _kubeconfig_for(
        control_plane, tmp_path / "kubeconfig", server=f"https://127.0.0.1:{closed_port}", token="t"
    )
    answer = await launch("health", config).get("/health")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unhealthy"
    assert "did not answer" in answer.json()["checks"]["apiserver"]


async def test_health_is_healthy_with_the_rights_it_needs(api: Any) -> None:
    answer = await api("health").get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "healthy"
    assert body["checks"]["inferenceservice_crd"] == "ok"
    assert body["checks"]["permissions"] == "ok"
    assert body["checks"]["apiserver"].startswith("ok (v")


async def test_health_names_the_missing_permissions(
    launch: Launch, rightless: tuple[Path, str]
) -> None:
    config, token = rightless

    answer = await launch("deploy", config).get("/health")

    assert answer.status_code == 503
    checks = answer.json()["checks"]
    # Every right the deploy function's work needs, as RBAC writes it.
    assert checks["permissions"] == (
        "may not create inferenceservices, patch inferenceservices, get inferenceservices, "
        "list inferenceservices, watch inferenceservices, get deployments, watch deployments, "
        "create controllerrevisions, list controllerrevisions, delete controllerrevisions, "
        "deletecollection controllerrevisions, create events"
    )
    assert token not in answer.text


async def test_forbidden_by_the_cluster_is_403_without_the_token(
    launch: Launch, rightless: tuple[Path, str], namespace: str
) -> None:
    config, token = rightless

    answer = await launch("deploy", config).post(
        "/deploy", json={"name": "denied", "image": "r/m:1", "namespace": namespace}
    )

    assert answer.status_code == 403
    assert token not in answer.text


async def test_apiserver_conflict_is_mapped_to_409(
    control_plane: ControlPlane, namespace: str
) -> None:
    kube = Kube(kubeconfig=str(control_plane.kubeconfig_path), timeout_seconds=10)
    manifest = inference_service(namespace, "raced")
    try:
        await kube.apply(manifest, dry_run=False)
        # A writer holding an outdated resourceVersion loses the race: the apiserver says 409.
        stale = {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": "1"}}
        with pytest.raises(errors.Conflict) as conflict:
            await kube.apply(stale, dry_run=False)
    finally:
        await kube.close()
    assert conflict.value.status == 409
    assert "raced" in conflict.value.detail
