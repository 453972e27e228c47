"""Container logs of kwok's pods: which file kwok serves for which container, and its format.

No container runs, so no container writes a log. kwok's kubelet endpoint
(``--server-address``) serves ``GET /containerLogs/{namespace}/{pod}/{container}``
(what the apiserver calls for ``pods/log``, i.e. ``kubectl logs``) from a file
on the local disk, chosen by kwok's ``Logs`` and ``ClusterLogs`` objects
(kwok.x-k8s.io/v1alpha1); it reads the file as the kubelet reads a container
runtime's log, so ``tailLines``, ``sinceSeconds``/``sinceTime``,
``limitBytes``, ``timestamps`` and ``follow`` behave as in a cluster, and
``previous`` reads a second file.

kwok matches a ``Logs`` object to a pod by namespace and name, and a file path
is a plain path (kwok expands no template in it). So:

- one ``ClusterLogs`` in kwok's ``--config`` (``cluster_logs_manifest``) gives
  every pod's containers one empty file: every pod has a log, empty, like a
  container that printed nothing; its ``previous`` log is a file that never
  exists (kwok answers 400 naming it, as a kubelet answers 400 for a
  container that never restarted);
- a ``Logs`` object named after a pod (``logs_manifest``, created through the
  apiserver: kwok runs with ``--enable-crds=Logs``) points each of the pod's
  containers at a file of its own under the launcher's pod log folder
  (``container_log_path``): ``<folder>/<namespace>/<pod>/<container>.log`` and
  ``<container>.previous.log``. Whoever writes those files (in CRI log format,
  ``cri_lines``) sets that container's log; appending to a file is what a
  following reader (``follow=true``) sees next.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

KWOK_API_VERSION = "kwok.x-k8s.io/v1alpha1"
# kwok v0.8.0's own Logs CRD, served by the apiserver so that kwok can watch Logs objects.
LOGS_CRD_FILE = Path(__file__).resolve().parent / "kwok-crds" / "kwok.x-k8s.io_logs.yaml"
CLUSTER_LOGS_NAME = "every-pod-no-output"
NO_PREVIOUS_RUN = "no-previous-run-of-this-container.log"

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class LogLine:
    """One line a container printed: its text, when, and on which stream.

    ``at`` None means "now" when the line is written. ``text`` holds no line
    break (``cri_lines`` splits one that does into several lines).
    """

    text: str
    at: datetime.datetime | None = None
    stream: Stream = "stdout"


def container_log_path(
    log_dir: Path, namespace: str, pod: str, container: str, *, previous: bool = False
) -> Path:
    """The file kwok serves as ``container``'s log (``previous``: its last run's) in ``pod``.

    Namespace, pod and container names cannot contain ``/`` and container
    names no ``.``, so each container of each pod has files of its own.
    """
    name = f"{container}.previous.log" if previous else f"{container}.log"
    return log_dir / namespace / pod / name


def logs_manifest(
    log_dir: Path, namespace: str, pod: str, containers: Sequence[str]
) -> dict[str, Any]:
    """kwok's ``Logs`` object for ``pod``: each of ``containers`` to its files under ``log_dir``.

    kwok finds it by the pod's namespace and name; a container it does not
    list falls back to the ``ClusterLogs`` default.
    """
    return {
        "apiVersion": KWOK_API_VERSION,
        "kind": "Logs",
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {
            "logs": [
                {
                    "containers": [container],
                    "logsFile": str(container_log_path(log_dir, namespace, pod, container)),
                    "previousLogsFile": str(
                        container_log_path(log_dir, namespace, pod, container, previous=True)
                    ),
                }
                for container in containers
            ]
        },
    }


def no_previous_run_file(no_output_file: Path) -> Path:
    """The default ``previousLogsFile``, beside ``no_output_file``: never created.

    Without one kwok would open ``""`` (its working folder) and answer with a
    message about ``.``; a missing file of this name says what is missing.
    """
    return no_output_file.with_name(NO_PREVIOUS_RUN)


def cluster_logs_manifest(no_output_file: Path) -> dict[str, Any]:
    """kwok's ``ClusterLogs`` default: every container of every pod logs ``no_output_file``.

    No selector matches all pods and no container list all containers; the
    previous log is ``no_previous_run_file``, which does not exist, so
    ``previous=true`` fails (400) as for a container that never restarted.
    """
    return {
        "apiVersion": KWOK_API_VERSION,
        "kind": "ClusterLogs",
        "metadata": {"name": CLUSTER_LOGS_NAME},
        "spec": {
            "logs": [
                {
                    "logsFile": str(no_output_file),
                    "previousLogsFile": str(no_previous_run_file(no_output_file)),
                }
            ]
        },
    }


def write_kwok_config(path: Path, no_output_file: Path) -> None:
    """Write kwok's extra ``--config`` file (the ``ClusterLogs`` default) and the empty log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    no_output_file.parent.mkdir(parents=True, exist_ok=True)
    no_output_file.touch()
    path.write_text(yaml.safe_dump(cluster_logs_manifest(no_output_file), sort_keys=False))


def cri_timestamp(at: datetime.datetime) -> str:
    """``at`` in UTC as the CRI log format writes it (RFC 3339, fraction, ``Z``).

    A naive ``at`` is taken as UTC.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cri_lines(lines: Iterable[LogLine | str], *, now: datetime.datetime) -> str:
    """``lines`` in the CRI log format container runtimes write and kwok reads.

    Each line becomes ``<timestamp> <stream> F <text>\\n`` (``F``: a full line);
    a plain string is a stdout line at ``now``, as is a ``LogLine`` without
    ``at``. A text with line breaks becomes one line per part, same time and
    stream (one final line break ends the text, it adds no empty line). kwok
    answers the text alone, or prefixed by the timestamp with
    ``timestamps=true``, and ``sinceSeconds`` compares against it.
    """
    written: list[str] = []
    for line in lines:
        entry = LogLine(line) if isinstance(line, str) else line
        stamp = cri_timestamp(entry.at or now)
        written.extend(f"{stamp} {entry.stream} F {part}\n" for part in _parts(entry.text))
    return "".join(written)


def _parts(text: str) -> list[str]:
    # "a\nb" and "a\nb\n" are two lines; "" is one empty line (a container may print one).
    return text.removesuffix("\n").split("\n")
