"""Status-change events (the notify function) against the real KServe controller.

The function runs as two replicas (two processes served by func-python, or two
instances in this process); its ``K_SINK`` is a real HTTP server decoding what
it receives with the CloudEvents SDK. A stand-in for Knative's ApiServerSource
watches the test's namespace as the project's source does (InferenceServices,
and pods labelled ``serving.kserve.io/inferenceservice``) and turns every
change into the CloudEvent the source's adapter sends; a stand-in Broker hands
each event to both replicas at once (so every event is delivered twice,
concurrently) and redelivers on a 5xx. Everything a model's status says was
written by KServe, from pods kwok ran or crashed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from controlplane.cluster import ControlPlane
from kserve_functions.core.models import DeployRequest
from kserve_functions.core.resources import INFERENCE_SERVICE, REPORTED_STATE_ANNOTATION
from kserve_functions.kube import KubeRequest, requests
from kserve_functions.objects.manifests import build_inference_service
from kubernetes import client
from support import workloads
from support.apiserver import Answer, send
from support.apiserver_source import source_event
from support.event_sink import Received, RecordingSink
from support.functions import FunctionLauncher
from support.notify_rig import NotifyRig
from support.objects import read_inference_service
from support.problems import assert_problem
from support.rbac import create_service_account, grant_inference_services

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PREFIX = "dev.kserve-functions.model"
READY, UNREADY, FAILED, DELETED = (
    f"{PREFIX}.{t}" for t in ("ready", "unready", "failed", "deleted")
)
SOURCE = "/kserve-functions/notify"
# kwok's Stage crashes the kserve-container of pods with this label (as in
# test_kserve_reconciles.py), with this message and exit code.
CRASH_MESSAGE = "model file /mnt/models/model.joblib is corrupt"
RESTART_TOKEN = "kserve-functions.dev/restart-token"


_ISVC = (INFERENCE_SERVICE.group, INFERENCE_SERVICE.version)


def _custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _model(namespace: str, name: str, *, restart: str = "1", **fields: Any) -> dict[str, Any]:
    """The InferenceService ``POST /deploy`` would apply (its restart token included)."""
    request = DeployRequest.model_validate(
        {"name": name, "namespace": namespace, "image": "r/m:1", **fields}
    )
    return build_inference_service(request, restart_token=restart)


def _start_notify(launcher: FunctionLauncher, env: dict[str, str]) -> httpx.AsyncClient:
    made, _ = launcher.start("notify", env)
    return made


HOLD = "kserve-functions.dev/test-hold"


def _json_patch(rig: NotifyRig, name: str, operations: list[dict[str, Any]]) -> Answer:
    path = requests.resource_path(INFERENCE_SERVICE, rig.namespace, name)
    patch = KubeRequest("PATCH", path, name, body=operations, content_type=requests.JSON_PATCH)
    return send(rig.admin, patch)


def _hold(rig: NotifyRig, name: str) -> None:
    """Add the test's finalizer to the model (KServe's stays)."""
    held = _json_patch(rig, name, [{"op": "add", "path": "/metadata/finalizers/-", "value": HOLD}])
    assert held.status == 200, held.body


def _release(rig: NotifyRig, name: str) -> None:
    """Remove the test's finalizer: the model goes once KServe's is gone too."""

    def removed() -> bool | None:
        metadata = read_inference_service(rig.admin, rig.namespace, name)["metadata"]
        index = metadata.get("finalizers", []).index(HOLD)
        version = metadata["resourceVersion"]
        answer = _json_patch(
            rig,
            name,
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                {"op": "remove", "path": f"/metadata/finalizers/{index}"},
            ],
        )
        assert answer.status in {200, 422}, answer.body  # 422: changed since the read
        return True if answer.status == 200 else None

    workloads.wait_for(removed, what="the test's finalizer removed")


def _assert_delivered_cleanly(rig: NotifyRig) -> None:
    """Every delivery ended 200 with an empty body (what a Broker takes as a reply)."""
    finals = [(status, body) for _, status, body, final in rig.broker.answers if final]
    assert finals, "nothing was delivered"
    assert set(finals) == {(200, b"")}, finals


def _assert_status_event(event: Received, rig: NotifyRig, name: str) -> None:
    assert event.source == SOURCE
    assert event.subject == f"{rig.namespace}/{name}"
    assert event.datacontenttype == "application/json"
    assert event.time is not None
    assert (event.data["name"], event.data["namespace"]) == (name, rig.namespace)
    assert event.data["url"] == f"http://{name}-{rig.namespace}.example.com"


async def test_a_models_lifecycle_is_reported_once_per_transition(notify_rig: NotifyRig) -> None:
    notify_rig.create(_model(notify_rig.namespace, "iris"))

    await notify_rig.wait_for_types([READY])
    await notify_rig.broker.settle()
    [ready] = notify_rig.sink.events()
    _assert_status_event(ready, notify_rig, "iris")
    assert (ready.data["ready"], ready.data["state"], ready.data["generation"]) == (
        True,
        "ready",
        1,
    )
    assert notify_rig.record("iris") == "ready"
    # KServe does not copy the record onto the pods: writing it rolled nothing.
    assert len(workloads.replica_sets(notify_rig.admin, notify_rig.namespace, "iris")) == 1

    # An update (what POST /deploy does: a new restart token) rolls a new generation.
    _custom(notify_rig.admin).patch_namespaced_custom_object(
        *_ISVC,
        notify_rig.namespace,
        INFERENCE_SERVICE.plural,
        "iris",
        {"spec": {"predictor": {"annotations": {RESTART_TOKEN: "2"}}}},
    )

    await notify_rig.wait_for_types([READY, UNREADY, READY])
    await notify_rig.broker.settle()
    [_, unready, ready_again] = notify_rig.sink.events()
    _assert_status_event(unready, notify_rig, "iris")
    assert (unready.data["ready"], unready.data["generation"]) == (False, 2)
    assert unready.data["state"] in {"updating", "starting"}
    assert ready_again.data["state"] == "ready"
    assert ready_again.data["generation"] == 2
    assert notify_rig.record("iris") == "ready"
    assert len(workloads.replica_sets(notify_rig.admin, notify_rig.namespace, "iris")) == 2

    # A finalizer of the test's holds the deleted model, as KServe's own does for a
    # moment (too short for a test to count on): "deleted" is then recorded once, by
    # compare-and-swap. (A model already gone is reported from its delete event:
    # test_events_about_a_gone_model_send_deleted_only_for_its_delete.)
    _hold(notify_rig, "iris")
    stored = read_inference_service(notify_rig.admin, notify_rig.namespace, "iris")
    _custom(notify_rig.admin).delete_namespaced_custom_object(
        *_ISVC, notify_rig.namespace, INFERENCE_SERVICE.plural, "iris"
    )

    await notify_rig.wait_for_types([READY, UNREADY, READY, DELETED])
    await notify_rig.broker.settle()
    assert notify_rig.record("iris") == "deleted"
    _release(notify_rig, "iris")
    await notify_rig.broker.settle()
    assert notify_rig.types() == [READY, UNREADY, READY, DELETED]
    deleted = notify_rig.sink.events()[-1]
    _assert_status_event(deleted, notify_rig, "iris")
    assert (deleted.data["state"], deleted.data["reason"]) == ("deleting", "Deleting")
    assert deleted.id == f"{stored['metadata']['uid']}/deleted"
    ids = [event.id for event in notify_rig.sink.events()]
    assert len(set(ids)) == len(ids)
    _assert_delivered_cleanly(notify_rig)


async def test_a_crash_looping_model_is_reported_failed_once_with_the_message(
    notify_rig: NotifyRig,
) -> None:
    notify_rig.create(
        _model(
            notify_rig.namespace,
            "broken",
            **workloads.crash_looping(CRASH_MESSAGE, exit_code=3),
        )
    )

    await notify_rig.wait_for_types([FAILED])
    # The crash loop goes on (kwok restarts the container, KServe rewrites its
    # status): later events must find the failure already reported.
    seen = len(notify_rig.broker.answers)
    deadline = time.monotonic() + 15
    while len(notify_rig.broker.answers) < seen + 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await notify_rig.broker.settle(timeout=60)

    [failed] = notify_rig.sink.events()
    _assert_status_event(failed, notify_rig, "broken")
    assert (failed.data["ready"], failed.data["state"]) == (False, "failed")
    # KServe's ModelLoadFailed, or the pod's CrashLoopBackOff if that was read first:
    # either way the container's termination message and exit code.
    assert failed.data["reason"] in {"ModelLoadFailed", "CrashLoopBackOff"}
    assert CRASH_MESSAGE in failed.data["message"]
    assert "exit code 3" in failed.data["message"]
    assert notify_rig.record("broken") == "failed"
    _assert_delivered_cleanly(notify_rig)


async def test_an_event_the_sink_refuses_is_put_back_and_sent_on_redelivery(
    notify_rig: NotifyRig,
) -> None:
    notify_rig.sink.refuse_next(1)
    notify_rig.create(_model(notify_rig.namespace, "retried"))

    await notify_rig.wait_for_types([READY])
    await notify_rig.broker.settle()

    assert notify_rig.sink.refused == 1
    assert notify_rig.types() == [READY]
    # The replica whose send failed answered 503 (the Broker redelivered), having put
    # the record back so that the redelivery could decide again.
    refusals = [
        (status, body) for _, status, body, final in notify_rig.broker.answers if status == 503
    ]
    assert len(refusals) == 1
    assert b"event sink" in refusals[0][1]
    assert notify_rig.record("retried") == "ready"
    _assert_delivered_cleanly(notify_rig)


# -- single events, as the Broker would deliver them ------------------------------------


@pytest_asyncio.fixture
async def notify(
    function_launcher: FunctionLauncher, function_env: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingSink]]:
    sink = RecordingSink()
    yield _start_notify(function_launcher, {**function_env, "K_SINK": sink.url}), sink
    sink.close()


def _object(kind: str, namespace: str, name: str, **metadata: Any) -> dict[str, Any]:
    api_version = {"Pod": "v1", "ConfigMap": "v1"}.get(kind, INFERENCE_SERVICE.api_version)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), **metadata},
    }


async def _post(api: httpx.AsyncClient, change: str, obj: dict[str, Any]) -> httpx.Response:
    event = source_event(change, obj, source="https://127.0.0.1:6443")
    return await api.post("/", content=event.body, headers=event.headers)


@pytest.mark.parametrize(
    "obj",
    [
        _object("ConfigMap", "ns", "settings"),
        _object("Pod", "ns", "unlabelled-pod"),
        _object(
            "Pod", "ns", "odd-label", labels={"serving.kserve.io/inferenceservice": "No_Model"}
        ),
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {}},
    ],
    ids=["configmap", "pod-of-no-model", "pod-label-not-a-name", "model-without-a-name"],
)
async def test_an_event_about_no_model_is_a_400_problem(
    notify: tuple[httpx.AsyncClient, RecordingSink], obj: dict[str, Any]
) -> None:
    api, sink = notify

    assert_problem(await _post(api, "MODIFIED", obj), 400)
    assert sink.events() == []


async def test_an_unreadable_event_is_a_400_problem(
    notify: tuple[httpx.AsyncClient, RecordingSink],
) -> None:
    api, sink = notify
    event = source_event("ADDED", _object("InferenceService", "ns", "m"), source="https://a")
    headers = {k: v for k, v in event.headers.items() if k != "ce-id"}

    assert_problem(await api.post("/", content=event.body, headers=headers), 400)
    wrong_type = {**event.headers, "ce-type": "dev.knative.apiserver.ref.update"}
    assert_problem(await api.post("/", content=event.body, headers=wrong_type), 400)
    assert sink.events() == []


async def test_events_about_a_gone_model_send_deleted_only_for_its_delete(
    notify: tuple[httpx.AsyncClient, RecordingSink], namespace: str
) -> None:
    api, sink = notify
    gone = _object("InferenceService", namespace, "gone", deletionTimestamp="2026-11-29T10:00:00Z")
    for change in ("ADDED", "MODIFIED"):
        answer = await _post(api, change, gone)
        assert (answer.status_code, answer.content) == (200, b"")
    pod = _object(
        "Pod", namespace, "gone-predictor-1", labels={"serving.kserve.io/inferenceservice": "gone"}
    )
    assert (await _post(api, "DELETED", pod)).status_code == 200
    assert sink.events() == []

    answer = await _post(api, "DELETED", gone)

    assert (answer.status_code, answer.content) == (200, b"")
    [deleted] = sink.events()
    assert (deleted.type, deleted.subject) == (DELETED, f"{namespace}/gone")
    assert deleted.id == f"{gone['metadata']['uid']}/deleted"
    assert (deleted.data["state"], deleted.data["ready"]) == ("deleting", False)

    # Nothing is left to record on: a redelivery sends it again, with the same id.
    await _post(api, "DELETED", gone)
    assert [e.id for e in sink.events()] == [deleted.id, deleted.id]

    # A delete event whose object records "deleted" was reported before it went.
    recorded = {
        **gone,
        "metadata": {**gone["metadata"], "annotations": {REPORTED_STATE_ANNOTATION: "deleted"}},
    }
    assert (await _post(api, "DELETED", recorded)).status_code == 200
    assert len(sink.events()) == 2


async def test_a_model_outside_the_allowed_namespaces_is_a_403_problem(
    function_launcher: FunctionLauncher, function_env: dict[str, str], namespace: str
) -> None:
    sink = RecordingSink()
    try:
        env = {**function_env, "K_SINK": sink.url, "ALLOWED_NAMESPACES": "elsewhere"}
        api = _start_notify(function_launcher, env)
        answer = await _post(api, "MODIFIED", _object("InferenceService", namespace, "m"))
        assert_problem(answer, 403)
        assert sink.events() == []
    finally:
        sink.close()


async def test_events_need_an_oidc_token_allowed_to_get_the_model(
    function_launcher: FunctionLauncher,
    function_env: dict[str, str],
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    make_namespace: Callable[[], str],
) -> None:
    home, elsewhere = make_namespace(), make_namespace()
    create_service_account(admin_api, home, "trigger")
    grant_inference_services(
        admin_api, home, service_account="trigger", service_account_namespace=home, verbs=("get",)
    )
    sink = RecordingSink()
    try:
        env = {**function_env, "K_SINK": sink.url, "AUTH_MODE": "kubernetes"}
        api = _start_notify(function_launcher, env)
        event = source_event("MODIFIED", _object("InferenceService", home, "m"), source="https://a")

        assert_problem(await api.post("/", content=event.body, headers=event.headers), 401)
        token = control_plane.mint_service_account_token(home, "trigger", audiences=["notify"])
        auth = {**event.headers, "Authorization": f"Bearer {token}"}
        answer = await api.post("/", content=event.body, headers=auth)
        assert (answer.status_code, answer.content) == (200, b""), answer.text
        other = source_event("MODIFIED", _object("InferenceService", elsewhere, "m"), source="x:a")
        refused = await api.post(
            "/", content=other.body, headers={**other.headers, "Authorization": f"Bearer {token}"}
        )
        assert_problem(refused, 403, token=token)
        assert sink.events() == []
    finally:
        sink.close()
