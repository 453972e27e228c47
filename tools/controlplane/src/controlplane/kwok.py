"""Fake nodes and pods for the local cluster, kept by kwok (Kubernetes WithOut Kubelet).

No kubelet or container runtime runs here. kwok watches the Node objects the
launcher creates (those annotated ``kwok.x-k8s.io/node: fake``) and the pods
the real scheduler binds to them, and writes their status as a kubelet would,
following the Stages in ``stages/kwok-stages.yaml``: nodes become Ready and
keep a heartbeat, pods become Running and Ready, or crash like a failing model
server. To the controller-manager, the scheduler and KServe they are ordinary
nodes and pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane.errors import ControlPlaneError

STAGES_FILE = Path(__file__).resolve().parent / "stages" / "kwok-stages.yaml"
MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class NodeShape:
    """The name and allocatable resources of one fake node."""

    name: str
    cpu: str
    memory: str
    pods: int = 110
    gpus: int = 0


# Three worker nodes of the sizes clouds rent for model serving: two CPU nodes
# and one with 8 GPUs. KServe gives every predictor container a default request
# of 1 CPU and 2 GiB, so together they hold about 220 models at once (the test
# suite deletes each test's namespace after it); a request for more than 8 GPUs
# fits nowhere, as in a real cluster.
DEFAULT_NODES = (
    NodeShape("kwok-cpu-1", cpu="64", memory="256Gi", pods=250),
    NodeShape("kwok-cpu-2", cpu="64", memory="256Gi", pods=250),
    NodeShape("kwok-gpu-1", cpu="96", memory="1152Gi", pods=250, gpus=8),
)


def node_manifest(shape: NodeShape) -> dict[str, Any]:
    """The Node object for ``shape``, as a cluster's node registration would create it.

    Capacity and allocatable are in its status (a kubelet reports them); kwok's
    Stage keeps them and adds conditions, addresses and node info.
    """
    resources: dict[str, str] = {
        "cpu": shape.cpu,
        "memory": shape.memory,
        "pods": str(shape.pods),
        "ephemeral-storage": "100Gi",
    }
    if shape.gpus:
        resources[GPU_RESOURCE] = str(shape.gpus)
    labels = {
        "kubernetes.io/hostname": shape.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "kwok-gpu" if shape.gpus else "kwok-cpu",
        "type": "kwok",
    }
    if shape.gpus:
        labels["nvidia.com/gpu.present"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": shape.name,
            "labels": labels,
            "annotations": {MANAGED_ANNOTATION: MANAGED_VALUE},
        },
        "spec": {},
        "status": {"capacity": dict(resources), "allocatable": dict(resources)},
    }


def argv(
    binary: Path,
    *,
    kubeconfig: Path,
    server_port: int,
    tls_cert: Path,
    tls_key: Path,
    stages: Path = STAGES_FILE,
) -> list[str]:
    """kwok's command line: the launcher's nodes only, its kubelet endpoint on loopback.

    ``server_port`` serves ``/healthz`` and the kubelet API (logs, exec) over
    TLS with a certificate of the launcher's CA; nodes advertise it as their
    kubelet endpoint on 127.0.0.1.
    """
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--config={stages}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={MANAGED_ANNOTATION}={MANAGED_VALUE}",
        f"--server-address=127.0.0.1:{server_port}",
        "--node-ip=127.0.0.1",
        f"--node-port={server_port}",
        f"--tls-cert-file={tls_cert}",
        f"--tls-private-key-file={tls_key}",
        # Pod IPs from a range of their own, apart from the Service range 10.0.0.0/24.
        "--cidr=10.244.0.0/16",
    ]


def create_nodes(
    api_client: client.ApiClient, shapes: tuple[NodeShape, ...] = DEFAULT_NODES
) -> list[str]:
    """Create the fake nodes; return their names.

    Raises:
        ControlPlaneError: the apiserver refused a node.
    """
    core = client.CoreV1Api(api_client)
    for shape in shapes:
        try:
            # The client sends a dict body as it is.
            core.create_node(cast("client.V1Node", node_manifest(shape)))
        except ApiException as e:
            raise ControlPlaneError(
                f"the apiserver refused node {shape.name} ({e.status} {e.reason})",
                details=str(e.body)[:2000],
            ) from e
    return [shape.name for shape in shapes]


def ready_nodes(api_client: client.ApiClient, names: list[str]) -> list[str]:
    """Which of ``names`` are Ready right now."""
    core = client.CoreV1Api(api_client)
    ready = []
    for node in core.list_node(label_selector="type=kwok").items:
        name = node.metadata.name if node.metadata else None
        conditions = (node.status.conditions or []) if node.status else []
        if name in names and any(c.type == "Ready" and c.status == "True" for c in conditions):
            ready.append(str(name))
    return ready
