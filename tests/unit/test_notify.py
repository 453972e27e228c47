"""The notify function's pure parts: which model an event is about, and its start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kserve_functions.cloudevents import envelope
from kserve_functions.core import errors
from kserve_functions.functions import deploy as deploy_function
from kserve_functions.functions import notify as notify_function
from kserve_functions.intake import notify

UPDATE = envelope.APISERVER_UPDATE


def _event(data: dict[str, Any], event_type: str = UPDATE) -> envelope.Event:
    return envelope.Event(
        type=event_type, source="https://10.0.0.1:443", id="1", subject=None, data=data
    )


def _isvc(**metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
    }


def _pod(**metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


@pytest.mark.parametrize(
    ("data", "model"),
    [
        (_isvc(namespace="ml", name="iris"), ("ml", "iris")),
        # Any served version of KServe's group names a model.
        (
            {**_isvc(namespace="ml", name="iris"), "apiVersion": "serving.kserve.io/v1"},
            ("ml", "iris"),
        ),
        (
            _pod(
                namespace="ml",
                name="iris-predictor-5d7775b967-jpn7v",
                labels={"serving.kserve.io/inferenceservice": "iris", "app": "x"},
            ),
            ("ml", "iris"),
        ),
    ],
    ids=["model", "model-other-version", "pod"],
)
def test_the_model_an_event_is_about(data: dict[str, Any], model: tuple[str, str]) -> None:
    assert notify.watched_model(_event(data)) == model


@pytest.mark.parametrize(
    "data",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "ml", "name": "c"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "ml"}},
        {**_isvc(namespace="ml", name="iris"), "apiVersion": "example.com/v1"},
        _pod(namespace="ml", name="p"),
        _pod(namespace="ml", name="p", labels={"serving.kserve.io/inferenceservice": "Iris"}),
        _pod(namespace="ml", name="p", labels=["serving.kserve.io/inferenceservice"]),
        _isvc(namespace="ml"),
        _isvc(name="iris"),
        _isvc(namespace="ML", name="iris"),
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": "x"},
        {},
    ],
    ids=[
        "configmap",
        "deployment",
        "other-group",
        "pod-without-label",
        "pod-label-not-a-name",
        "labels-not-a-map",
        "model-without-name",
        "model-without-namespace",
        "namespace-not-a-name",
        "metadata-not-a-map",
        "empty",
    ],
)
def test_an_event_about_no_model_is_a_bad_request(data: dict[str, Any]) -> None:
    with pytest.raises(errors.BadRequest):
        notify.watched_model(_event(data))


def test_notify_handles_the_three_resource_mode_types_only() -> None:
    assert set(notify.HANDLERS) == {
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.update",
        "dev.knative.apiserver.resource.delete",
    }


def test_the_status_types_are_the_four_of_design_5() -> None:
    assert envelope.STATUS_TYPES == {
        "ready": "dev.kserve-functions.model.ready",
        "unready": "dev.kserve-functions.model.unready",
        "failed": "dev.kserve-functions.model.failed",
        "deleted": "dev.kserve-functions.model.deleted",
    }


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({}, "K_SINK is not set"),
        ({"K_SINK": "broker"}, "K_SINK='broker' is not an absolute http(s) URL"),
        ({"K_SINK": "https://b/", "K_CA_CERTS": "not a certificate"}, "K_CA_CERTS holds no usable"),
    ],
    ids=["no-sink", "sink-not-a-url", "ca-certs-not-pem"],
)
def test_notify_without_a_usable_sink_stays_not_ready(
    environ: dict[str, str], reason: str, tmp_path: Path
) -> None:
    function = notify_function.new()

    function.start({"KUBECONFIG": _kubeconfig(tmp_path), **environ})

    ready, why = function.ready()
    assert ready is False
    assert reason in why


def test_notify_with_a_sink_is_ready_and_the_others_need_none(tmp_path: Path) -> None:
    notifier, deploy = notify_function.new(), deploy_function.new()

    notifier.start({"KUBECONFIG": _kubeconfig(tmp_path), "K_SINK": "http://broker/"})
    deploy.start({"KUBECONFIG": _kubeconfig(tmp_path)})

    assert notifier.ready() == (True, "OK")
    assert deploy.ready() == (True, "OK")


def _kubeconfig(tmp_path: Path) -> str:
    """A usable kubeconfig file (nothing is called: start() makes no request)."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    return str(path)
