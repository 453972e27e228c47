"""Faults under load: nothing lost, nothing half-written, no 500, no hang.

Two tests crash a part of the cluster while 32 clients deploy, get and list
through the served ``deploy`` and ``models`` functions (real HTTP, func-python):
the apiserver, then etcd, each SIGKILLed and started again on the same port,
certificates and data. They run on a private control plane of the module
(etcd and kube-apiserver only, the InferenceService CRD validating by its
schema), since killing the session's would break every other test.

Every answer must be a success or a 503 problem with ``Retry-After``; none may
take longer than ``CLIENT_TIMEOUT_SECONDS``. A client retries a 503 deploy with
the same ``Idempotency-Key`` until it is answered 200/201, then moves on to its
next key. Afterwards the same function processes answer again, and each model
is exactly the last request its client had answered, with one spec change per
key: a key applied twice (the lost answer of a write that happened, then the
retry) must not have rolled the model twice.

Two more tests race requests for one model on the session's KServe cluster
(its webhooks and finalizers): 32 deploys with different images, and deploys
against deletes. No 500, only documented statuses, and the model ends absent
or as one request, whole.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from controlplane import crds
from controlplane.cluster import ControlPlane, Settings
from controlplane.errors import ControlPlaneError
from kserve_functions.core.resources import RESTART_TOKEN_ANNOTATION
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support.functions import ServedFunction
from support.objects import read_inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CLIENTS = 32
# Short, so a request stuck on a dead etcd gives up quickly (the default is 10 s).
KUBE_TIMEOUT_SECONDS = 2
# KUBE_TIMEOUT_SECONDS bounds each apiserver call (README), not a request: a
# deploy whose apply went through just before etcd died then waits on each of
# its best-effort writes (the Event, the history) and on its roll-out read
# before it answers 503. Three calls at most while etcd is down this briefly.
CLIENT_TIMEOUT_SECONDS = 3 * KUBE_TIMEOUT_SECONDS + 2.0
# Load before the fault, how long the component stays dead, load after it is back.
WARM_SECONDS = 2.0
OUTAGE_SECONDS = 3.0
AFTER_SECONDS = 3.0
# How long a client keeps retrying one key after the load stops: the function
# must have recovered well within it.
GIVE_UP_SECONDS = 30.0
RETRY_PAUSE_SECONDS = 0.2

# The InferenceService CRD and one small CRD of each other folder the launcher requires.
_CRDS = {
    "kserve": "serving.kserve.io_inferenceservices.yaml",
    "knative-serving": "domain-mapping.yaml",
    "knative-eventing": "broker.yaml",
    "gateway-api": "gateway.networking.k8s.io_referencegrants.yaml",
}


# -- the private cluster and its functions -------------------------------------


@pytest.fixture(scope="module")
def plane_thread() -> Iterator[ThreadPoolExecutor]:
    """The thread that restarts components, alive until the private cluster stops.

    A restarted process dies with the thread that started it (``ControlPlane.restart``),
    and the event loop's default threads end with each test.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="private-plane") as thread:
        yield thread


@pytest.fixture(scope="module")
def private_plane(
    plane_thread: ThreadPoolExecutor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """etcd and kube-apiserver of this module alone, with the InferenceService CRD."""
    source = Settings.from_environment().crd_dir
    crd_dir = tmp_path_factory.mktemp("fault-crds")
    for folder, name in _CRDS.items():
        (crd_dir / folder).mkdir()
        shutil.copy(crds.crd_file(folder, name, source), crd_dir / folder / name)
    plane = ControlPlane(Settings(crd_dir=crd_dir, kserve_cluster=False))
    try:
        plane.start()
    except ControlPlaneError as e:
        pytest.fail(f"the private control plane did not start: {e}", pytrace=False)
    yield plane
    plane.stop()


@dataclass(frozen=True)
class _Functions:
    deploy: ServedFunction
    models: ServedFunction


@pytest.fixture(scope="module")
def private_functions(
    private_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Functions]:
    """The ``deploy`` and ``models`` functions served against the private cluster."""
    env = {
        "KUBECONFIG": str(private_plane.kubeconfig_path),
        "MODEL_DOMAIN": private_plane.settings.model_domain,
        "AUTH_MODE": "none",
        "KUBE_TIMEOUT_SECONDS": str(KUBE_TIMEOUT_SECONDS),
    }
    logs = tmp_path_factory.mktemp("fault-functions")
    started = [ServedFunction(name, env, logs / f"{name}.log") for name in ("deploy", "models")]
    try:
        for function in started:
            function.wait_ready()
        yield _Functions(*started)
    finally:
        for function in started:
            function.stop()


def _create_namespace(api_client: client.ApiClient, name: str) -> str:
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    return name


# -- requests and the checks of their answers ----------------------------------


def _request(namespace: str, model: str, number: int) -> dict[str, Any]:
    """Deploy request ``number`` for ``model``: every field it sets names that number."""
    return {
        "name": model,
        "namespace": namespace,
        "image": f"registry.test/faults/{model}:r{number}",
        "envs": {"REQUEST": str(number), f"ONLY_IN_{number}": "x"},
        "labels": {"request": str(number)},
    }


def _key(namespace: str, model: str, number: int) -> str:
    return f"{namespace}.{model}.{number}"


def _container(isvc: dict[str, Any]) -> dict[str, Any]:
    containers = isvc["spec"]["predictor"].get("containers") or []
    assert len(containers) == 1, containers
    found: dict[str, Any] = containers[0]
    return found


def _assert_whole(isvc: dict[str, Any], sent: dict[str, Any], key: str) -> None:
    """``isvc`` holds ``sent`` (applied with Idempotency-Key ``key``), every field of it."""
    where = f"{isvc['metadata']['namespace']}/{isvc['metadata']['name']}"
    container = _container(isvc)
    assert container["image"] == sent["image"], where
    envs = [{"name": name, "value": value} for name, value in sent["envs"].items()]
    assert sorted(container.get("env") or [], key=lambda e: e["name"]) == sorted(
        envs, key=lambda e: e["name"]
    ), where
    assert isvc["metadata"]["labels"]["request"] == sent["labels"]["request"], where
    annotations = isvc["spec"]["predictor"].get("annotations") or {}
    assert annotations.get(RESTART_TOKEN_ANNOTATION) == key, where


def _which_request(isvc: dict[str, Any]) -> int:
    """The number of the request ``isvc``'s image came from (``_request``)."""
    return int(_container(isvc)["image"].rsplit(":r", 1)[1])


def _problem_or_none(answer: httpx.Response) -> str | None:
    """None when ``answer`` is a proper 503 problem with Retry-After; else what is wrong."""
    if answer.headers.get("content-type") != "application/problem+json":
        return f"503 as {answer.headers.get('content-type')}: {answer.text[:200]}"
    retry_after = answer.headers.get("retry-after", "")
    if not retry_after.isdigit() or int(retry_after) < 1:
        return f"503 with Retry-After {retry_after!r}"
    if json.loads(answer.content).get("status") != 503:
        return f"503 whose problem says otherwise: {answer.text[:200]}"
    return None


@dataclass
class _Load:
    """32 clients deploying, getting and listing; what they saw."""

    deploy: httpx.AsyncClient
    models: httpx.AsyncClient
    namespace: str
    # Per model, the requests answered 200/201, in order: (Idempotency-Key, request).
    acknowledged: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    slowest: dict[str, float] = field(default_factory=dict)
    # No client gives up on a key before this moment (monotonic); set when the load stops.
    give_up_at: float = float("inf")

    async def client(self, index: int, stop: asyncio.Event) -> None:
        """Deploy a new request for model ``m<index>``, get it, list; again until ``stop``."""
        model = f"m{index}"
        number = 0
        while True:
            await self._deploy_until_acknowledged(model, number)
            if stop.is_set():
                return
            await self._call("get", self.models.get(f"/models/{self.namespace}/{model}"), model)
            await self._call(
                "list", self.models.get("/models", params={"namespace": self.namespace})
            )
            number += 1

    async def _deploy_until_acknowledged(self, model: str, number: int) -> None:
        body, key = _request(self.namespace, model, number), _key(self.namespace, model, number)
        while True:
            sending = self.deploy.post("/deploy", json=body, headers={"Idempotency-Key": key})
            if await self._call("deploy", sending, model):
                self.acknowledged.setdefault(model, []).append((key, body))
                return
            if time.monotonic() > self.give_up_at:
                self.violations.append(f"deploy {key}: never answered 200/201")
                return
            await asyncio.sleep(RETRY_PAUSE_SECONDS)

    async def _call(self, op: str, sending: Any, model: str | None = None) -> bool:
        """Send, check the answer; whether it was a success."""
        started = time.monotonic()
        try:
            answer: httpx.Response = await sending
        except httpx.TimeoutException:
            self.violations.append(
                f"{op} {model or ''}: no answer within {CLIENT_TIMEOUT_SECONDS}s"
            )
            self.seen[f"{op} timeout"] += 1
            return False
        except httpx.TransportError as e:  # the function itself went away
            self.violations.append(f"{op} {model or ''}: {type(e).__name__} {e}")
            self.seen[f"{op} {type(e).__name__}"] += 1
            return False
        seconds = time.monotonic() - started
        self.slowest[op] = max(self.slowest.get(op, 0.0), seconds)
        self.seen[f"{op} {answer.status_code}"] += 1
        wrong = self._check(op, answer, model)
        if wrong is not None:
            self.violations.append(f"{op} {model or ''}: {wrong}")
        return answer.status_code in {200, 201} and wrong is None

    def _check(self, op: str, answer: httpx.Response, model: str | None) -> str | None:
        if answer.status_code == 503:
            return _problem_or_none(answer)
        successes = {200, 201} if op == "deploy" else {200}
        if answer.status_code not in successes:
            return f"answered {answer.status_code}: {answer.text[:300]}"
        try:
            body = json.loads(answer.content)
        except ValueError:
            return f"a {answer.status_code} whose body is not JSON: {answer.text[-200:]!r}"
        if op == "list":
            listed = [m["name"] for m in body["models"]]
            return None if body["count"] == len(listed) else f"count {body['count']} of {listed}"
        return None if body.get("name") == model else f"answered for another model: {body}"


@pytest_asyncio.fixture
async def load_clients(private_functions: _Functions) -> AsyncIterator[tuple[Any, Any]]:
    # A client must let a kept-alive connection go before the server does:
    # hypercorn (func-python's server) closes one idle for 5 s, httpx's default
    # expiry is 5 s too, and a request sent on a connection the server is closing
    # at that moment fails with ReadError, though the function never went away.
    limits = httpx.Limits(max_connections=2 * CLIENTS, keepalive_expiry=2.0)
    timeout = httpx.Timeout(CLIENT_TIMEOUT_SECONDS)
    async with (
        httpx.AsyncClient(
            base_url=private_functions.deploy.url, timeout=timeout, limits=limits
        ) as deploy,
        httpx.AsyncClient(
            base_url=private_functions.models.url, timeout=timeout, limits=limits
        ) as models,
    ):
        yield deploy, models


# -- a component killed and restarted under load -------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
async def test_a_killed_component_under_load_loses_nothing_and_the_functions_recover(
    component: str,
    plane_thread: ThreadPoolExecutor,
    private_plane: ControlPlane,
    private_functions: _Functions,
    load_clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    deploy, models = load_clients
    with private_plane.admin_client() as admin:
        namespace = _create_namespace(admin, f"crash-{component}")
    pids = {f.name: f.process.pid for f in (private_functions.deploy, private_functions.models)}
    load = _Load(deploy, models, namespace)
    stop = asyncio.Event()
    clients = [asyncio.create_task(load.client(i, stop)) for i in range(CLIENTS)]

    await asyncio.sleep(WARM_SECONDS)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(plane_thread, private_plane.kill, component)
    await asyncio.sleep(OUTAGE_SECONDS)
    await loop.run_in_executor(plane_thread, private_plane.restart, component)
    await asyncio.sleep(AFTER_SECONDS)
    stop.set()
    load.give_up_at = time.monotonic() + GIVE_UP_SECONDS
    await asyncio.wait_for(asyncio.gather(*clients), GIVE_UP_SECONDS + 2 * CLIENT_TIMEOUT_SECONDS)

    seen = f"{component}: {dict(sorted(load.seen.items()))}, slowest {load.slowest}"
    assert load.violations == [], "\n".join([seen, *load.violations[:20]])
    # The fault was felt (else this test proves nothing), and the load got through it.
    assert sum(n for what, n in load.seen.items() if what.endswith(" 503")) > 0, load.seen
    assert all(load.seen[f"{op} 200"] > 0 for op in ("get", "list")), load.seen

    # The same processes answer: they recovered without a restart.
    for served in (private_functions.deploy, private_functions.models):
        assert served.process.poll() is None, served.log()
        assert served.process.pid == pids[served.name]
    assert (await models.get(f"/models/{namespace}/m0")).status_code == 200
    listed = (await models.get("/models", params={"namespace": namespace})).json()
    assert sorted(m["name"] for m in listed["models"]) == sorted(f"m{i}" for i in range(CLIENTS))

    with private_plane.admin_client() as admin:
        for index in range(CLIENTS):
            model = f"m{index}"
            answered = load.acknowledged[model]
            isvc = read_inference_service(admin, namespace, model)
            key, last = answered[-1]
            _assert_whole(isvc, last, key)
            # One spec change per key: a retried key changed nothing, and no
            # answered key is missing.
            assert isvc["metadata"]["generation"] == len(answered), (model, answered)
            _assert_history_has_each_key_once(admin, namespace, model, dict(answered))


def _assert_history_has_each_key_once(
    admin: client.ApiClient, namespace: str, model: str, sent: dict[str, dict[str, Any]]
) -> None:
    """The model's revisions: each for a key sent, with its request, no key twice.

    Revisions are best effort (one that could not be written during the outage
    is missing), so fewer than the keys is allowed; two for one key, or one
    that records another request than its key's, is not.
    """
    listed = client.AppsV1Api(admin).list_namespaced_controller_revision(
        namespace, label_selector=f"kserve-functions.dev/revision-of={model}"
    )
    revisions: list[Any] = list(listed.items)  # the client's models, typed loosely
    tokens = [r.metadata.annotations[RESTART_TOKEN_ANNOTATION] for r in revisions]
    assert len(tokens) == len(set(tokens)), f"{model}: a key recorded twice: {sorted(tokens)}"
    for token, revision in zip(tokens, revisions, strict=True):
        assert token in sent, f"{model}: a revision for a key never answered: {token}"
        assert revision.data["request"] == sent[token], (model, token)


# -- requests racing for one model on the KServe cluster -----------------------


async def _documented(function: httpx.AsyncClient, path: str, method: str) -> set[int]:
    """The statuses ``function``'s OpenAPI document lists for ``method path``."""
    document = (await function.get("/openapi.json")).json()
    return {int(status) for status in document["paths"][path][method]["responses"]}


def _assert_documented_problem(answer: httpx.Response, documented: set[int]) -> None:
    assert answer.status_code in documented, (answer.status_code, answer.text)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json", answer.text


def _read_or_none(admin_api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return read_inference_service(admin_api, namespace, name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


async def _settled(admin_api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The model once no deletion is pending (KServe's finalizer done), or None when gone."""
    deadline = time.monotonic() + 60
    while True:
        isvc = await asyncio.to_thread(_read_or_none, admin_api, namespace, name)
        if isvc is None or not isvc["metadata"].get("deletionTimestamp"):
            return isvc
        assert time.monotonic() < deadline, f"{namespace}/{name} still being deleted: {isvc}"
        await asyncio.sleep(0.2)


ClientFactory = Callable[[str], httpx.AsyncClient]


async def test_concurrent_deploys_of_one_model_leave_one_request_whole(
    served_client: ClientFactory, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy = served_client("deploy")
    documented = await _documented(deploy, "/deploy", "post")
    bodies = [_request(namespace, "contended", n) for n in range(CLIENTS)]
    keys = [_key(namespace, "contended", n) for n in range(CLIENTS)]

    answers = await asyncio.gather(
        *(
            deploy.post("/deploy", json=body, headers={"Idempotency-Key": key})
            for body, key in zip(bodies, keys, strict=True)
        )
    )

    for answer in answers:
        _assert_documented_problem(answer, documented)
    # Server-side apply needs no read-modify-write: none conflicts, one creates.
    # And none times out: the function sends its applies of one model one at a
    # time (``Kube.apply``); 32 at once made the apiserver retry them on conflict
    # for longer than the 10 s call timeout.
    assert sorted(a.status_code for a in answers) == [200] * (CLIENTS - 1) + [201]
    # Each apply changed the spec once, in some order: generations 1..32, and
    # the model is the request whose apply came last, every field of it.
    generations = {a.json()["generation"]: n for n, a in enumerate(answers)}
    assert sorted(generations) == list(range(1, CLIENTS + 1))
    isvc = read_inference_service(admin_api, namespace, "contended")
    last = generations[CLIENTS]
    assert _which_request(isvc) == last
    _assert_whole(isvc, bodies[last], keys[last])
    assert isvc["metadata"]["generation"] == CLIENTS


async def test_deploys_racing_deletes_leave_the_model_absent_or_one_request_whole(
    served_client: ClientFactory, namespace: str, admin_api: client.ApiClient
) -> None:
    deploy, delete = served_client("deploy"), served_client("delete")
    deploy_statuses = await _documented(deploy, "/deploy", "post")
    delete_statuses = await _documented(delete, "/models/{namespace}/{name}", "delete")
    model = "raced"
    assert (await deploy.post("/deploy", json=_request(namespace, model, 0))).status_code == 201
    bodies = {n: _request(namespace, model, n) for n in range(1, CLIENTS // 2 + 1)}

    calls = []
    for n, body in bodies.items():
        calls.append(deploy.post("/deploy", json=body, headers={"Idempotency-Key": str(n)}))
        calls.append(delete.delete(f"/models/{namespace}/{model}"))
    answers = await asyncio.gather(*calls)

    deploys, deletes = answers[0::2], answers[1::2]
    for answer in deploys:
        _assert_documented_problem(answer, deploy_statuses)
    for answer in deletes:
        _assert_documented_problem(answer, delete_statuses)
    # Created, updated, or refused while a deletion was pending; deleted or already gone.
    assert {a.status_code for a in deploys} <= {200, 201, 409}, [a.text for a in deploys]
    assert {a.status_code for a in deletes} <= {200, 404}, [a.text for a in deletes]
    isvc = await _settled(admin_api, namespace, model)
    if isvc is not None:
        number = _which_request(isvc)
        _assert_whole(isvc, bodies[number], str(number))
        assert deploys[number - 1].status_code in {200, 201}, deploys[number - 1].text
