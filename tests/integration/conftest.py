"""Fixtures of the integration tier: one real control plane per test session.

The control plane (etcd + kube-apiserver built from Go modules, see
``tools/controlplane``) starts once, lazily, for the first test that needs it.
A test that cannot get it fails with the launcher's message; it never skips.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import pytest_asyncio
from controlplane.cluster import ControlPlane, Settings
from controlplane.errors import ControlPlaneError
from kserve_functions.app import ModelFunction
from kubernetes import client
from support.functions import LIST_PAGE_SIZE, MAX_BODY_BYTES, ServedFunction, new_function
from support.kserve_controller import KServeControllerStandIn

# Process ids of every control plane the session started, checked at the end.
_STARTED_PIDS: list[int] = []


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """The session's running control plane, stopped when the session ends."""
    plane = ControlPlane(Settings.from_environment())
    try:
        plane.start()
    except ControlPlaneError as e:
        pytest.fail(f"the local control plane did not start: {e}", pytrace=False)
    _STARTED_PIDS.extend(plane.pids)
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """A client authenticated as the cluster admin (RBAC does not apply to it)."""
    with control_plane.admin_client() as api_client:
        yield api_client


def _namespace_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:20].rstrip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


def _create_namespace(admin_api: client.ApiClient, name: str) -> str:
    body = client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    client.CoreV1Api(admin_api).create_namespace(body)
    return name


@pytest.fixture
def namespace(admin_api: client.ApiClient, request: pytest.FixtureRequest) -> str:
    """A fresh namespace for this test.

    Not deleted afterwards: without kube-controller-manager a deleted namespace
    only stays Terminating, and the whole control plane goes at session end.
    """
    return _create_namespace(admin_api, _namespace_name(request.node.name))


@pytest.fixture
def make_namespace(
    admin_api: client.ApiClient, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """A factory for further fresh namespaces, for tests that need several."""
    return lambda: _create_namespace(admin_api, _namespace_name(request.node.name))


@pytest.fixture
def kserve_controller(admin_api: client.ApiClient) -> KServeControllerStandIn:
    """Writes InferenceService status as the (absent) KServe controller would."""
    return KServeControllerStandIn(admin_api)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any etcd or kube-apiserver of the session is still alive."""
    alive = []
    for pid in _STARTED_PIDS:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    if alive:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\ncontrol plane processes left running after the session: {alive}")


# -- the API's functions ------------------------------------------------------


@pytest.fixture(scope="session")
def function_env(control_plane: ControlPlane) -> dict[str, str]:
    """The environment a function gets in these tests (func-python passes it to start)."""
    return {
        "KUBECONFIG": str(control_plane.kubeconfig_path),
        "MODEL_DOMAIN": "example.com",
        "AUTH_MODE": "none",
        "LIST_PAGE_SIZE": str(LIST_PAGE_SIZE),
        "MAX_BODY_BYTES": str(MAX_BODY_BYTES),
    }


@pytest.fixture(scope="session")
def served(
    function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], ServedFunction]]:
    """Functions served over real HTTP by func-python, one process each, for the session."""
    started: dict[str, ServedFunction] = {}
    logs = tmp_path_factory.mktemp("served")

    def serve(name: str) -> ServedFunction:
        if name not in started:
            function = ServedFunction(name, function_env, logs / f"{name}.log")
            started[name] = function
            function.wait_ready()
        return started[name]

    yield serve
    for function in started.values():
        function.stop()


ClientFactory = Callable[[str], httpx.AsyncClient]


@pytest_asyncio.fixture(params=["asgi", "http"])
async def api(
    request: pytest.FixtureRequest,
    function_env: dict[str, str],
    served: Callable[[str], ServedFunction],
) -> AsyncIterator[ClientFactory]:
    """A factory of HTTP clients for a function, by name ("deploy", …, "root").

    Each test runs twice: through the function's ASGI interface in this process,
    and over real HTTP to the function served by func-python in its own process.
    """
    clients: list[httpx.AsyncClient] = []
    instances: list[ModelFunction] = []

    def client_for(name: str) -> httpx.AsyncClient:
        if request.param == "asgi":
            function = new_function(name)
            function.start(function_env)
            instances.append(function)
            made = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=function.handle), base_url="http://function"
            )
        else:
            made = httpx.AsyncClient(base_url=served(name).url, timeout=30)
        clients.append(made)
        return made

    yield client_for
    for made in clients:
        await made.aclose()
    for function in instances:
        await function.aclose()
