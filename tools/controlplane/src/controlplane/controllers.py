"""kube-controller-manager and kube-scheduler of the local cluster: their command lines.

They run as in a kubeadm cluster, with two differences a single local process
set needs: no leader election (there is one of each), and their secure port
on 127.0.0.1 with a certificate of the launcher's CA, so the launcher can ask
``/healthz`` over verified TLS. Each authenticates as its own user
(``system:kube-controller-manager``, ``system:kube-scheduler``), which the
apiserver's bootstrap RBAC roles already authorize; the controller-manager
runs each controller under its own ServiceAccount
(``--use-service-account-credentials``), as clusters do.
"""

from __future__ import annotations

from pathlib import Path

from controlplane import pki

CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
CLUSTER_NAME = "kserve-functions-local"


def _secure_serving(port: int, certificate: pki.ServingCertificate) -> list[str]:
    return [
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={certificate.cert}",
        f"--tls-private-key-file={certificate.key}",
    ]


def controller_manager_argv(
    binary: Path,
    *,
    kubeconfig: Path,
    port: int,
    certificate: pki.ServingCertificate,
    credentials: pki.Credentials,
) -> list[str]:
    """kube-controller-manager with every default controller.

    That is garbage collection, namespace deletion, Deployment → ReplicaSet →
    Pod, ServiceAccounts and their tokens (the token controller signs with
    the apiserver's ServiceAccount key), HPA, node lifecycle and the rest.
    """
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        *_secure_serving(port, certificate),
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--cluster-name={CLUSTER_NAME}",
        f"--service-account-private-key-file={credentials.service_account_key}",
        f"--root-ca-file={credentials.ca_cert}",
        f"--cluster-signing-cert-file={credentials.ca_cert}",
        f"--cluster-signing-key-file={credentials.ca_key}",
    ]


def scheduler_argv(
    binary: Path, *, kubeconfig: Path, port: int, certificate: pki.ServingCertificate
) -> list[str]:
    """kube-scheduler with its default profile."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        *_secure_serving(port, certificate),
        "--leader-elect=false",
    ]
