"""A real, throw-away Kubernetes cluster running KServe, on loopback, without Docker.

Processes, in start order, all built from Go modules (``binaries``):

- etcd and kube-apiserver (RBAC, ServiceAccount token signing, the project's
  CRDs with their full schemas);
- kube-controller-manager and kube-scheduler (``controllers``): garbage
  collection, namespace deletion, Deployments → ReplicaSets → Pods,
  ServiceAccounts and tokens, HPAs, scheduling onto nodes by their resources;
- kwok (``kwok``): fake nodes with real capacities, whose pods it moves to
  Running and Ready (or makes crash) as a kubelet would, and the nodes'
  kubelet endpoint, which serves container logs from files (``pod_logs``);
- the KServe controller manager with its webhooks (``kserve``): it reconciles
  InferenceServices into Deployments, Services and HPAs and writes their status.

``Settings.kserve_cluster=False`` starts etcd and kube-apiserver only, for
tests of the launcher itself with a reduced CRD set.

"Ready" means every process answers its health endpoint, the nodes are Ready,
KServe's webhooks are registered and answered the ClusterServingRuntimes, the
controller-manager has made the ``default`` ServiceAccount, and the apiserver
has read a pod's log from kwok's kubelet endpoint. Everything
lives in one temporary folder (etcd data, keys, logs) that ``stop`` removes;
``stop`` is safe to call at any point of ``start`` and more than once.

For fault tests, ``kill`` crashes one component (SIGKILL) and ``restart``
starts it again with the same flags, ports and data.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane import (
    binaries,
    controllers,
    crds,
    eventing_launch,
    kserve,
    kubeconfig,
    kwok,
    pki,
    pod_logs,
    readiness,
)
from controlplane.errors import ControlPlaneError
from controlplane.processes import (
    KILL_WAIT_SECONDS,
    STOP_GRACE_SECONDS,
    ManagedProcess,
    free_port,
    require_free_port,
    stop_stages,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
ADMIN_USER = "kserve-functions-admin"
ADMIN_GROUP = "system:masters"
# kwok and the KServe manager act cluster-wide on nodes, pods, leases and every
# KServe resource; rather than their upstream RBAC roles (not installed), each
# runs as a user of its own in the admin group.
KWOK_USER = "kwok-controller"
KSERVE_USER = "kserve-controller-manager"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# The InferenceService CRD is ~2 MB of JSON; etcd's default request limit is 1.5 MiB
# (10 MiB is the most etcd recommends).
ETCD_MAX_REQUEST_BYTES = 10 * 1024 * 1024
# The longest ``stop`` takes: three stages (the apiserver's clients, kube-apiserver,
# etcd), each SIGTERM, a short wait, SIGKILL.
STOP_BOUND_SECONDS = 3 * (STOP_GRACE_SECONDS + KILL_WAIT_SECONDS)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Settings:
    """How to start a cluster.

    ``crd_dir`` and ``kserve_dir`` None (the defaults) take the upstream CRDs
    and KServe's configuration from the Go modules the project pins
    (``crds.UPSTREAM_CRDS``, ``kserve.sources``); a folder replaces them
    (``CRD_DIR``, ``KSERVE_DIR``). ``apiserver_port`` None picks a free port.
    ``kubeconfig_path`` None writes the kubeconfig inside the temporary folder.
    ``ready_timeout`` bounds each wait (the apiserver's ``/readyz``, the CRDs,
    the components). ``model_domain`` is KServe's ingress domain: models' URLs
    end in it.
    """

    crd_dir: Path | None = None
    kserve_dir: Path | None = None
    kserve_cluster: bool = True
    model_domain: str = kserve.DEFAULT_DOMAIN
    apiserver_port: int | None = None
    kubeconfig_path: Path | None = None
    ready_timeout: float = 90.0
    cache_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults, with ``CRD_DIR`` and ``KSERVE_DIR`` folders when those are set."""
        env = os.environ if environ is None else environ
        return cls(
            crd_dir=Path(env["CRD_DIR"]) if env.get("CRD_DIR") else None,
            kserve_dir=Path(env["KSERVE_DIR"]) if env.get("KSERVE_DIR") else None,
        )


@dataclass(frozen=True)
class _Binaries:
    etcd: Path
    apiserver: Path
    controller_manager: Path | None = None
    scheduler: Path | None = None
    kwok: Path | None = None
    kserve: Path | None = None
    kubectl: Path | None = None


class ControlPlane:
    """The local cluster's processes started together; use as a context manager."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._processes: list[ManagedProcess] = []
        self._work_dir: Path | None = None
        self._credentials: pki.Credentials | None = None
        self._server: str | None = None
        self._kubeconfig_path: Path | None = None
        self._pod_log_dir: Path | None = None
        self._etcd_url: str | None = None
        self._host_proxy_port: int | None = None
        self._eventing: eventing_launch.Eventing | None = None

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

    # -- what users of a running cluster need -------------------------------

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
        """The CA that signed every serving certificate of the cluster."""
        return self._require(self._credentials, "credentials").ca_cert

    @property
    def work_dir(self) -> Path:
        """The temporary folder holding etcd data, keys and logs (gone after stop)."""
        return self._require(self._work_dir, "work dir")

    @property
    def pod_log_dir(self) -> Path:
        """The folder of the pods' container logs kwok serves (KServe cluster only).

        ``pod_logs.container_log_path`` names a container's file in it; kwok
        serves that file once a ``Logs`` object of kwok's maps the pod to it
        (``pod_logs.logs_manifest``). Gone after stop, with the work dir.
        """
        return self._require(self._pod_log_dir, "pod log dir")

    @property
    def pids(self) -> list[int]:
        """Process ids of the cluster's processes, in start order."""
        return [process.pid for process in self._processes]

    @property
    def components(self) -> dict[str, ManagedProcess]:
        """The running processes by component name (``etcd``, ``kube-apiserver``, …)."""
        return {process.name: process for process in self._processes}

    def admin_client(self) -> client.ApiClient:
        """A client authenticated as the admin (group ``system:masters``)."""
        credentials = self._require(self._credentials, "credentials")
        return self.client_for_token(credentials.tokens[ADMIN_USER])

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
        """Start the cluster and return when all of it is ready (see the module docstring).

        Raises:
            ControlPlaneError: a cause a person can act on (an upstream Go module
                that cannot be downloaded, a missing CRD or KServe folder, port
                in use, failed build, a component that exited or was not ready
                in time, with its log tail); everything started so far is
                stopped and removed first.
        """
        settings = self.settings
        # Before any process starts: the upstream files are there (downloaded if need be).
        crds.crd_files(settings.crd_dir)
        sources = kserve.sources(settings.kserve_dir) if settings.kserve_cluster else None
        if settings.apiserver_port is not None:
            require_free_port(settings.apiserver_port, option="--apiserver-port")
        found = self._ensure_binaries()
        configuration = None if sources is None else kserve.load(sources, kubectl=found.kubectl)
        try:
            self._start(found, configuration)
        except BaseException:
            self.stop()
            raise

    def _ensure_binaries(self) -> _Binaries:
        def ensure(component: binaries.Component) -> Path:
            return binaries.ensure(component, cache_dir=self.settings.cache_dir)

        etcd, apiserver = ensure(binaries.ETCD), ensure(binaries.KUBE_APISERVER)
        if not self.settings.kserve_cluster:
            return _Binaries(etcd=etcd, apiserver=apiserver)
        return _Binaries(
            etcd=etcd,
            apiserver=apiserver,
            controller_manager=ensure(binaries.KUBE_CONTROLLER_MANAGER),
            scheduler=ensure(binaries.KUBE_SCHEDULER),
            kwok=ensure(binaries.KWOK),
            kserve=ensure(binaries.KSERVE_CONTROLLER),
            # Renders KServe's runtimes (kserve.load); a KSERVE_DIR holds them rendered.
            kubectl=ensure(binaries.KUBECTL) if self.settings.kserve_dir is None else None,
        )

    def _start(self, found: _Binaries, configuration: kserve.Configuration | None) -> None:
        settings = self.settings
        self._work_dir = Path(tempfile.mkdtemp(prefix="kserve-functions-controlplane-"))
        users: dict[str, list[str]] = {ADMIN_USER: [ADMIN_GROUP]}
        if settings.kserve_cluster:
            users |= {
                controllers.CONTROLLER_MANAGER_USER: [],
                controllers.SCHEDULER_USER: [],
                KWOK_USER: [ADMIN_GROUP],
                KSERVE_USER: [ADMIN_GROUP],
            }
        credentials = pki.write_credentials(self._work_dir, users=users)
        self._credentials = credentials

        etcd_url = self._start_etcd(found.etcd)
        port = settings.apiserver_port or free_port()
        self._server = f"https://127.0.0.1:{port}"
        self._start_apiserver(found.apiserver, etcd_url, port, credentials)
        self._wait_endpoints({"kube-apiserver": f"{self.server}/readyz"}, "ready")

        self._kubeconfig_path = settings.kubeconfig_path or self._work_dir / "kubeconfig"
        kubeconfig.write(self._kubeconfig_path, self._kubeconfig_for(ADMIN_USER))
        with self.admin_client() as api_client:
            installed = crds.install(api_client, settings.crd_dir)
            if settings.kserve_cluster:
                # kwok watches its Logs objects from its start: served by then.
                installed += crds.install_documents(api_client, kwok.crd_documents())
            crds.wait_served(api_client, installed, timeout=settings.ready_timeout)
            if configuration is not None:
                self._start_kserve_cluster(api_client, found, configuration)

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
        self._etcd_url = client_url
        return client_url

    def _start_apiserver(
        self, binary: Path, etcd_url: str, port: int, credentials: pki.Credentials
    ) -> None:
        work_dir = self.work_dir
        argv = [
            str(binary),
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={work_dir / 'certs'}",
            f"--tls-cert-file={credentials.apiserver.cert}",
            f"--tls-private-key-file={credentials.apiserver.key}",
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
            "--v=1",
        ]
        if self.settings.kserve_cluster:
            kubelet_client = credentials.issue_client_certificate(
                work_dir / "kubelet-client", "kube-apiserver-kubelet-client"
            )
            argv += kwok.apiserver_kubelet_flags(
                ca_cert=credentials.ca_cert,
                client_cert=kubelet_client.cert,
                client_key=kubelet_client.key,
            )
        else:
            # The ServiceAccount admission plugin waits for a `default` ServiceAccount
            # that only kube-controller-manager creates, and none runs then.
            argv.append("--disable-admission-plugins=ServiceAccount")
        env = None
        if self.settings.kserve_cluster:
            # The apiserver calls Knative Eventing's webhooks (admission, conversion) at
            # their Services' names; only the loopback proxy that `start_eventing`
            # starts on this port knows them (Go never proxies loopback addresses, so
            # KServe's webhook, etcd and kwok are reached directly as before).
            self._host_proxy_port = free_port()
            env = {**os.environ, "HTTPS_PROXY": f"http://127.0.0.1:{self._host_proxy_port}"}
        self._processes.append(
            ManagedProcess("kube-apiserver", argv, work_dir / "apiserver.log", env=env)
        )

    def _start_kserve_cluster(
        self,
        api_client: client.ApiClient,
        found: _Binaries,
        configuration: kserve.Configuration,
    ) -> None:
        settings = self.settings
        credentials = self._require(self._credentials, "credentials")
        certs = self.work_dir / "serving-certs"
        if not (found.controller_manager and found.scheduler and found.kwok and found.kserve):
            raise ControlPlaneError("the KServe cluster's binaries were not built")

        kcm_port, scheduler_port, kwok_port = free_port(), free_port(), free_port()
        self._start_process(
            "kube-controller-manager",
            controllers.controller_manager_argv(
                found.controller_manager,
                kubeconfig=self._component_kubeconfig(controllers.CONTROLLER_MANAGER_USER),
                port=kcm_port,
                certificate=credentials.issue_serving_certificate(certs, "controller-manager"),
                credentials=credentials,
            ),
        )
        self._start_process(
            "kube-scheduler",
            controllers.scheduler_argv(
                found.scheduler,
                kubeconfig=self._component_kubeconfig(controllers.SCHEDULER_USER),
                port=scheduler_port,
                certificate=credentials.issue_serving_certificate(certs, "scheduler"),
            ),
        )
        kwok_certificate = credentials.issue_serving_certificate(certs, "kwok")
        kwok_config = self.work_dir / "kwok" / "cluster-logs.yaml"
        pod_logs.write_kwok_config(kwok_config, self.work_dir / "kwok" / "no-output.log")
        self._pod_log_dir = self.work_dir / "pod-logs"
        self._pod_log_dir.mkdir()
        self._start_process(
            "kwok",
            kwok.argv(
                found.kwok,
                kubeconfig=self._component_kubeconfig(KWOK_USER),
                server_port=kwok_port,
                tls_cert=kwok_certificate.cert,
                tls_key=kwok_certificate.key,
                logs_config=kwok_config,
            ),
        )
        nodes = kwok.create_nodes(api_client)

        # The manager reads its ConfigMap once, at start.
        kserve.install_config(api_client, configuration, domain=settings.model_domain)
        webhook_port, probe_port = free_port(), free_port()
        self._start_kserve_manager(found.kserve, webhook_port, probe_port, credentials)

        self._wait_endpoints(
            {
                "kube-controller-manager": f"https://127.0.0.1:{kcm_port}/healthz",
                "kube-scheduler": f"https://127.0.0.1:{scheduler_port}/healthz",
                "kwok": f"https://127.0.0.1:{kwok_port}/healthz",
                "kserve-controller": f"http://127.0.0.1:{probe_port}/readyz",
            },
            "healthy",
        )
        ca_bundle = base64.b64encode(credentials.ca_cert.read_bytes()).decode()
        kserve.register_webhooks(
            api_client,
            configuration,
            base_url=f"https://127.0.0.1:{webhook_port}",
            ca_bundle=ca_bundle,
        )
        # Created through KServe's validating webhook: proof that the apiserver reaches it.
        kserve.install_runtimes(api_client, configuration)
        self._wait(
            lambda: (
                {
                    **_nodes_not_ready(api_client, nodes),
                    **_default_service_account_missing(api_client),
                }
                # Only a Ready node has its kubelet address, only an existing
                # ServiceAccount lets the probe pod in.
                or _pod_logs_unreachable(api_client, nodes[0])
            ),
            "ready",
        )

    def _start_kserve_manager(
        self, binary: Path, webhook_port: int, probe_port: int, credentials: pki.Credentials
    ) -> None:
        tmp_dir = self.work_dir / "kserve-tmp"
        # controller-runtime reads exactly tls.crt and tls.key from that folder.
        credentials.issue_serving_certificate(kserve.webhook_cert_dir(tmp_dir), "tls")
        env = {
            **os.environ,
            "KUBECONFIG": str(self._component_kubeconfig(KSERVE_USER)),
            "POD_NAMESPACE": kserve.NAMESPACE,
            "TMPDIR": str(tmp_dir),
        }
        self._start_process(
            "kserve-controller",
            kserve.manager_argv(
                binary, webhook_port=webhook_port, probe_port=probe_port, metrics_port=free_port()
            ),
            env=env,
        )

    def _start_process(
        self, name: str, argv: list[str], *, env: Mapping[str, str] | None = None
    ) -> None:
        log = self.work_dir / f"{name}.log"
        self._processes.append(ManagedProcess(name, argv, log, env=env))

    def _kubeconfig_for(self, user: str) -> dict[str, object]:
        credentials = self._require(self._credentials, "credentials")
        return kubeconfig.render(
            server=self.server,
            ca_pem=credentials.ca_cert.read_bytes(),
            user=user,
            token=credentials.tokens[user],
        )

    def _component_kubeconfig(self, user: str) -> Path:
        path = self.work_dir / "kubeconfigs" / f"{user.replace(':', '-')}.yaml"
        kubeconfig.write(path, self._kubeconfig_for(user))
        return path

    def _service_account_kubeconfig(self, namespace: str, service_account: str) -> Path:
        # A week: the longest a `make dev` session is expected to run.
        token = self.mint_service_account_token(
            namespace, service_account, expiration_seconds=7 * 24 * 3600
        )
        path = self.work_dir / "kubeconfigs" / f"sa-{namespace}-{service_account}.yaml"
        credentials = self._require(self._credentials, "credentials")
        kubeconfig.write(
            path,
            kubeconfig.render(
                server=self.server,
                ca_pem=credentials.ca_cert.read_bytes(),
                user=f"system:serviceaccount:{namespace}:{service_account}",
                token=token,
            ),
        )
        return path

    def _wait_endpoints(self, endpoints: dict[str, str], what: str) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_cert_path))
        self._wait(readiness.endpoints_check(endpoints, context), what)

    def _wait(self, check: readiness.Check, what: str) -> None:
        readiness.wait_for(
            check, processes=self._processes, timeout=self.settings.ready_timeout, what=what
        )

    # -- Knative Eventing, on demand ---------------------------------------------

    @property
    def eventing(self) -> eventing_launch.Eventing | None:
        """The running Knative Eventing's loopback addresses, or None before ``start_eventing``."""
        return self._eventing

    def start_eventing(self) -> eventing_launch.Eventing:
        """Install and start Knative Eventing (``eventing_launch``); idempotent.

        Its processes join the cluster's: ``stop`` ends them with the other
        apiserver clients. Call it from the thread that called ``start`` (see
        ``restart``: the parent-death signal follows the starting thread).

        Raises:
            ControlPlaneError: the cluster is the reduced one (no kwok, so no
                EndpointSlices for the Broker), or as ``eventing_launch.start``;
                what was started of Eventing keeps running until ``stop``.
        """
        if self._eventing is not None:
            return self._eventing
        if not self.settings.kserve_cluster or self._host_proxy_port is None:
            raise ControlPlaneError("Knative Eventing needs the full cluster (kwok, controllers)")
        with self.admin_client() as api_client:
            self._eventing = eventing_launch.start(
                api_client=api_client,
                kubeconfig=self.kubeconfig_path,
                service_account_kubeconfig=self._service_account_kubeconfig,
                proxy_port=self._host_proxy_port,
                work_dir=self.work_dir,
                cache_dir=self.settings.cache_dir,
                start_process=lambda name, argv, env: self._start_process(name, argv, env=env),
                wait=self._wait,
                environ=os.environ,
            )
        return self._eventing

    # -- faults, for tests ------------------------------------------------------

    def kill(self, component: str) -> None:
        """SIGKILL ``component`` (``etcd``, ``kube-apiserver``, …) and reap it: a crash.

        Nothing is told first: the other components see it vanish mid-request,
        as after an OOM kill. ``restart`` starts it again.

        Raises:
            ControlPlaneError: no component of that name, or it is not running.
        """
        process = self._component(component)
        if process.exit_code() is not None:
            raise ControlPlaneError(f"{component} is not running")
        os.kill(process.pid, signal.SIGKILL)
        process.stop()  # only waits for the death and closes the log: SIGKILL cannot be caught

    def restart(self, component: str) -> None:
        """Start a killed ``component`` again as it was; return once etcd and the apiserver are.

        Same binary, flags and environment, so the same ports, certificates and
        data folder: etcd comes back with its data, the apiserver on its port,
        and clients reconnect unchanged. The earlier run's log is kept as
        ``<log>.<its pid>``. Waited for: etcd's ``/health`` and the
        apiserver's ``/readyz`` (its etcd check alone can be seconds stale);
        other components are not.

        Call it from a thread that lives as long as the cluster (the main
        thread, or a worker kept until ``stop``): Linux's parent-death signal,
        which keeps the process from outliving the launcher, fires when the
        *thread* that started it ends, so a worker thread's end would kill the
        component again.

        Raises:
            ControlPlaneError: no such component, it is still running, or etcd
                and the apiserver are not ready within ``ready_timeout`` (then
                everything is stopped, as after a failed ``start``).
        """
        old = self._component(component)
        if old.exit_code() is None:
            raise ControlPlaneError(f"{component} is still running; kill it first")
        old.stop()  # closes its log
        old.log_path.rename(old.log_path.with_name(f"{old.log_path.name}.{old.pid}"))
        index = self._processes.index(old)
        try:
            self._processes[index] = ManagedProcess(old.name, old.argv, old.log_path, env=old.env)
            etcd_url = self._require(self._etcd_url, "etcd")
            self._wait_endpoints(
                {"etcd": f"{etcd_url}/health", "kube-apiserver": f"{self.server}/readyz"}, "ready"
            )
        except BaseException:
            self.stop()
            raise

    def _component(self, component: str) -> ManagedProcess:
        found = self.components.get(component)
        if found is None:
            raise ControlPlaneError(f"the control plane has no component {component!r}")
        return found

    def stop(self) -> None:
        """Stop the processes; remove the temporary folder and kubeconfig.

        In three stages, each SIGTERM, a short wait, then SIGKILL
        (``processes.stop_popens``): the apiserver's clients together (the
        controllers, kwok, the KServe manager), then kube-apiserver, then etcd,
        so none loses what it talks to mid-request. Takes at most
        ``STOP_BOUND_SECONDS`` (21 s) whatever the components do; about 3 s
        when each ends on SIGTERM.
        """
        servers = ("kube-apiserver", "etcd")
        clients = [process for process in reversed(self._processes) if process.name not in servers]
        stop_stages(
            [clients, *([p for p in self._processes if p.name == server] for server in servers)]
        )
        if self._kubeconfig_path is not None:
            # It names a server that no longer exists; a stale copy only misleads.
            self._kubeconfig_path.unlink(missing_ok=True)
            self._kubeconfig_path = None
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None
            self._pod_log_dir = None

    @staticmethod
    def _require(value: _T | None, what: str) -> _T:
        if value is None:
            raise ControlPlaneError(f"the control plane is not started (no {what} yet)")
        return value


def _nodes_not_ready(api_client: client.ApiClient, nodes: list[str]) -> dict[str, str]:
    """kwok at work: every fake node Ready."""
    not_ready = sorted(set(nodes) - set(kwok.ready_nodes(api_client, nodes)))
    return {"kwok": f"nodes not Ready: {', '.join(not_ready)}"} if not_ready else {}


def _pod_logs_unreachable(api_client: client.ApiClient, node: str) -> dict[str, str]:
    """The apiserver reads pod logs from kwok's kubelet endpoint, as ``kubectl logs`` will."""
    failing = kwok.pod_logs_unreachable(api_client, node)
    return {"kwok": failing} if failing else {}


def _default_service_account_missing(api_client: client.ApiClient) -> dict[str, str]:
    """The controller-manager's ServiceAccount controller at work: ``default/default`` exists."""
    try:
        client.CoreV1Api(api_client).read_namespaced_service_account("default", "default")
    except ApiException as e:
        if e.status == 404:  # noqa: PLR2004
            return {"kube-controller-manager": "no ServiceAccount default/default yet"}
        raise
    return {}
