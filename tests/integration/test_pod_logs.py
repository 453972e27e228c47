"""Container logs of kwok's pods, read through the apiserver as ``kubectl logs`` reads them.

The apiserver asks the pod's node's kubelet endpoint (kwok's server, over
verified TLS on 127.0.0.1); kwok answers from the file a test wrote with
``support.pod_logs``. So ``tailLines``, ``sinceSeconds``, ``timestamps``,
``previous`` and ``follow`` are the apiserver's and the kubelet log reader's
own, not a fake of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any, cast

import pytest
import urllib3
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support import kubectl, workloads
from support.objects import inference_service
from support.pod_logs import LogLine, append_pod_log, write_pod_log

pytestmark = pytest.mark.integration

POD = "logger"
CONTAINERS = ("server", "sidecar")


def _pod_manifest(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": namespace},
        "spec": {
            "containers": [
                {"name": name, "image": "registry.example.com/logger:1"} for name in CONTAINERS
            ],
        },
    }


@pytest.fixture
def pod(admin_api: client.ApiClient, namespace: str) -> str:
    """A pod of two containers that the scheduler placed and kwok runs; its namespace."""
    core = client.CoreV1Api(admin_api)
    # The client sends a dict body as it is.
    core.create_namespaced_pod(namespace, cast("client.V1Pod", _pod_manifest(namespace)))

    def running() -> str | None:
        status = core.read_namespaced_pod(POD, namespace).status
        return "Running" if status is not None and status.phase == "Running" else None

    workloads.wait_for(running, what=f"pod {namespace}/{POD} Running")
    return namespace


def _log(admin_api: client.ApiClient, namespace: str, container: str, **options: Any) -> str:
    answer = client.CoreV1Api(admin_api).read_namespaced_pod_log(
        POD, namespace, container=container, **options
    )
    assert isinstance(answer, str)
    return answer


def test_a_written_log_is_what_the_apiserver_answers(
    control_plane: ControlPlane, admin_api: client.ApiClient, pod: str
) -> None:
    write_pod_log(
        control_plane,
        pod,
        POD,
        "server",
        ["loading model", LogLine("warning: no GPU", stream="stderr"), "serving on :8080"],
    )

    assert _log(admin_api, pod, "server") == "loading model\nwarning: no GPU\nserving on :8080\n"
    assert _log(admin_api, pod, "server", tail_lines=1) == "serving on :8080\n"
    assert _log(admin_api, pod, "server", limit_bytes=7) == "loading"
    # Each container has a log of its own; this one printed nothing.
    assert _log(admin_api, pod, "sidecar") == ""


def test_since_seconds_and_timestamps_use_the_lines_times(
    control_plane: ControlPlane, admin_api: client.ApiClient, pod: str
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    an_hour_ago = now - datetime.timedelta(hours=1)
    write_pod_log(
        control_plane,
        pod,
        POD,
        "server",
        [LogLine("started", at=an_hour_ago), LogLine("request 1", at=now)],
    )

    assert _log(admin_api, pod, "server", since_seconds=600) == "request 1\n"
    # timestamps=true: each line after the time written for it (RFC 3339, UTC).
    stamped = [
        line.split(" ", 1) for line in _log(admin_api, pod, "server", timestamps=True).splitlines()
    ]
    assert [(datetime.datetime.fromisoformat(at), text) for at, text in stamped] == [
        (an_hour_ago, "started"),
        (now, "request 1"),
    ]


def test_follow_streams_lines_as_they_are_appended(
    control_plane: ControlPlane, admin_api: client.ApiClient, pod: str
) -> None:
    write_pod_log(control_plane, pod, POD, "server", ["ready"])

    with _following(admin_api, pod, "server") as lines:
        assert next(lines) == "ready"
        append_pod_log(control_plane, pod, POD, "server", ["request 1", "request 2"])
        assert [next(lines), next(lines)] == ["request 1", "request 2"]
        append_pod_log(control_plane, pod, POD, "server", ["request 3"])
        assert next(lines) == "request 3"


def test_previous_is_the_last_runs_log_and_absent_by_default(
    control_plane: ControlPlane, admin_api: client.ApiClient, pod: str
) -> None:
    # Before any write: the default log of kwok's pods, empty, and no previous run.
    assert _log(admin_api, pod, "server") == ""
    with pytest.raises(ApiException) as no_previous:
        _log(admin_api, pod, "server", previous=True)
    assert no_previous.value.status == 400
    assert "no-previous-run-of-this-container.log" in str(no_previous.value.body)

    write_pod_log(control_plane, pod, POD, "server", ["out of memory"], previous=True)

    assert _log(admin_api, pod, "server", previous=True) == "out of memory\n"
    assert _log(admin_api, pod, "server") == ""


def test_kubectl_logs_reads_the_same_log(
    control_plane: ControlPlane, admin_api: client.ApiClient, pod: str
) -> None:
    write_pod_log(control_plane, pod, POD, "sidecar", ["one", "two", "three"])

    done = kubectl.run(
        ["logs", POD, "-n", pod, "-c", "sidecar", "--tail=2", *kubectl.cluster_args(control_plane)]
    )

    assert done.stdout == "two\nthree\n"


def test_a_models_predictor_pod_logs_what_was_written_for_it(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        INFERENCE_SERVICE.group,
        INFERENCE_SERVICE.version,
        namespace,
        INFERENCE_SERVICE.plural,
        inference_service(namespace, "iris"),
    )
    [predictor] = workloads.wait_for(
        lambda: (
            [p for p in workloads.pods(admin_api, namespace, "iris") if p["spec"].get("nodeName")]
            or None
        ),
        what="the predictor pod of iris bound to a node",
    )
    name = predictor["metadata"]["name"]

    write_pod_log(control_plane, namespace, name, "kserve-container", ["model iris loaded"])

    answer = client.CoreV1Api(admin_api).read_namespaced_pod_log(
        name, namespace, container="kserve-container"
    )
    assert answer == "model iris loaded\n"


class _Following:
    """The lines of a followed log, as they arrive.

    Each ``next`` waits at most the request's read timeout for the next bytes
    (then urllib3 raises ReadTimeoutError); a log that ends fails the test.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self._chunks = response.stream(decode_content=True)
        self._buffer = b""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while b"\n" not in self._buffer:
            chunk = next(self._chunks, None)
            assert chunk is not None, f"the followed log ended; unread: {self._buffer!r}"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()

    def __enter__(self) -> _Following:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _following(admin_api: client.ApiClient, namespace: str, container: str) -> _Following:
    """The log of ``container``, followed: the client hands over the open response."""
    response = client.CoreV1Api(admin_api).read_namespaced_pod_log(
        POD,
        namespace,
        container=container,
        follow=True,
        _preload_content=False,
        # The read timeout bounds a wait for a line that never comes.
        _request_timeout=(5, 10),
    )
    return _Following(cast("urllib3.BaseHTTPResponse", response))
