"""Set what a kwok pod's container logged, for tests that read logs through the apiserver.

kwok's kubelet endpoint answers ``GET .../pods/{pod}/log`` (``kubectl logs``,
``CoreV1Api.read_namespaced_pod_log``) from files (``controlplane.pod_logs``):
every container logs nothing until a test writes its log here. The first
write for a pod creates kwok's ``Logs`` object for it (every container of the
pod gets its files under ``ControlPlane.pod_log_dir``) and waits until kwok
serves them; after that a write is a file write, seen by the next read at
once and by a reader that follows (``follow=true``) within moments.

Replace a log (``write_pod_log``) before reading it; append
(``append_pod_log``) while a reader follows it, as a container would.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path

from controlplane import pod_logs
from controlplane.cluster import ControlPlane
from controlplane.pod_logs import LogLine
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from support.workloads import wait_for

__all__ = ["LogLine", "append_pod_log", "map_pod_logs", "write_pod_log"]

_GROUP, _VERSION = pod_logs.KWOK_API_VERSION.split("/")


def write_pod_log(
    control_plane: ControlPlane,
    namespace: str,
    pod: str,
    container: str,
    lines: Iterable[LogLine | str],
    *,
    previous: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Make ``lines`` the whole log of ``container`` in ``pod`` (``previous``: of its last run).

    A plain string is a stdout line logged now; a ``LogLine`` carries its own
    time (what ``sinceSeconds`` and ``timestamps=true`` see) and stream.
    Returns the log file. The pod must exist; the first write for a pod waits
    (up to ``timeout`` seconds) until it is bound to a node and kwok serves
    its files (``map_pod_logs``).
    """
    path = _path(control_plane, namespace, pod, container, previous=previous, timeout=timeout)
    path.write_text(pod_logs.cri_lines(lines, now=_now()))
    return path


def append_pod_log(
    control_plane: ControlPlane,
    namespace: str,
    pod: str,
    container: str,
    lines: Iterable[LogLine | str],
    *,
    timeout: float = 30.0,
) -> Path:
    """Add ``lines`` at the end of ``container``'s log, in one write, as a running container would.

    A reader following the log (``follow=true``) gets them next. Otherwise as
    ``write_pod_log``.
    """
    path = _path(control_plane, namespace, pod, container, previous=False, timeout=timeout)
    with path.open("a") as log:
        log.write(pod_logs.cri_lines(lines, now=_now()))
    return path


def map_pod_logs(
    control_plane: ControlPlane, namespace: str, pod: str, *, timeout: float = 30.0
) -> None:
    """Give every container of ``pod`` log files of its own, served by kwok; idempotent.

    Waits until the pod is bound to a node (no node, no log: the apiserver
    answers an empty log for an unscheduled pod), creates each container's
    empty current and previous log file and kwok's ``Logs`` object for the
    pod, then waits until kwok serves them: until ``previous=true`` succeeds,
    which kwok's default (no previous log) refuses.

    Raises:
        AssertionError: the pod was not bound, or kwok did not serve its
            files, within ``timeout`` seconds.
    """
    log_dir = control_plane.pod_log_dir
    with control_plane.admin_client() as api_client:
        core = client.CoreV1Api(api_client)
        spec = wait_for(
            lambda: _bound_spec(core, namespace, pod),
            timeout=timeout,
            what=f"pod {namespace}/{pod} bound to a node",
        )
        containers = [c.name for c in [*(spec.init_containers or []), *spec.containers]]
        for container in containers:
            for previous in (False, True):
                path = pod_logs.container_log_path(
                    log_dir, namespace, pod, container, previous=previous
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
        try:
            client.CustomObjectsApi(api_client).create_namespaced_custom_object(
                _GROUP,
                _VERSION,
                namespace,
                "logs",
                pod_logs.logs_manifest(log_dir, namespace, pod, containers),
            )
        except ApiException as e:
            if e.status != 409:  # already mapped by an earlier write
                raise
        wait_for(
            lambda: _served(core, namespace, pod, containers[0]),
            timeout=timeout,
            what=f"kwok serving the log files of pod {namespace}/{pod}",
            interval=0.05,
        )


def _path(
    control_plane: ControlPlane,
    namespace: str,
    pod: str,
    container: str,
    *,
    previous: bool,
    timeout: float,
) -> Path:
    path = pod_logs.container_log_path(
        control_plane.pod_log_dir, namespace, pod, container, previous=previous
    )
    if not path.exists():
        map_pod_logs(control_plane, namespace, pod, timeout=timeout)
    assert path.exists(), f"pod {namespace}/{pod} has no container {container!r}"
    return path


def _bound_spec(core: client.CoreV1Api, namespace: str, pod: str) -> client.V1PodSpec | None:
    spec = core.read_namespaced_pod(pod, namespace).spec
    return spec if spec is not None and spec.node_name else None


def _served(core: client.CoreV1Api, namespace: str, pod: str, container: str) -> bool | None:
    try:
        core.read_namespaced_pod_log(pod, namespace, container=container, previous=True)
    except ApiException as e:
        if e.status == 400:  # still kwok's default: no previous log
            return None
        raise
    return True


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
