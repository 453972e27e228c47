"""The notify function fed by the real ApiServerSource adapter, through the real Broker.

Knative Eventing v0.50.0 runs on the session's cluster (the ``eventing``
fixture). ``k8s/eventing/`` is applied in the test's namespace with
``kubectl apply -k`` through a local overlay that changes only what a test
namespace needs: every Trigger's subscriber becomes a loopback URI (the notify
Triggers the notify function served here; the others a sink that must stay
empty), the ClusterRoleBinding's subject is the test namespace's
``kserve-notify-source`` (the manifest names ``kserve-functions``), and the
ApiServerSource watches the test's namespace only (the manifest: every
namespace), so other tests' models do not feed it.

The ApiServerSource controller makes the adapter's Deployment; the launcher's
glue runs upstream's adapter for it (``controlplane.source_adapters``), which
watches InferenceServices and model pods as ``kserve-notify-source`` and sends
each change into the Broker; the notify Triggers deliver it to the function,
whose status-change events (``K_SINK``: the Broker) reach a test Trigger on
the function's source, a real HTTP receiver decoding CloudEvents
(``RecordingSink``). KServe writes the model's status, from pods kwok runs or
crashes: each transition (ready, unready, ready again, deleted; failed) is
reported exactly once, however many changes the adapter sends.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from controlplane.eventing_launch import not_ready
from kserve_functions.core.models import DeployRequest
from kserve_functions.core.resources import INFERENCE_SERVICE, MODEL_LABEL
from kserve_functions.objects.manifests import build_inference_service
from kubernetes import client
from support import kubectl, workloads
from support.event_sink import Received, RecordingSink
from support.eventing import overlay as eventing_overlay
from support.eventing import patch, trigger
from support.functions import ServedFunction
from support.objects import as_dict, read_inference_service
from support.workloads import wait_for

pytestmark = pytest.mark.integration

NOTIFY_SOURCE = "/kserve-functions/notify"
PREFIX = "dev.kserve-functions.model"
READY, UNREADY, FAILED, DELETED = (
    f"{PREFIX}.{t}" for t in ("ready", "unready", "failed", "deleted")
)
# kwok's Stage crashes the kserve-container of pods so labelled (support.workloads).
CRASH_MESSAGE = "model file /mnt/models/model.joblib is corrupt"
# The Stage's delay before it restarts a crashed container (pod-crash-loop-restart).
CRASH_RESTART_SECONDS = 30
ADAPTER_TYPES = {f"dev.knative.apiserver.resource.{t}" for t in ("add", "update", "delete")}
RESTART_TOKEN = "kserve-functions.dev/restart-token"
HOLD = "kserve-functions.dev/test-hold"
# Long enough for a redelivery by the Broker (its first retry is 0.5 s after a
# 5xx) or a second event about a transition to arrive.
QUIET_SECONDS = 5.0
_ISVC = (INFERENCE_SERVICE.group, INFERENCE_SERVICE.version)


def _overlay(folder: Path, namespace: str, notify_url: str, other_url: str) -> Path:
    """k8s/eventing/ for one test namespace (see the module docstring)."""
    subscriber = "/spec/subscriber"
    return eventing_overlay(
        folder,
        [
            patch(
                {"kind": "Trigger", "name": "kserve-notify-.*"},
                [{"op": "replace", "path": subscriber, "value": {"uri": notify_url}}],
            ),
            patch(
                {"kind": "Trigger", "name": "kserve-(deploy|delete)-.*"},
                [{"op": "replace", "path": subscriber, "value": {"uri": other_url}}],
            ),
            patch(
                {"kind": "ClusterRoleBinding"},
                [{"op": "replace", "path": "/subjects/0/namespace", "value": namespace}],
            ),
            patch(
                {"kind": "ApiServerSource"},
                [
                    {
                        "op": "replace",
                        "path": "/spec/namespaceSelector",
                        "value": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                    }
                ],
            ),
        ],
    )


def _not_ready(admin_api: client.ApiClient, namespace: str) -> dict[str, str] | None:
    """None until the Broker, every Trigger and the ApiServerSource are Ready; then {}."""
    custom = client.CustomObjectsApi(admin_api)
    pending: dict[str, str] = {}
    for group, plural in (
        ("eventing.knative.dev", "brokers"),
        ("eventing.knative.dev", "triggers"),
        ("sources.knative.dev", "apiserversources"),
    ):
        found = as_dict(custom.list_namespaced_custom_object(group, "v1", namespace, plural))
        for item in found["items"]:
            if (seen := not_ready(item)) is not None:
                pending[f"{plural[:-1]} {item['metadata']['name']}"] = seen
    return None if pending else {}


@pytest.fixture
def sinks() -> Iterator[tuple[RecordingSink, RecordingSink, RecordingSink]]:
    """Receivers of: notify's status-change events, the adapter's events, anything else."""
    opened = (RecordingSink(), RecordingSink(), RecordingSink())
    yield opened
    for sink in opened:
        sink.close()


@pytest.fixture
def fed(
    control_plane: ControlPlane,
    namespace: str,
    admin_api: client.ApiClient,
    brokered_notify: ServedFunction,
    sinks: tuple[RecordingSink, RecordingSink, RecordingSink],
    tmp_path: Path,
) -> str:
    """k8s/eventing/ applied with the overlay, the test Triggers added, every object Ready,
    and the adapter watching (a change of a probe pod reached the adapter's Trigger)."""
    status, adapter, other = sinks
    overlay = _overlay(tmp_path / "overlay", namespace, f"{brokered_notify.url}/", other.url)
    kubeconfig = f"--kubeconfig={control_plane.kubeconfig_path}"
    kubectl.run([kubeconfig, "apply", "-k", str(overlay), "-n", namespace])
    custom = client.CustomObjectsApi(admin_api)
    for name, url, attributes in (
        ("test-status", status.url, {"source": NOTIFY_SOURCE}),
        ("test-adapter", adapter.url, {"kservefunctions": "model-watch"}),
    ):
        custom.create_namespaced_custom_object(
            "eventing.knative.dev",
            "v1",
            namespace,
            "triggers",
            trigger(namespace, name, url, attributes),
        )
    wait_for(
        lambda: _not_ready(admin_api, namespace),
        timeout=90,
        what="the Broker, every Trigger and the ApiServerSource Ready",
    )
    _wait_adapter_watching(admin_api, namespace, adapter)
    return namespace


def _wait_adapter_watching(
    admin_api: client.ApiClient, namespace: str, adapter: RecordingSink
) -> None:
    """Return once the adapter's watch is up: upstream's adapter sends nothing for what
    its first list finds (``Replace`` is a no-op), only changes seen by its watch, so a
    change made before the watch is lost. A pod of no model, never scheduled, is
    changed until its change arrives; notify answers such an event with no event."""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="adapter-probe", labels={MODEL_LABEL: "no-such-model"}),
        spec=client.V1PodSpec(
            scheduler_name="no-scheduler",
            containers=[client.V1Container(name="c", image="registry.example/none:1")],
        ),
    )
    core = client.CoreV1Api(admin_api)
    core.create_namespaced_pod(namespace, pod)
    subject = f"/apis/v1/namespaces/{namespace}/pods/adapter-probe"

    def arrived() -> bool | None:
        if any(event.subject == subject for event in adapter.events()):
            return True
        touch = {"metadata": {"annotations": {"ping": uuid.uuid4().hex}}}
        core.patch_namespaced_pod("adapter-probe", namespace, touch)
        return None

    wait_for(arrived, timeout=60, interval=0.5, what="the adapter's first event (its watch up)")


def _model(namespace: str, name: str, **fields: Any) -> dict[str, Any]:
    request = DeployRequest.model_validate(
        {"name": name, "namespace": namespace, "image": "r/m:1", **fields}
    )
    return build_inference_service(request, restart_token="1")


def _about(sink: RecordingSink, namespace: str, name: str) -> list[Received]:
    return [event for event in sink.events() if event.subject == f"{namespace}/{name}"]


def _types(sink: RecordingSink, namespace: str, name: str) -> list[str]:
    return [event.type for event in _about(sink, namespace, name)]


def _wait_types(sink: RecordingSink, namespace: str, name: str, expected: list[str]) -> None:
    wait_for(
        lambda: True if _types(sink, namespace, name)[: len(expected)] == expected else None,
        timeout=60,
        what=f"the status events {expected} (seen {_types(sink, namespace, name)})",
    )


def _set_hold(admin_api: client.ApiClient, namespace: str, name: str, *, held: bool) -> None:
    """Add or remove the test's finalizer (KServe's stays), as of the read version."""
    custom = client.CustomObjectsApi(admin_api)

    def changed() -> bool | None:
        metadata = read_inference_service(admin_api, namespace, name)["metadata"]
        finalizers = [f for f in metadata.get("finalizers", []) if f != HOLD]
        body = {
            "metadata": {
                "finalizers": [*finalizers, HOLD] if held else finalizers,
                "resourceVersion": metadata["resourceVersion"],
            }
        }
        try:
            custom.patch_namespaced_custom_object(
                *_ISVC, namespace, INFERENCE_SERVICE.plural, name, body
            )
        except client.ApiException as e:
            if e.status == 409:  # changed since the read
                return None
            raise
        return True

    wait_for(changed, what=f"the test's finalizer {'added' if held else 'removed'}")


def test_the_real_adapter_feeds_notify_one_event_per_transition(
    fed: str,
    admin_api: client.ApiClient,
    sinks: tuple[RecordingSink, RecordingSink, RecordingSink],
) -> None:
    namespace = fed
    status, adapter, other = sinks
    custom = client.CustomObjectsApi(admin_api)
    custom.create_namespaced_custom_object(
        *_ISVC, namespace, INFERENCE_SERVICE.plural, _model(namespace, "iris")
    )

    _wait_types(status, namespace, "iris", [READY])
    # An update (what POST /deploy does: a new restart token) rolls a new generation.
    custom.patch_namespaced_custom_object(
        *_ISVC,
        namespace,
        INFERENCE_SERVICE.plural,
        "iris",
        {"spec": {"predictor": {"annotations": {RESTART_TOKEN: "2"}}}},
    )
    _wait_types(status, namespace, "iris", [READY, UNREADY, READY])
    # The test's finalizer holds the deleted model (as test_notify.py does), so
    # "deleted" is recorded on it once.
    _set_hold(admin_api, namespace, "iris", held=True)
    uid = read_inference_service(admin_api, namespace, "iris")["metadata"]["uid"]
    custom.delete_namespaced_custom_object(*_ISVC, namespace, INFERENCE_SERVICE.plural, "iris")
    _wait_types(status, namespace, "iris", [READY, UNREADY, READY, DELETED])
    _set_hold(admin_api, namespace, "iris", held=False)
    time.sleep(QUIET_SECONDS)

    # Exactly one event per transition, whatever the adapter and the Broker redelivered.
    assert _types(status, namespace, "iris") == [READY, UNREADY, READY, DELETED]
    events = _about(status, namespace, "iris")
    assert len({event.id for event in events}) == len(events)
    assert events[-1].id == f"{uid}/deleted"
    assert (events[0].data["ready"], events[0].data["generation"]) == (True, 1)
    assert (events[2].data["state"], events[2].data["generation"]) == ("ready", 2)
    # What upstream's adapter sent: Resource-mode events of the model and its pods,
    # with the source's ceOverrides; and nothing reached the other Triggers.
    model_path = f"/apis/{INFERENCE_SERVICE.api_version}/namespaces/{namespace}"
    about_model = [e for e in adapter.events() if (e.subject or "").startswith(model_path)]
    assert {e.type for e in about_model} == ADAPTER_TYPES
    assert all(e.data["metadata"]["name"] == "iris" for e in about_model)
    assert other.events() == []


def test_a_crash_looping_model_fed_by_the_real_adapter_is_reported_failed_once(
    fed: str,
    admin_api: client.ApiClient,
    sinks: tuple[RecordingSink, RecordingSink, RecordingSink],
) -> None:
    namespace = fed
    status, adapter, _ = sinks
    model = _model(namespace, "broken", **workloads.crash_looping(CRASH_MESSAGE, exit_code=3))
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        *_ISVC, namespace, INFERENCE_SERVICE.plural, model
    )

    _wait_types(status, namespace, "broken", [FAILED])
    # The crash loop goes on (kwok restarts the container, KServe rewrites the
    # status): the adapter keeps sending changes, none of which is a transition.
    # kwok's crash-loop Stage restarts the container 30 s after each crash, so
    # the changes come in bursts that far apart: wait through two of them.
    seen = len(adapter.events())
    wait_for(
        lambda: True if len(adapter.events()) >= seen + 2 else None,
        timeout=CRASH_RESTART_SECONDS * 2 + 10,
        what="further changes of the crash-looping model from the adapter",
    )
    time.sleep(QUIET_SECONDS)

    [failed] = _about(status, namespace, "broken")
    assert failed.type == FAILED
    assert (failed.data["ready"], failed.data["state"]) == (False, "failed")
    assert CRASH_MESSAGE in failed.data["message"]
