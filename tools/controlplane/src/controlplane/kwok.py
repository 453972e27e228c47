"""Fake nodes and pods for the local cluster, kept by kwok (Kubernetes WithOut Kubelet).

No kubelet or container runtime runs here. kwok watches the Node objects the
launcher creates (those annotated ``kwok.x-k8s.io/node: fake``) and the pods
the real scheduler binds to them, and writes their status as a kubelet would,
following the Stages in ``stages/kwok-stages.yaml``: nodes become Ready and
keep a heartbeat, pods become Running and Ready, or crash like a failing model
server. To the controller-manager, the scheduler and KServe they are ordinary
nodes and pods.

kwok also plays the kubelet's API: its server on 127.0.0.1 (TLS, a certificate
of the launcher's CA) is every node's kubelet endpoint (the Stage writes
InternalIP 127.0.0.1 and the port into each node's status), so the apiserver's
``pods/log`` (``kubectl logs``) reaches it as it reaches a kubelet (its node
proxy does not: that refuses loopback addresses). What it answers as a
container's log is a file (``pod_logs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane import pod_logs
from controlplane.errors import ControlPlaneError

STAGES_FILE = Path(__file__).resolve().parent / "stages" / "kwok-stages.yaml"
MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"
GPU_RESOURCE = "nvidia.com/gpu"
LOGS_KIND = "Logs"


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
    logs_config: Path,
    stages: Path = STAGES_FILE,
) -> list[str]:
    """kwok's command line: the launcher's nodes only, its kubelet endpoint on loopback.

    ``server_port`` serves ``/healthz`` and the kubelet API (logs, exec) over
    TLS with a certificate of the launcher's CA; nodes advertise it as their
    kubelet endpoint on 127.0.0.1. ``logs_config`` is a further ``--config``
    file (``pod_logs.write_kwok_config``: the default log of every container);
    per-pod logs come from ``Logs`` objects, which kwok watches (its CRD must
    be served by then, or kwok retries until it is).
    """
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--config={stages}",
        f"--config={logs_config}",
        f"--enable-crds={LOGS_KIND}",
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


def apiserver_kubelet_flags(*, ca_cert: Path, client_cert: Path, client_key: Path) -> list[str]:
    """The kube-apiserver flags by which it reaches kwok's kubelet endpoint, verified.

    The node's InternalIP (127.0.0.1, from kwok's ``--node-ip``) is the only
    address it dials: the default preference tries the Hostname address first,
    the node's name, which resolves nowhere. It verifies kwok's serving
    certificate against the launcher's CA and presents a client certificate of
    that CA, as it would to a kubelet (kwok v0.8.0 asks for none and
    authorizes nothing: its endpoint is on loopback only).
    """
    return [
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={ca_cert}",
        f"--kubelet-client-certificate={client_cert}",
        f"--kubelet-client-key={client_key}",
    ]


def crd_documents() -> list[dict[str, Any]]:
    """The kwok CRDs the apiserver must serve: ``Logs`` (``--enable-crds``)."""
    with pod_logs.LOGS_CRD_FILE.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]


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


PROBE_NAMESPACE = "default"
PROBE_POD = "kwok-logs-probe"


def probe_pod_manifest(node: str) -> dict[str, Any]:
    """A pod put straight on ``node`` (no scheduling), only so that its log can be asked for."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": PROBE_POD, "namespace": PROBE_NAMESPACE},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": "probe", "image": "kwok.invalid/probe"}],
        },
    }


def pod_logs_unreachable(api_client: client.ApiClient, node: str) -> str | None:
    """None once the apiserver fetched a pod's log from ``node``'s kubelet endpoint (kwok's).

    That is the path of ``pods/log`` (``kubectl logs``): the node's InternalIP
    and kubelet port, the apiserver's kubelet TLS settings, kwok's answer. The
    apiserver's node proxy cannot show it: it refuses loopback addresses. So a
    throw-away pod bound to ``node`` (``probe_pod_manifest``; needs the
    namespace's ``default`` ServiceAccount) has its log read, then is deleted
    (kwok removes it moments later). Otherwise returns what the apiserver
    answered.
    """
    core = client.CoreV1Api(api_client)
    try:
        # The client sends a dict body as it is.
        core.create_namespaced_pod(PROBE_NAMESPACE, cast("client.V1Pod", probe_pod_manifest(node)))
    except ApiException as e:
        if e.status != 409:  # noqa: PLR2004 - left by an earlier poll
            return f"cannot create the probe pod {PROBE_NAMESPACE}/{PROBE_POD}: {_said(e)}"
    try:
        core.read_namespaced_pod_log(PROBE_POD, PROBE_NAMESPACE, container="probe")
    except ApiException as e:
        return f"apiserver cannot read a pod log from {node}'s kubelet endpoint: {_said(e)}"
    try:
        # A graceful delete, as of any pod: kwok's pod-delete Stage removes it at once.
        core.delete_namespaced_pod(PROBE_POD, PROBE_NAMESPACE)
    except ApiException as e:
        if e.status != 404:  # noqa: PLR2004
            raise
    return None


def _said(e: ApiException) -> str:
    return f"{e.status} {str(e.body or e.reason)[:300]}"
