"""Each ApiServerSource's adapter run as a process: ``python -m controlplane.source_adapters``.

What is upstream: the ApiServerSource controller (in ``eventing-controller``)
makes one Deployment per ApiServerSource, labelled
``eventing.knative.dev/source: apiserver-source-controller`` (knative.dev/eventing
``pkg/reconciler/apiserversource/resources``), whose one container
``receive-adapter`` carries the adapter's whole configuration in its
environment (``K_SINK``, ``K_SOURCE_CONFIG``, ``NAME``, ``NAMESPACE``,
``K_CE_OVERRIDES``, ``K_LOGGING_CONFIG``, …); the process run here is upstream's
adapter (``binaries.EVENTING_ADAPTER``: upstream's main with its health probes
off, the only change).

What is glue (this module), standing in for the kubelet, which does not run
here (kwok runs the Deployment's pod without a container): every
``POLL_SECONDS`` it lists those Deployments in every namespace and, for each,
runs the adapter binary with

- the container's environment as its pod would see it
  (``eventing.container_env``: ``fieldRef`` to the pod's namespace is the
  Deployment's);
- a kubeconfig holding a token of the Deployment's ServiceAccount
  (TokenRequest, as the kubelet mounts one), so the adapter watches with the
  source's own RBAC;
- ``HTTP_PROXY`` set to the loopback proxy that stands in for cluster DNS
  (``hostproxy``), as ``K_SINK`` names the Broker's ingress by its Service name;
- ``PROFILING_PORT`` a free port (upstream binds :8008 otherwise); its
  metrics are off (upstream's ``config-observability`` sets no exporter).

A process is stopped when its Deployment goes (the ApiServerSource was
deleted), started again with the new environment when the Deployment's
generation changes (the controller changed the sink or the configuration), and
restarted after ``RESTART_DELAY_SECONDS`` when it exits (restartPolicy Always).
On SIGTERM every adapter is stopped (``processes.stop_stages``) and this process
exits; should it die otherwise, the adapters die with it (``ManagedProcess``).
Each adapter's output goes to ``<folder>/<namespace>.<deployment>.log``.

Not simulated: replicas (one process per Deployment, as upstream's one
replica), probes, resource limits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import urllib3
from kubernetes import client, config

from controlplane import eventing, kubeconfig
from controlplane.processes import ManagedProcess, free_port, stop_stages

LABEL_SELECTOR = "eventing.knative.dev/source=apiserver-source-controller"
CONTAINER = "receive-adapter"
POLL_SECONDS = 0.5
RESTART_DELAY_SECONDS = 2.0
# As the launcher's other ServiceAccount tokens: a `make dev` session's length.
TOKEN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Wanted:
    """One adapter Deployment as the launcher runs it: which, which version, as whom."""

    namespace: str
    name: str
    uid: str
    generation: int
    service_account: str
    env: Mapping[str, str]


def wanted(deployment: Mapping[str, Any]) -> Wanted:
    """What running ``deployment`` (a Deployment as a dict, API field names) takes.

    Raises:
        KeyError, StopIteration: it is no adapter's (a field or the
            ``receive-adapter`` container is missing).
    """
    metadata = deployment["metadata"]
    pod_spec = deployment["spec"]["template"]["spec"]
    return Wanted(
        namespace=str(metadata["namespace"]),
        name=str(metadata["name"]),
        uid=str(metadata["uid"]),
        generation=int(metadata.get("generation", 0)),
        service_account=str(pod_spec.get("serviceAccountName") or "default"),
        env=eventing.container_env(deployment, CONTAINER, pod_name=f"{metadata['name']}-local"),
    )


def adapter_env(
    adapter: Wanted,
    *,
    base: Mapping[str, str],
    kubeconfig_path: Path,
    proxy_url: str,
    profiling_port: int,
) -> dict[str, str]:
    """The adapter process's environment: ``base``, its container's, and the glue's."""
    return {
        **base,
        **adapter.env,
        "KUBECONFIG": str(kubeconfig_path),
        "HTTP_PROXY": proxy_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "PROFILING_PORT": str(profiling_port),
    }


class Supervisor:
    """The adapters running now, by Deployment uid; ``sync`` makes them match the cluster."""

    def __init__(
        self, api_client: client.ApiClient, *, binary: Path, folder: Path, proxy_url: str
    ) -> None:
        self._api = api_client
        self._binary = binary
        self._folder = folder
        self._proxy_url = proxy_url
        self._running: dict[str, tuple[Wanted, ManagedProcess]] = {}
        self._exited_at: dict[str, float] = {}

    def sync(self) -> None:
        """Start, restart and stop adapters so that one runs per adapter Deployment."""
        listed = client.AppsV1Api(self._api).list_deployment_for_all_namespaces(
            label_selector=LABEL_SELECTOR
        )
        found: dict[str, Wanted] = {}
        for item in listed.items:
            try:
                as_json = self._api.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
                adapter = wanted(as_json)
            except (KeyError, StopIteration):
                continue
            found[adapter.uid] = adapter
        for uid in list(self._running):
            adapter, process = self._running[uid]
            current = found.get(uid)
            if current is None or current.generation != adapter.generation:
                self._log(f"stopping {adapter.namespace}/{adapter.name}")
                process.stop()
                del self._running[uid]
                self._exited_at.pop(uid, None)
            elif process.exit_code() is not None and uid not in self._exited_at:
                self._log(
                    f"{adapter.namespace}/{adapter.name} exited with {process.exit_code()}; "
                    f"restarting in {RESTART_DELAY_SECONDS:g}s"
                )
                self._exited_at[uid] = time.monotonic()
            elif (
                uid in self._exited_at
                and time.monotonic() - self._exited_at[uid] >= RESTART_DELAY_SECONDS
            ):
                process.stop()
                del self._running[uid], self._exited_at[uid]
        for uid, adapter in found.items():
            if uid not in self._running:
                self._running[uid] = (adapter, self._start(adapter))

    def stop(self) -> None:
        """Stop every adapter (SIGTERM together, bounded: ``stop_stages``)."""
        stop_stages([[process for _, process in self._running.values()]])
        self._running.clear()

    def _start(self, adapter: Wanted) -> ManagedProcess:
        log = self._folder / f"{adapter.namespace}.{adapter.name}.log"
        if log.exists():  # an earlier run's, kept beside
            log.rename(log.with_name(f"{log.name}.{int(time.time() * 1000)}"))
        env = adapter_env(
            adapter,
            base=os.environ,
            kubeconfig_path=self._kubeconfig(adapter),
            proxy_url=self._proxy_url,
            profiling_port=free_port(),
        )
        process = ManagedProcess(f"adapter {adapter.name}", [str(self._binary)], log, env=env)
        self._log(
            f"started {adapter.namespace}/{adapter.name} (generation {adapter.generation}) "
            f"as {adapter.service_account}: pid {process.pid}, sink {adapter.env.get('K_SINK')}"
        )
        return process

    def _kubeconfig(self, adapter: Wanted) -> Path:
        """A kubeconfig of ``adapter``'s ServiceAccount, as the kubelet mounts its token."""
        spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=TOKEN_SECONDS)
        answer = client.CoreV1Api(self._api).create_namespaced_service_account_token(
            adapter.service_account,
            adapter.namespace,
            client.AuthenticationV1TokenRequest(spec=spec),
        )
        token = answer.status.token if answer.status is not None else None
        if not token:
            raise OSError(
                f"TokenRequest for {adapter.namespace}/{adapter.service_account} gave none"
            )
        configuration = self._api.configuration
        path = self._folder / f"{adapter.namespace}.{adapter.name}.kubeconfig"
        kubeconfig.write(
            path,
            kubeconfig.render(
                server=configuration.host,
                ca_pem=Path(configuration.ssl_ca_cert).read_bytes(),
                user=f"system:serviceaccount:{adapter.namespace}:{adapter.service_account}",
                token=token,
            ),
        )
        return path

    @staticmethod
    def _log(line: str) -> None:
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``--kubeconfig ADMIN --adapter BINARY --proxy-url URL --folder DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m controlplane.source_adapters", description=__doc__
    )
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--proxy-url", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    api_client = config.new_client_from_config(config_file=str(args.kubeconfig))
    supervisor = Supervisor(
        api_client, binary=args.adapter, folder=args.folder, proxy_url=args.proxy_url
    )
    stopping: list[int] = []

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    # A flag, not an exception: a stop never interrupts a sync half-way.
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while not stopping:
            try:
                supervisor.sync()
            # The apiserver restarting or refusing for a moment: try again.
            except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as e:
                Supervisor._log(f"sync failed: {e}")
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()


if __name__ == "__main__":
    main()
