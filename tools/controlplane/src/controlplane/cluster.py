"""A real, throw-away Kubernetes control plane: etcd + kube-apiserver on loopback.

What it is and is not: RBAC is on, ServiceAccount tokens can be minted
(TokenRequest) and reviewed (TokenReview), SubjectAccessReviews answer, and the
project's CRDs are installed with their full schemas. No kube-controller-manager
runs, so no ``default`` ServiceAccount appears in new namespaces, deleted
namespaces stay Terminating and nothing is garbage-collected: tests use fresh
namespaces instead of cleaning up. No KServe controller runs either; tests write
InferenceService status themselves.

Everything lives in one temporary folder (etcd data, keys, logs) that ``stop``
removes; ``stop`` is safe to call at any point of ``start`` and more than once.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from kubernetes import client

from controlplane import binaries, crds, kubeconfig, pki
from controlplane.errors import ControlPlaneError
from controlplane.processes import ManagedProcess, free_port, require_free_port, stop_all

REPO_ROOT = Path(__file__).resolve().parents[4]
ADMIN_USER = "kserve-functions-admin"
ADMIN_GROUP = "system:masters"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# The InferenceService CRD is ~2 MB of JSON; etcd's default request limit is 1.5 MiB
# (10 MiB is the most etcd recommends).
ETCD_MAX_REQUEST_BYTES = 10 * 1024 * 1024

_T = TypeVar("_T")


@dataclass(frozen=True)
class Settings:
    """How to start a control plane.

    ``apiserver_port`` None picks a free port. ``kubeconfig_path`` None writes
    the kubeconfig inside the temporary folder. ``ready_timeout`` bounds the
    wait for ``/readyz`` and for the CRDs to be served, each.
    """

    crd_dir: Path = field(default_factory=lambda: crds.default_crd_dir(REPO_ROOT))
    apiserver_port: int | None = None
    kubeconfig_path: Path | None = None
    ready_timeout: float = 90.0
    cache_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults, with the CRD folder from ``CRD_DIR`` when that is set."""
        crd_dir = (os.environ if environ is None else environ).get("CRD_DIR")
        return cls(crd_dir=Path(crd_dir)) if crd_dir else cls()


class ControlPlane:
    """etcd and kube-apiserver started together; use as a context manager."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._processes: list[ManagedProcess] = []
        self._work_dir: Path | None = None
        self._credentials: pki.Credentials | None = None
        self._server: str | None = None
        self._kubeconfig_path: Path | None = None

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what users of a running control plane need -------------------------

    @property
    def server(self) -> str:
        """The apiserver's URL, ``https://127.0.0.1:<port>``."""
        return self._require(self._server, "server")

    @property
    def kubeconfig_path(self) -> Path:
        """The admin kubeconfig written at start."""
        return self._require(self._kubeconfig_path, "kubeconfig")

    @property
    def ca_cert_path(self) -> Path:
        """The CA that signed the apiserver's serving certificate."""
        return self._require(self._credentials, "credentials").ca_cert

    @property
    def work_dir(self) -> Path:
        """The temporary folder holding etcd data, keys and logs (gone after stop)."""
        return self._require(self._work_dir, "work dir")

    @property
    def pids(self) -> list[int]:
        """Process ids of etcd and kube-apiserver, in start order."""
        return [process.pid for process in self._processes]

    def admin_client(self) -> client.ApiClient:
        """A client authenticated as the admin (group ``system:masters``)."""
        credentials = self._require(self._credentials, "credentials")
        return self.client_for_token(credentials.admin_token)

    def client_for_token(self, token: str) -> client.ApiClient:
        """A client that presents ``token`` as its bearer token."""
        configuration = client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.ca_cert_path)
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def mint_service_account_token(
        self,
        namespace: str,
        service_account: str,
        *,
        audiences: list[str] | None = None,
        expiration_seconds: int = 3600,
    ) -> str:
        """A token for an existing ServiceAccount, minted through TokenRequest."""
        spec = client.V1TokenRequestSpec(
            audiences=audiences or [], expiration_seconds=expiration_seconds
        )
        with self.admin_client() as api_client:
            response = client.CoreV1Api(api_client).create_namespaced_service_account_token(
                service_account, namespace, client.AuthenticationV1TokenRequest(spec=spec)
            )
        token = response.status.token if response.status is not None else None
        if not token:
            raise ControlPlaneError(f"TokenRequest for {namespace}/{service_account} gave no token")
        return token

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Start etcd and kube-apiserver, install the CRDs, write the kubeconfig.

        Raises:
            ControlPlaneError: a cause a person can act on (missing CRD folder,
                port in use, failed build, not ready in time, with log tails);
                everything started so far is stopped and removed first.
        """
        settings = self.settings
        crds.check_crd_dir(settings.crd_dir)
        if settings.apiserver_port is not None:
            require_free_port(settings.apiserver_port, option="--apiserver-port")
        etcd_binary = binaries.ensure(binaries.ETCD, cache_dir=settings.cache_dir)
        apiserver_binary = binaries.ensure(binaries.KUBE_APISERVER, cache_dir=settings.cache_dir)
        try:
            self._start(etcd_binary, apiserver_binary)
        except BaseException:
            self.stop()
            raise

    def _start(self, etcd_binary: Path, apiserver_binary: Path) -> None:
        settings = self.settings
        self._work_dir = Path(tempfile.mkdtemp(prefix="kserve-functions-controlplane-"))
        credentials = pki.write_credentials(
            self._work_dir, admin_user=ADMIN_USER, admin_group=ADMIN_GROUP
        )
        self._credentials = credentials

        etcd_url = self._start_etcd(etcd_binary)
        port = settings.apiserver_port or free_port()
        self._server = f"https://127.0.0.1:{port}"
        self._start_apiserver(apiserver_binary, etcd_url, port, credentials)
        self._wait_ready(settings.ready_timeout)

        self._kubeconfig_path = settings.kubeconfig_path or self._work_dir / "kubeconfig"
        kubeconfig.write(
            self._kubeconfig_path,
            kubeconfig.render(
                server=self._server,
                ca_pem=credentials.ca_cert.read_bytes(),
                user=ADMIN_USER,
                token=credentials.admin_token,
            ),
        )
        with self.admin_client() as api_client:
            installed = crds.install(api_client, settings.crd_dir)
            crds.wait_served(api_client, installed, timeout=settings.ready_timeout)

    def _start_etcd(self, binary: Path) -> str:
        work_dir = self.work_dir
        client_url = f"http://127.0.0.1:{free_port()}"
        peer_url = f"http://127.0.0.1:{free_port()}"
        argv = [
            str(binary),
            "--name=default",
            f"--data-dir={work_dir / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            # Test data: durability buys nothing and fsync costs seconds per test run.
            "--unsafe-no-fsync",
            f"--max-request-bytes={ETCD_MAX_REQUEST_BYTES}",
            "--log-level=warn",
        ]
        self._processes.append(ManagedProcess("etcd", argv, work_dir / "etcd.log"))
        return client_url

    def _start_apiserver(
        self, binary: Path, etcd_url: str, port: int, credentials: pki.Credentials
    ) -> None:
        work_dir = self.work_dir
        argv = [
            str(binary),
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={work_dir / 'certs'}",
            f"--tls-cert-file={credentials.serving_cert}",
            f"--tls-private-key-file={credentials.serving_key}",
            f"--secure-port={port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Endpoints reconciler refuses loopback addresses, and
            # nothing here routes to the apiserver through a Service anyway.
            "--endpoint-reconciler-type=none",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            f"--token-auth-file={credentials.token_auth_file}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={credentials.service_account_key}",
            f"--service-account-signing-key-file={credentials.service_account_key}",
            "--allow-privileged=true",
            # The ServiceAccount admission plugin waits for a `default` ServiceAccount
            # that only kube-controller-manager would create.
            "--disable-admission-plugins=ServiceAccount",
            "--v=1",
        ]
        self._processes.append(ManagedProcess("kube-apiserver", argv, work_dir / "apiserver.log"))

    def _wait_ready(self, timeout: float) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_cert_path))
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            for process in self._processes:
                code = process.exit_code()
                if code is not None:
                    raise ControlPlaneError(
                        f"{process.name} exited with status {code} while starting; its log:",
                        details=self._log_tails(),
                    )
            try:
                with urllib.request.urlopen(  # noqa: S310 - fixed https URL of our own apiserver
                    f"{self.server}/readyz", context=context, timeout=2
                ) as response:
                    if response.status == 200:  # noqa: PLR2004
                        return
            except (urllib.error.URLError, OSError) as e:
                last_error = str(e)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"the control plane was not ready within {timeout:g}s (last: {last_error}); "
            "logs follow, processes stopped",
            details=self._log_tails(),
        )

    def _log_tails(self) -> str:
        return "\n".join(process.log_tail() for process in self._processes)

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; remove the temporary folder and kubeconfig."""
        stop_all(list(reversed(self._processes)))
        if self._kubeconfig_path is not None:
            # It names a server that no longer exists; a stale copy only misleads.
            self._kubeconfig_path.unlink(missing_ok=True)
            self._kubeconfig_path = None
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    @staticmethod
    def _require(value: _T | None, what: str) -> _T:
        if value is None:
            raise ControlPlaneError(f"the control plane is not started (no {what} yet)")
        return value
