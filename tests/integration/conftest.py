"""Fixtures of the integration tier: one real KServe cluster per test session.

The cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok and the KServe controller, all built from Go modules, see
``tools/controlplane``) starts once, lazily, for the first test that needs it.
A test that cannot get it fails with the launcher's message; it never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from controlplane.cluster import ControlPlane, Settings
from controlplane.errors import ControlPlaneError
from controlplane.eventing_launch import Eventing
from kserve_functions.app import ModelFunction
from kubernetes import client
from support.apiserver_source import ApiServerSource, Broker
from support.browser import Browser, BrowserMissing
from support.event_sink import RecordingSink
from support.functions import (
    LIST_PAGE_SIZE,
    MAX_BODY_BYTES,
    FunctionLauncher,
    ServedFunction,
    new_function,
)
from support.notify_rig import NotifyRig
from support.webhooks import install_down_validator

# Process ids of every control plane the session started, checked at the end.
_STARTED_PIDS: list[int] = []


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """The session's running KServe cluster, stopped when the session ends."""
    plane = ControlPlane(Settings.from_environment())
    try:
        plane.start()
    except ControlPlaneError as e:
        pytest.fail(f"the local control plane did not start: {e}", pytrace=False)
    _STARTED_PIDS.extend(plane.pids)
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def eventing(control_plane: ControlPlane) -> Eventing:
    """Knative Eventing on the session's cluster, started for the first test that needs it.

    Only the tests that ask for it pay its start (see ``controlplane.eventing_launch``);
    one that cannot get it fails with the launcher's message, it never skips.
    """
    try:
        running = control_plane.start_eventing()
    except ControlPlaneError as e:
        pytest.fail(f"Knative Eventing did not start on the local cluster: {e}", pytrace=False)
    _STARTED_PIDS.extend(pid for pid in control_plane.pids if pid not in _STARTED_PIDS)
    return running


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """A client authenticated as the cluster admin (RBAC does not apply to it)."""
    with control_plane.admin_client() as api_client:
        yield api_client


def _namespace_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:20].rstrip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


class _Namespaces:
    """Fresh namespaces for one test, deleted after it.

    The controller-manager's namespace controller then removes everything in
    them (KServe's finalizers included) in the background, so the models of
    finished tests stop costing the controllers work.
    """

    def __init__(self, admin_api: client.ApiClient, node_name: str) -> None:
        self._core = client.CoreV1Api(admin_api)
        self._node_name = node_name
        self.created: list[str] = []

    def create(self) -> str:
        name = _namespace_name(self._node_name)
        self._core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        self.created.append(name)
        return name

    def delete_all(self) -> None:
        for name in self.created:
            try:
                self._core.delete_namespace(name)
            except client.ApiException as e:
                if e.status != 404:  # a test may have deleted it itself
                    raise


@pytest.fixture
def _namespaces(
    admin_api: client.ApiClient, request: pytest.FixtureRequest
) -> Iterator[_Namespaces]:
    namespaces = _Namespaces(admin_api, request.node.name)
    yield namespaces
    namespaces.delete_all()


@pytest.fixture
def namespace(_namespaces: _Namespaces) -> str:
    """A fresh namespace for this test, deleted after it."""
    return _namespaces.create()


@pytest.fixture
def make_namespace(_namespaces: _Namespaces) -> Callable[[], str]:
    """A factory for further fresh namespaces, for tests that need several."""
    return _namespaces.create


@pytest.fixture
def kserve_webhook_down(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> Iterator[str]:
    """KServe's validating webhook, as the apiserver sees it when its server is down.

    A copy of KServe's InferenceService validator registration, scoped to this
    test's namespace and pointing at a port nothing listens on: the apiserver
    fails the call exactly as when the manager's webhook server is not running,
    while the session's other namespaces keep the working one.
    """
    name = install_down_validator(admin_api, namespace, timeout_seconds=2)
    yield namespace
    client.AdmissionregistrationV1Api(admin_api).delete_validating_webhook_configuration(name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process of the session's clusters is still alive."""
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
        "MODEL_DOMAIN": control_plane.settings.model_domain,
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


@pytest_asyncio.fixture
async def served_client(
    served: Callable[[str], ServedFunction],
) -> AsyncIterator[ClientFactory]:
    """A factory of HTTP clients for functions served over real HTTP only.

    For answers that only a real server streams (watch streams, followed logs):
    httpx's ASGI transport collects a whole answer before returning it.
    """
    clients: list[httpx.AsyncClient] = []

    def client_for(name: str) -> httpx.AsyncClient:
        made = httpx.AsyncClient(base_url=served(name).url, timeout=90)
        clients.append(made)
        return made

    yield client_for
    for made in clients:
        await made.aclose()


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


@pytest_asyncio.fixture(params=["asgi", "http"])
async def function_launcher(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FunctionLauncher]:
    """Starts functions with settings of their own (another kubeconfig, auth on, …).

    Like ``api``, each test runs twice: in-process through ASGI and over real
    HTTP from a func-python process. Everything started is stopped afterwards.
    """
    launcher = FunctionLauncher(request.param, tmp_path)
    yield launcher
    await launcher.aclose()


@pytest_asyncio.fixture
async def notify_rig(
    function_launcher: FunctionLauncher,
    function_env: dict[str, str],
    admin_api: client.ApiClient,
    namespace: str,
) -> AsyncIterator[NotifyRig]:
    """Two notify replicas fed every change in ``namespace`` by a stand-in
    ApiServerSource and Broker, sending to a recording sink (``support.notify_rig``)."""
    sink = RecordingSink()
    env = {**function_env, "K_SINK": sink.url}
    replicas = [function_launcher.start("notify", env)[0] for _ in range(2)]
    source = ApiServerSource(admin_api, namespace)
    broker = Broker(source, replicas)
    forwarding = asyncio.create_task(broker.run())
    yield NotifyRig(sink, broker, namespace, admin_api)
    forwarding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await forwarding
    await asyncio.to_thread(source.stop)
    sink.close()


@pytest.fixture
def brokered_notify(
    eventing: Eventing, namespace: str, function_env: dict[str, str], tmp_path: Path
) -> Iterator[ServedFunction]:
    """The notify function on loopback, its sink (``K_SINK``, which k8s/eventing's
    SinkBinding injects in a cluster) the real Broker ``default`` of ``namespace``."""
    sink = {"K_SINK": eventing.ingress_url(namespace, "default")}
    function = ServedFunction("notify", {**function_env, **sink}, tmp_path / "notify.log")
    try:
        function.wait_ready()
        yield function
    finally:
        function.stop()


# -- the console in a browser ---------------------------------------------------


@pytest.fixture
def console_url(served: Callable[[str], ServedFunction]) -> str:
    """The console (``/ui/``) of the session's root function, served over real HTTP
    against the local cluster: the page and the API it calls share this origin."""
    return served("root").url + "/ui/"


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium with a fresh profile for this test (``support.browser``).

    Fails, never skips, when Chromium or its driver is missing. When the test
    fails, ``pytest_runtest_makereport`` saves the page's screenshot, console
    and HTML under ``.test-artifacts/browser/`` and names the files in the report.
    """
    try:
        started = Browser.start()
    except BrowserMissing as e:
        pytest.fail(str(e), pytrace=False)
    yield started
    started.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Save a failed browser test's page while its browser is still open (``browser``)."""
    report = yield
    if report.failed and report.when == "call" and isinstance(item, pytest.Function):
        started = item.funcargs.get("browser")
        if isinstance(started, Browser):
            saved = started.save_artifacts(item.nodeid.rpartition("/")[2])
            report.sections.append(("browser artifacts", "\n".join(map(str, saved))))
    return report
