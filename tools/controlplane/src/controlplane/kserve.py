"""KServe v0.20.0 installed into the local cluster, as its own install does, minus Docker.

KServe's install applies its CRDs (installed with the others by ``crds``), the
``kserve`` namespace, the ``inferenceservice-config`` ConfigMap, the
ClusterServingRuntimes and the webhook configurations, then runs the
controller manager in a Deployment whose webhook Service gets its certificate
from cert-manager. Here the manager runs as a local process, so:

- the webhook configurations call ``https://127.0.0.1:<port><path>`` with a
  ``caBundle`` of the launcher's CA instead of the Service, and the manager
  reads a certificate that CA issued (controller-runtime's default folder
  ``$TMPDIR/k8s-webhook-server/serving-certs``);
- the ConfigMap differs from upstream in four fields (``local_config``):
  three because no Knative Serving, Istio or Gateway runs locally, one that
  every installation of the notify function needs too.

The upstream files are read unchanged from the Go module ``github.com/kserve/kserve``
at the version the controller manager is built from (``upstream.KSERVE``, pinned
by ``gomod/kserve-controller/go.mod``, so a version bump moves both): the
ConfigMap ``config/configmap/inferenceservice.yaml``, the webhook configurations
``config/webhook/manifests.yaml`` and the ClusterServingRuntimes of
``config/runtimes/``, rendered by the project's kubectl (``kubectl kustomize``,
which substitutes the image names as KServe's install does). ``KSERVE_DIR``
replaces them with a folder of three files (``CONFIG_FILE``, ``RUNTIMES_FILE``
already rendered, ``WEBHOOKS_FILE``). The changes are made here, in code,
where a test can see them.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controlplane import upstream
from controlplane.errors import ControlPlaneError

NAMESPACE = "kserve"
CONFIG_MAP = "inferenceservice-config"
# The files of a KSERVE_DIR.
CONFIG_FILE = "inferenceservice-config.yaml"
RUNTIMES_FILE = "cluster-serving-runtimes.yaml"
WEBHOOKS_FILE = "webhooks.yaml"
# Where they are in KServe's repository (the Go module).
MODULE_CONFIG = "config/configmap/inferenceservice.yaml"
MODULE_RUNTIMES = "config/runtimes"
MODULE_WEBHOOKS = "config/webhook/manifests.yaml"
# Rendering 14 runtimes takes a fraction of a second; this bounds a hung kubectl.
KUSTOMIZE_TIMEOUT_SECONDS = 120.0
DEFAULT_DEPLOYMENT_MODE = "Standard"
DEFAULT_DOMAIN = "example.com"
# KServe must not copy these onto the pods (each changes without a spec change):
# the notify function's record of the status events it sent (kserve_functions
# resources.REPORTED_STATE_ANNOTATION) and the audit trail's (audit.AUDIT_ANNOTATIONS).
NOT_PROPAGATED_ANNOTATIONS = (
    "kserve-functions.dev/reported-state",
    "kserve-functions.dev/changed-by",
    "kserve-functions.dev/changed-at",
    "kserve-functions.dev/changed-how",
)
_SERVING_GROUP = "serving.kserve.io"


@dataclass(frozen=True)
class Sources:
    """Where KServe's upstream configuration is read.

    ``runtimes`` is a file of rendered ClusterServingRuntimes (a ``KSERVE_DIR``)
    or the kustomization folder they are rendered from (the Go module's).
    """

    config: Path
    webhooks: Path
    runtimes: Path


@dataclass(frozen=True)
class Configuration:
    """KServe's upstream documents, as read: the ConfigMap, webhook configurations, runtimes."""

    config_map: dict[str, Any]
    webhooks: list[dict[str, Any]]
    runtimes: list[dict[str, Any]]


def sources(kserve_dir: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Sources:
    """Where to read KServe's configuration; fails early, before any process starts.

    ``kserve_dir`` None (the default): the Go module ``upstream.KSERVE`` at its
    pinned version, downloaded first if it is not in the module cache yet.
    Otherwise the three files of ``kserve_dir`` (``KSERVE_DIR``).

    Raises:
        ControlPlaneError: the module cannot be downloaded or lacks a file, or
            ``kserve_dir`` lacks one.
    """
    if kserve_dir is not None:
        check_kserve_dir(kserve_dir)
        return Sources(
            config=kserve_dir / CONFIG_FILE,
            webhooks=kserve_dir / WEBHOOKS_FILE,
            runtimes=kserve_dir / RUNTIMES_FILE,
        )
    return Sources(
        config=upstream.module_file(upstream.KSERVE, MODULE_CONFIG, environ=environ),
        webhooks=upstream.module_file(upstream.KSERVE, MODULE_WEBHOOKS, environ=environ),
        runtimes=upstream.module_file(upstream.KSERVE, MODULE_RUNTIMES, environ=environ),
    )


def check_kserve_dir(kserve_dir: Path) -> None:
    """Fail early, before any process starts, when a ``KSERVE_DIR`` lacks KServe's files.

    Raises:
        ControlPlaneError: the folder or one of its files is missing.
    """
    missing = [
        name
        for name in (CONFIG_FILE, RUNTIMES_FILE, WEBHOOKS_FILE)
        if not (kserve_dir / name).is_file()
    ]
    if missing:
        raise ControlPlaneError(
            f"KServe folder {kserve_dir} lacks {', '.join(missing)}: set KSERVE_DIR to a "
            f"folder holding KServe {upstream.KSERVE.version()}'s configuration, or unset it "
            "to use the pinned Go module's"
        )


def load(found: Sources, *, kubectl: Path | None) -> Configuration:
    """Read KServe's configuration from ``found``; render the runtimes with ``kubectl`` if needed.

    Raises:
        ControlPlaneError: the runtimes need rendering and ``kubectl`` is None,
            or ``kubectl kustomize`` failed.
    """
    if found.runtimes.is_dir():
        if kubectl is None:
            raise ControlPlaneError(f"rendering {found.runtimes} needs kubectl; none was given")
        runtimes = render_runtimes(found.runtimes, kubectl=kubectl)
    else:
        runtimes = list(_documents(found.runtimes))
    return Configuration(
        config_map=next(_documents(found.config)),
        webhooks=list(_documents(found.webhooks)),
        runtimes=runtimes,
    )


def render_runtimes(kustomization: Path, *, kubectl: Path) -> list[dict[str, Any]]:
    """KServe's ClusterServingRuntimes from their kustomization, as ``kubectl kustomize`` renders.

    Raises:
        ControlPlaneError: kubectl failed or did not answer in time.
    """
    try:
        rendered = subprocess.run(
            [str(kubectl), "kustomize", str(kustomization)],
            capture_output=True,
            text=True,
            timeout=KUSTOMIZE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise ControlPlaneError(
            f"kubectl kustomize {kustomization} did not finish within "
            f"{KUSTOMIZE_TIMEOUT_SECONDS:.0f}s"
        ) from e
    if rendered.returncode != 0:
        raise ControlPlaneError(
            f"kubectl kustomize {kustomization} failed (exit {rendered.returncode}): "
            f"{rendered.stderr.strip()[:300]}"
        )
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if isinstance(doc, dict)]


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as stream:
        for document in yaml.safe_load_all(stream):
            if isinstance(document, dict):
                yield document


def local_config(upstream: Mapping[str, Any], *, domain: str) -> dict[str, Any]:
    """The ``inferenceservice-config`` ConfigMap for the local cluster.

    Changed from upstream, and why:

    - ``deploy.defaultDeploymentMode``: ``Serverless`` → ``Standard``. Knative
      mode needs Knative Serving's controllers, which do not run locally;
      Standard mode is plain Deployments, Services and HPAs, which the
      controller-manager, scheduler and kwok reconcile for real.
    - ``ingress.disableIngressCreation``: ``false`` → ``true``. No Istio or
      Gateway controller runs, so an Ingress/VirtualService would never be
      served; KServe still reports ``status.url`` from the ingress domain template.
    - ``ingress.ingressDomain``: upstream ``example.com`` → ``domain`` (the
      same unless a caller chooses another), so the URLs the API predicts and
      the ones KServe writes come from one setting.
    - ``inferenceService.serviceAnnotationDisallowedList``: unset →
      ``NOT_PROPAGATED_ANNOTATIONS``. KServe copies a model's annotations onto
      its predictor's pod template except the ones listed there (added to its
      built-in list); the notify function's record of the events it sent
      changes with every event and would otherwise roll the model's pods each
      time, and the audit annotations change with every retried deploy.
      Production installations set the same (README, Events).

    Every other key is upstream's, byte for byte.
    """
    config = copy.deepcopy(dict(upstream))
    data = dict(config["data"])
    deploy = json.loads(data["deploy"])
    deploy["defaultDeploymentMode"] = DEFAULT_DEPLOYMENT_MODE
    data["deploy"] = json.dumps(deploy, indent=2)
    ingress = json.loads(data["ingress"])
    ingress["disableIngressCreation"] = True
    ingress["ingressDomain"] = domain
    data["ingress"] = json.dumps(ingress, indent=2)
    isvc = json.loads(data["inferenceService"])
    isvc["serviceAnnotationDisallowedList"] = list(NOT_PROPAGATED_ANNOTATIONS)
    data["inferenceService"] = json.dumps(isvc, indent=2)
    config["data"] = data
    config["metadata"] = {"name": CONFIG_MAP, "namespace": NAMESPACE}
    return config


def local_webhooks(
    configurations: Iterable[Mapping[str, Any]], *, base_url: str, ca_bundle: str
) -> list[dict[str, Any]]:
    """KServe's webhook configurations pointing at a webhook server outside the cluster.

    Each webhook's ``clientConfig.service`` (a Service in front of the manager's
    pod, upstream) becomes ``url: base_url + path`` with ``caBundle`` (base64 of
    the PEM CA): the way the apiserver reaches a webhook that is not a Service.
    Everything else (rules, selectors, failurePolicy, sideEffects) is upstream's.
    """
    local = []
    for configuration in configurations:
        rendered = copy.deepcopy(dict(configuration))
        rendered["metadata"] = {"name": configuration["metadata"]["name"]}
        for webhook in rendered["webhooks"]:
            path = webhook["clientConfig"]["service"]["path"]
            webhook["clientConfig"] = {"url": f"{base_url}{path}", "caBundle": ca_bundle}
        local.append(rendered)
    return local


def manager_argv(
    binary: Path, *, webhook_port: int, probe_port: int, metrics_port: int
) -> list[str]:
    """The KServe controller manager's command line on loopback, without leader election.

    Its webhook server has no flag for the address and binds every interface
    on ``webhook_port`` (controller-runtime's default host); the probe and
    metrics servers bind 127.0.0.1.
    """
    return [
        str(binary),
        f"--webhook-port={webhook_port}",
        f"--health-probe-addr=127.0.0.1:{probe_port}",
        f"--metrics-addr=127.0.0.1:{metrics_port}",
        "--leader-elect=false",
    ]


def webhook_cert_dir(tmp_dir: Path) -> Path:
    """Where the manager reads ``tls.crt``/``tls.key`` when its ``TMPDIR`` is ``tmp_dir``."""
    return tmp_dir / "k8s-webhook-server" / "serving-certs"


def install_config(
    api_client: client.ApiClient, configuration: Configuration, *, domain: str
) -> None:
    """Create the ``kserve`` namespace and the local ``inferenceservice-config``.

    The manager reads the ConfigMap once at start, so this comes first.

    Raises:
        ControlPlaneError: the apiserver refused one of them.
    """
    core = client.CoreV1Api(api_client)
    _create("namespace kserve", core.create_namespace, {"metadata": {"name": NAMESPACE}})
    _create(
        f"ConfigMap {NAMESPACE}/{CONFIG_MAP}",
        core.create_namespaced_config_map,
        NAMESPACE,
        local_config(configuration.config_map, domain=domain),
    )


def register_webhooks(
    api_client: client.ApiClient, configuration: Configuration, *, base_url: str, ca_bundle: str
) -> None:
    """Register KServe's webhook configurations, calling ``base_url``.

    Raises:
        ControlPlaneError: the apiserver refused one of them.
    """
    admission = client.AdmissionregistrationV1Api(api_client)
    for webhooks in local_webhooks(configuration.webhooks, base_url=base_url, ca_bundle=ca_bundle):
        kind, name = webhooks["kind"], webhooks["metadata"]["name"]
        create = (
            admission.create_mutating_webhook_configuration
            if kind == "MutatingWebhookConfiguration"
            else admission.create_validating_webhook_configuration
        )
        _create(f"{kind} {name}", create, webhooks)


def install_runtimes(api_client: client.ApiClient, configuration: Configuration) -> int:
    """Create the ClusterServingRuntimes (through KServe's validating webhook); return how many.

    Raises:
        ControlPlaneError: the apiserver or the webhook refused one.
    """
    custom = client.CustomObjectsApi(api_client)
    count = 0
    for runtime in configuration.runtimes:
        _create(
            f"ClusterServingRuntime {runtime['metadata']['name']}",
            custom.create_cluster_custom_object,
            _SERVING_GROUP,
            "v1alpha1",
            "clusterservingruntimes",
            runtime,
        )
        count += 1
    return count


def _create(what: str, create: Callable[..., object], *args: object) -> None:
    """Call a generated ``create_*`` method; dict bodies are sent as they are."""
    try:
        create(*args)
    except ApiException as e:
        raise ControlPlaneError(
            f"the apiserver refused {what} ({e.status} {e.reason})", details=str(e.body)[:2000]
        ) from e
