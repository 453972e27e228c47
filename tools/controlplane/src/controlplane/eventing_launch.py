"""Start Knative Eventing on a running local cluster and wait until a Broker works.

In order (``start``): the namespace and CRDs, then the rest of upstream's
configuration (``eventing.CONFIG_FILES``, by ``kubectl apply --server-side``);
the loopback proxy that stands in for cluster DNS (``hostproxy``); the
processes (``eventing``'s ``ProcessSpec``s) with their Deployments'
environment. "Ready" means: the eventing webhook defaults a Broker through the
apiserver (a server-side dry run comes back with ``spec.config``: the
apiserver → proxy → webhook path works), the ingress, filter and dispatcher
answer a kubelet-style probe, and a probe Broker (created without
``spec.config``, so defaulted by the webhook) and a Trigger on it are Ready:
the Broker and Trigger reconcilers, the InMemoryChannel controller and its
webhook, and the dispatcher all did their part. Beside them runs the glue that
runs an ApiServerSource adapter process per adapter Deployment
(``source_adapters``); it is not waited for (no adapter exists yet).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane import binaries, crds, eventing
from controlplane.errors import ControlPlaneError
from controlplane.processes import free_port
from controlplane.readiness import Check

PROBE_NAMESPACE = "eventing-probe"
PROBE_BROKER = "probe"
PROBE_TRIGGER = "probe"
_KUBECTL_TIMEOUT_SECONDS = 120.0

StartProcess = Callable[[str, list[str], Mapping[str, str]], None]
# (namespace, ServiceAccount) → a kubeconfig holding a token of that ServiceAccount.
ServiceAccountKubeconfig = Callable[[str, str], Path]
Wait = Callable[[Check, str], None]


@dataclass(frozen=True)
class Eventing:
    """Where the running Eventing's parts listen on loopback."""

    proxy_port: int
    ingress_port: int
    filter_port: int
    webhook_port: int
    imc_webhook_port: int
    dispatcher_port: int

    @property
    def proxy_url(self) -> str:
        """The forward proxy that resolves the cluster's Service names (``HTTP_PROXY``)."""
        return f"http://127.0.0.1:{self.proxy_port}"

    def ingress_url(self, namespace: str, broker: str) -> str:
        """A Broker's ingress on loopback: POST CloudEvents here."""
        return f"http://127.0.0.1:{self.ingress_port}/{namespace}/{broker}"

    def routes(self, webhook_ips: Mapping[str, str]) -> dict[str, int]:
        """The proxy's exact routes: Service name (or ClusterIP) → loopback port.

        ``webhook_ips`` maps the webhook Services' names to their ClusterIPs:
        kube-apiserver (WebhookRoundTripLoadBalancing, on since 1.37) resolves a
        webhook's Service to its ClusterIP before it connects, so the proxy is
        asked for ``CONNECT <ClusterIP>:443``, as a node would route it.
        """
        by_ip = {
            ip: self.webhook_port if service == "eventing-webhook" else self.imc_webhook_port
            for service, ip in webhook_ips.items()
        }
        return by_ip | {
            eventing.service_host("broker-ingress"): self.ingress_port,
            eventing.service_host("broker-filter"): self.filter_port,
            eventing.service_host("imc-dispatcher"): self.dispatcher_port,
            # The apiserver's names for the webhooks (CONNECT host:443).
            f"eventing-webhook.{eventing.NAMESPACE}.svc": self.webhook_port,
            f"inmemorychannel-webhook.{eventing.NAMESPACE}.svc": self.imc_webhook_port,
        }


def start(
    *,
    api_client: client.ApiClient,
    kubeconfig: Path,
    service_account_kubeconfig: ServiceAccountKubeconfig,
    proxy_port: int,
    work_dir: Path,
    cache_dir: Path | None,
    start_process: StartProcess,
    wait: Wait,
    environ: Mapping[str, str],
) -> Eventing:
    """Install and start Eventing; return once a probe Broker and Trigger are Ready.

    ``work_dir`` holds the ApiServerSource adapters' logs and kubeconfigs
    (``source_adapters``).

    Raises:
        ControlPlaneError: a binary cannot be built, upstream's configuration
            is refused, or a part is not ready in time (named, with its log).
    """
    found = {c.name: binaries.ensure(c, cache_dir=cache_dir) for c in binaries.EVENTING}
    kubectl = binaries.ensure(binaries.KUBECTL, cache_dir=cache_dir)
    module = eventing.module_dir()
    foundation = list(eventing.documents(eventing.module_paths(eventing.FOUNDATION_FILES, module)))
    served = crds.install_documents(
        api_client, (d for d in foundation if d["kind"] == "CustomResourceDefinition")
    )
    _kubectl_apply(
        kubectl, kubeconfig, eventing.module_paths(eventing.FOUNDATION_FILES[:1], module)
    )
    crds.wait_served(api_client, served, timeout=60)
    _kubectl_apply(kubectl, kubeconfig, eventing.module_paths(eventing.CONFIG_FILES, module))

    running = Eventing(
        proxy_port=proxy_port,
        ingress_port=free_port(),
        filter_port=free_port(),
        webhook_port=free_port(),
        imc_webhook_port=free_port(),
        dispatcher_port=free_port(),
    )
    proxy_argv = [sys.executable, "-m", "controlplane.hostproxy", f"--port={proxy_port}"]
    routes = running.routes(
        _cluster_ips(api_client, ("eventing-webhook", "inmemorychannel-webhook"))
    )
    proxy_argv += [f"--route={host}={port}" for host, port in routes.items()]
    # Any other Service name is a channel: an ExternalName Service to the dispatcher.
    proxy_argv.append(f"--suffix=.svc.{eventing.CLUSTER_DOMAIN}={running.dispatcher_port}")
    start_process("eventing-proxy", proxy_argv, dict(environ))

    base = {**environ, "HTTP_PROXY": running.proxy_url, "NO_PROXY": "127.0.0.1,localhost"}

    def env_of(spec: eventing.ProcessSpec, **extra: int | str) -> dict[str, str]:
        # Each runs as its Deployment's ServiceAccount, under upstream's RBAC: the
        # InMemoryChannel webhook, for one, accepts channel subscribers only from
        # the eventing-controller's.
        account = service_account_kubeconfig(
            eventing.NAMESPACE, eventing.service_account(spec, module)
        )
        own = {key: str(value) for key, value in extra.items()}
        return {
            **base,
            **eventing.process_env(spec, module),
            "KUBECONFIG": str(account),
            "PROFILING_PORT": str(free_port()),
            **own,
        }

    start_process(
        "eventing-controller",
        [str(found[binaries.EVENTING_CONTROLLER.name])],
        env_of(eventing.CONTROLLER),
    )
    start_process(
        "imc-controller",
        [str(found[binaries.IMC_CONTROLLER.name])],
        env_of(eventing.IMC_CONTROLLER, WEBHOOK_PORT=running.imc_webhook_port),
    )
    start_process(
        "eventing-webhook",
        [str(found[binaries.EVENTING_WEBHOOK.name])],
        env_of(eventing.WEBHOOK, WEBHOOK_PORT=running.webhook_port),
    )
    start_process(
        "broker-ingress",
        [str(found[binaries.EVENTING_INGRESS.name])],
        env_of(eventing.INGRESS, INGRESS_PORT=running.ingress_port, INGRESS_PORT_HTTPS=free_port()),
    )
    start_process(
        "broker-filter",
        [str(found[binaries.EVENTING_FILTER.name])],
        env_of(eventing.FILTER, FILTER_PORT=running.filter_port, FILTER_PORT_HTTPS=free_port()),
    )
    start_process(
        "imc-dispatcher",
        [str(found[binaries.EVENTING_DISPATCHER.name])],
        # Read by the build's patch (binaries.IMC_DISPATCHER_PORTS).
        env_of(
            eventing.DISPATCHER,
            IMC_DISPATCHER_HTTP_PORT=running.dispatcher_port,
            IMC_DISPATCHER_HTTPS_PORT=free_port(),
        ),
    )

    # Glue of its own (``source_adapters``): runs upstream's ApiServerSource adapter
    # for each adapter Deployment the ApiServerSource controller makes.
    start_process(
        "eventing-source-adapters",
        [
            sys.executable,
            "-m",
            "controlplane.source_adapters",
            f"--kubeconfig={kubeconfig}",
            f"--adapter={found[binaries.EVENTING_ADAPTER.name]}",
            f"--proxy-url={running.proxy_url}",
            f"--folder={work_dir / 'source-adapters'}",
        ],
        dict(environ),
    )

    wait(
        lambda: {
            **_probe_answers(
                {
                    "broker-ingress": running.ingress_port,
                    "broker-filter": running.filter_port,
                    "imc-dispatcher": running.dispatcher_port,
                }
            ),
            **_webhook_defaults(api_client),
        },
        "answering",
    )
    _create_probe(api_client)
    wait(lambda: _probe_ready(api_client), "ready")
    return running


def _kubectl_apply(kubectl: Path, kubeconfig: Path, paths: list[Path]) -> None:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", "apply", "--server-side"]
    argv += ["--force-conflicts", f"--field-manager={crds.FIELD_MANAGER}"]
    for path in paths:
        argv += ["-f", str(path)]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=_KUBECTL_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise ControlPlaneError(
            "the apiserver refused Knative Eventing's configuration (kubectl apply)",
            details=result.stderr.strip()[-2000:],
        )


def _cluster_ips(api_client: client.ApiClient, services: tuple[str, ...]) -> dict[str, str]:
    core = client.CoreV1Api(api_client)
    found: dict[str, str] = {}
    for name in services:
        spec = core.read_namespaced_service(name, eventing.NAMESPACE).spec
        ip = spec.cluster_ip if spec is not None else None
        if ip and ip != "None":
            found[name] = str(ip)
    return found


def _probe_answers(ports: Mapping[str, int]) -> dict[str, str]:
    """Each data-plane process answers a kubelet-style probe (upstream's readiness probe)."""
    missing: dict[str, str] = {}
    for name, port in ports.items():
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", headers={"User-Agent": "kube-probe/local"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                # The dispatcher answers 204 while it has no channel to check.
                if response.status not in (200, 204):
                    missing[name] = f"probe answered {response.status}"
        except urllib.error.HTTPError as e:
            missing[name] = f"probe answered {e.code}"
        except (urllib.error.URLError, OSError) as e:
            missing[name] = f"probe: {getattr(e, 'reason', e)}"
    return missing


def _broker(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": namespace},
    }


def _webhook_defaults(api_client: client.ApiClient) -> dict[str, str]:
    """The apiserver reaches the eventing webhook, which defaults a Broker's ``spec.config``."""
    custom = client.CustomObjectsApi(api_client)
    try:
        created = custom.create_namespaced_custom_object(
            "eventing.knative.dev",
            "v1",
            "default",
            "brokers",
            _broker("default", "webhook-probe"),
            dry_run="All",
        )
    except ApiException as e:
        return {"eventing-webhook": f"dry-run Broker: {e.status} {str(e.body)[:400]}"}
    if not isinstance(created, dict) or not (created.get("spec") or {}).get("config"):
        return {"eventing-webhook": "a Broker is not defaulted yet (no spec.config)"}
    return {}


def _create_probe(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    trigger = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": PROBE_TRIGGER, "namespace": PROBE_NAMESPACE},
        "spec": {
            "broker": PROBE_BROKER,
            "filter": {"attributes": {"type": "dev.kserve-functions.eventing-probe"}},
            # Never sent to: nothing produces that type.
            "subscriber": {"uri": "http://127.0.0.1:9/"},
        },
    }
    try:
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=PROBE_NAMESPACE))
        )
        custom.create_namespaced_custom_object(
            "eventing.knative.dev",
            "v1",
            PROBE_NAMESPACE,
            "brokers",
            _broker(PROBE_NAMESPACE, PROBE_BROKER),
        )
        custom.create_namespaced_custom_object(
            "eventing.knative.dev", "v1", PROBE_NAMESPACE, "triggers", trigger
        )
    except ApiException as e:
        raise ControlPlaneError(
            f"creating the probe Broker failed ({e.status} {e.reason})", details=str(e.body)[:2000]
        ) from e


def _probe_ready(api_client: client.ApiClient) -> dict[str, str]:
    custom = client.CustomObjectsApi(api_client)
    missing: dict[str, str] = {}
    for plural, name, owner in (
        ("brokers", PROBE_BROKER, "eventing-controller"),
        ("triggers", PROBE_TRIGGER, "imc-dispatcher"),
    ):
        found = custom.get_namespaced_custom_object(
            "eventing.knative.dev", "v1", PROBE_NAMESPACE, plural, name
        )
        seen = not_ready(found) if isinstance(found, dict) else "unreadable"
        if seen:
            missing[owner] = f"{plural[:-1]} {PROBE_NAMESPACE}/{name}: {seen}"
    return missing


def not_ready(obj: Mapping[str, Any]) -> str | None:
    """None when a Knative object's ``Ready`` condition is True, else why not."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        return "no Ready condition yet"
    if ready.get("status") == "True":
        return None
    return f"{ready.get('reason')}: {ready.get('message')}"
