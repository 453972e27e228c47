"""Knative Eventing on the local cluster: upstream's configuration, processes and their wiring.

What is upstream and unmodified: every object applied here is a file of the
``knative.dev/eventing`` module that ``gomod/knative-eventing`` pins (its
namespace, CRDs, ConfigMaps, ServiceAccounts and RBAC, webhook configurations
and the Deployments and Services of ``CONFIG_FILES``), and every process runs
code of that module (``binaries.EVENTING``): the broker's ingress and filter
and the InMemoryChannel dispatcher are upstream's mains (the dispatcher with
its two listening ports read from the environment, ``binaries.IMC_DISPATCHER_PORTS``);
the control plane (core reconcilers with the MT channel-based Broker's, the
InMemoryChannel controller and its webhook, the eventing webhook) runs
upstream's constructors from three mains of the project's own, which leave out
upstream's health-probe server (a hard-coded :8080) and shorten the webhooks'
SIGTERM drain. The ApiServerSource adapter is upstream's main with its health
probes off (``binaries.EVENTING_ADAPTER``), one process per adapter Deployment,
run by the glue of ``source_adapters``.

What is the launcher's glue:

- the processes run on loopback instead of in the Deployments' pods (kwok
  runs those pods as stand-ins, so the Services get EndpointSlices, which the
  Broker's readiness needs); each gets the environment its Deployment's
  container declares (``container_env``), loopback ports, and a token of
  its Deployment's ServiceAccount (``service_account``);
- cluster DNS is replaced by a forward proxy (``hostproxy``) that the data
  plane reaches through ``HTTP_PROXY`` and the apiserver, for the webhooks,
  through ``HTTPS_PROXY`` (``eventing_launch.Eventing.routes``);
- the ApiServerSource adapters, whose Deployments the ApiServerSource
  controller makes at run time, are run the same way by a supervisor process
  of their own (``source_adapters``), one per Deployment while it exists.

Not simulated: the Deployments' pods themselves (scaling, restarts), TLS
between the data plane's parts (transport encryption is off, upstream's
default), OIDC, and any Broker class but the MT channel-based one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controlplane import upstream

NAMESPACE = "knative-eventing"
CLUSTER_DOMAIN = "cluster.local"
BROKER_CLASS = "MTChannelBasedBroker"

# What the apiserver must know before anything else: the namespace and the CRDs.
FOUNDATION_FILES = (
    "config/core/100-namespace.yaml",
    "config/core/resources",
    "config/channels/in-memory-channel/resources",
)
# Then, in this order: identities, configuration, webhook configurations (their
# rules and CA bundles are filled in by the webhooks themselves), and the
# Deployments and Services that kwok runs as stand-ins for the processes.
CONFIG_FILES = (
    "config/core/200-eventing-serviceaccount.yaml",
    "config/core/200-webhook-serviceaccount.yaml",
    "config/core/roles",
    "config/brokers/mt-channel-broker/roles",
    "config/channels/in-memory-channel/200-imc-controller-serviceaccount.yaml",
    "config/channels/in-memory-channel/200-imc-dispatcher-serviceaccount.yaml",
    "config/channels/in-memory-channel/roles",
    "config/core/configmaps",
    "config/channels/in-memory-channel/configmaps",
    "config/core/webhooks",
    "config/channels/in-memory-channel/webhooks",
    "config/core/deployments/webhook.yaml",
    "config/brokers/mt-channel-broker/deployments/broker-ingress.yaml",
    "config/brokers/mt-channel-broker/deployments/broker-filter.yaml",
    "config/channels/in-memory-channel/deployments/controller.yaml",
    "config/channels/in-memory-channel/deployments/dispatcher.yaml",
    "config/channels/in-memory-channel/deployments/dispatcher-service.yaml",
)


@dataclass(frozen=True)
class ProcessSpec:
    """One Eventing process: which upstream containers' environment it takes.

    It runs as its first Deployment's ServiceAccount, with upstream's RBAC.
    """

    name: str
    # (file of the module, Deployment name, container name), merged in order.
    containers: tuple[tuple[str, str, str], ...]


CONTROLLER = ProcessSpec(
    "eventing-controller",
    (
        ("config/core/deployments/controller.yaml", "eventing-controller", "eventing-controller"),
        (
            "config/brokers/mt-channel-broker/deployments/controller.yaml",
            "mt-broker-controller",
            "mt-broker-controller",
        ),
    ),
)
IMC_CONTROLLER = ProcessSpec(
    "imc-controller",
    (
        (
            "config/channels/in-memory-channel/deployments/controller.yaml",
            "imc-controller",
            "controller",
        ),
    ),
)
WEBHOOK = ProcessSpec(
    "eventing-webhook",
    (("config/core/deployments/webhook.yaml", "eventing-webhook", "eventing-webhook"),),
)
INGRESS = ProcessSpec(
    "broker-ingress",
    (
        (
            "config/brokers/mt-channel-broker/deployments/broker-ingress.yaml",
            "mt-broker-ingress",
            "ingress",
        ),
    ),
)
FILTER = ProcessSpec(
    "broker-filter",
    (
        (
            "config/brokers/mt-channel-broker/deployments/broker-filter.yaml",
            "mt-broker-filter",
            "filter",
        ),
    ),
)
DISPATCHER = ProcessSpec(
    "imc-dispatcher",
    (
        (
            "config/channels/in-memory-channel/deployments/dispatcher.yaml",
            "imc-dispatcher",
            "dispatcher",
        ),
    ),
)

# A value for environment variables that name container images: nothing is
# pulled here (kwok runs no containers), but the reconcilers refuse an empty one.
IMAGE_NOT_RUN = "image-not-run-on-the-local-cluster"


def service_host(service: str, namespace: str = NAMESPACE) -> str:
    """A Service's cluster DNS name, as the data plane addresses it."""
    return f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"


def broker_url(namespace: str, broker: str) -> str:
    """The address the Broker reconciler gives a Broker (its ``status.address.url``)."""
    return f"http://{service_host('broker-ingress')}/{namespace}/{broker}"


def module_paths(relatives: tuple[str, ...], module_dir: Path) -> list[Path]:
    """The YAML files of ``relatives`` (files, or folders of them) inside ``module_dir``."""
    found: list[Path] = []
    for relative in relatives:
        path = module_dir / relative
        found += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return found


def documents(paths: list[Path]) -> Iterator[dict[str, Any]]:
    """Every object of ``paths``, in order."""
    for path in paths:
        with path.open() as stream:
            for document in yaml.safe_load_all(stream):
                if isinstance(document, dict) and document.get("kind"):
                    yield document


def container_env(
    deployment: Mapping[str, Any], container: str, *, pod_name: str
) -> dict[str, str]:
    """The environment ``container`` of ``deployment`` declares, as its pod would see it.

    Values are taken as written; ``fieldRef`` to the pod's namespace or name
    gives the Deployment's namespace or ``pod_name``; a ``configMapKeyRef``
    (an image name, here) gives ``IMAGE_NOT_RUN``.

    Raises:
        KeyError: the Deployment has no such container.
    """
    namespace = str(deployment["metadata"].get("namespace", NAMESPACE))
    containers = deployment["spec"]["template"]["spec"]["containers"]
    spec = next(c for c in containers if c["name"] == container)
    env: dict[str, str] = {}
    for variable in spec.get("env", []):
        source = variable.get("valueFrom") or {}
        field = (source.get("fieldRef") or {}).get("fieldPath")
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        elif field == "metadata.namespace":
            env[variable["name"]] = namespace
        elif field == "metadata.name":
            env[variable["name"]] = pod_name
        elif "configMapKeyRef" in source:
            env[variable["name"]] = IMAGE_NOT_RUN
    return env


def service_account(spec: ProcessSpec, module_dir: Path) -> str:
    """The ServiceAccount of ``spec``'s first Deployment (``default`` if it names none)."""
    relative, deployment_name, _ = spec.containers[0]
    for document in documents([module_dir / relative]):
        if document["kind"] == "Deployment" and document["metadata"]["name"] == deployment_name:
            return str(document["spec"]["template"]["spec"].get("serviceAccountName", "default"))
    return "default"


def process_env(spec: ProcessSpec, module_dir: Path) -> dict[str, str]:
    """The merged environment of ``spec``'s upstream containers."""
    env: dict[str, str] = {}
    for relative, deployment_name, container in spec.containers:
        for document in documents([module_dir / relative]):
            if document["kind"] == "Deployment" and document["metadata"]["name"] == deployment_name:
                env |= container_env(document, container, pod_name=f"{spec.name}-local")
    return env


def module_dir() -> Path:
    """The pinned ``knative.dev/eventing`` module's files (downloaded if need be)."""
    return upstream.module_dir(upstream.KNATIVE_EVENTING)
