"""The project's SinkBinding (k8s/eventing/sinkbinding.yaml) with Knative's real webhook.

Knative Eventing v0.50.0 runs on the session's cluster (the ``eventing``
fixture); its eventing webhook process serves upstream's SinkBinding admission
webhook (the MutatingWebhookConfiguration
``sinkbindings.webhook.sources.knative.dev`` of ``config/core/webhooks``, in
upstream's default ``exclusion`` selection mode) and runs upstream's SinkBinding
reconciler. ``k8s/eventing/`` is applied in the test's namespace with
``kubectl apply -k`` through a local overlay that changes one thing: the
SinkBinding's subject, the notify function's Knative Service
(``serving.knative.dev/v1`` Service ``kserve-notify``) in a real cluster, which
cannot exist here (no Knative Serving runs), becomes an ``apps/v1`` Deployment
of the same name, a PodSpecable kind the binding works on the same way.
Nothing else is changed: the Triggers keep their Knative Service subscribers
(unresolvable here), and the ApiServerSource and its RBAC are applied as they
are (the ClusterRoleBinding names the namespace ``kserve-functions``); the
test waits for neither, only for the Broker and the SinkBinding to be Ready.

Checked, against the real webhook and reconciler: a ``kserve-notify``
Deployment created once the binding exists gets ``K_SINK`` = the Broker
``default``'s ``status.address.url`` at admission, without any label on the
namespace; the SinkBinding is Ready with ``status.sinkUri`` that URL; a
Deployment created before the binding is patched by the reconciler; deleting
the SinkBinding removes what it added and nothing else. The Deployments' pods
never need to run (kwok's nodes take them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from controlplane import eventing as knative_eventing
from controlplane.cluster import ControlPlane
from controlplane.eventing_launch import Eventing, not_ready
from kubernetes import client
from support import kubectl
from support.eventing import BROKER, overlay, patch
from support.objects import as_dict
from support.workloads import wait_for

pytestmark = pytest.mark.integration

SUBJECT = "kserve-notify"
BINDING = "kserve-notify-sink"
SOURCES = ("sources.knative.dev", "v1")
EVENTING = ("eventing.knative.dev", "v1")
WEBHOOK = "sinkbindings.webhook.sources.knative.dev"
# What SinkBinding.Do adds to every container (K_CA_CERTS only for an https sink,
# and the OIDC token mount only with OIDC on: both off here, upstream's defaults).
BINDING_ENV = frozenset({"K_SINK", "K_CE_OVERRIDES", "K_CA_CERTS"})
# A variable of the Deployment's own, which the binding must leave alone.
OWN_ENV = {"name": "MODEL_NAMESPACE", "value": "models"}
# knative.dev/pkg's psbinding labels: with upstream's exclusion mode, only
# namespaces labelled exclude=true are skipped by the webhook.
INCLUDE_LABEL = "bindings.knative.dev/include"
EXCLUDE_LABEL = "bindings.knative.dev/exclude"


def _overlay(folder: Path) -> Path:
    """k8s/eventing/ with the SinkBinding's subject a Deployment (see the module docstring)."""
    subject = {"apiVersion": "apps/v1", "kind": "Deployment", "name": SUBJECT}
    return overlay(
        folder,
        [
            patch(
                {"kind": "SinkBinding"},
                [{"op": "replace", "path": "/spec/subject", "value": subject}],
            )
        ],
    )


def _apply(control_plane: ControlPlane, namespace: str, folder: Path) -> None:
    kubeconfig = f"--kubeconfig={control_plane.kubeconfig_path}"
    kubectl.run([kubeconfig, "apply", "-k", str(_overlay(folder)), "-n", namespace])


def _read(
    admin_api: client.ApiClient,
    namespace: str,
    group_version: tuple[str, str],
    plural: str,
    name: str,
) -> dict[str, Any] | None:
    """The object, or None while it does not exist."""
    try:
        return as_dict(
            client.CustomObjectsApi(admin_api).get_namespaced_custom_object(
                *group_version, namespace, plural, name
            )
        )
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def _ready_broker_url(admin_api: client.ApiClient, namespace: str) -> str:
    """The Broker's ``status.address.url``, once the Broker is Ready."""

    def url() -> str | None:
        broker = _read(admin_api, namespace, EVENTING, "brokers", BROKER)
        if broker is None or not_ready(broker) is not None:
            return None
        return str(broker["status"]["address"]["url"])

    return wait_for(url, timeout=60, what=f"the Broker {BROKER} Ready")


def _ready_binding(admin_api: client.ApiClient, namespace: str) -> dict[str, Any]:
    """The SinkBinding, once Ready (its reconciler found the subject and the sink)."""

    def ready() -> dict[str, Any] | None:
        binding = _read(admin_api, namespace, SOURCES, "sinkbindings", BINDING)
        return binding if binding is not None and not_ready(binding) is None else None

    return wait_for(ready, timeout=60, what=f"the SinkBinding {BINDING} Ready")


def _binding_waits_for_subject(admin_api: client.ApiClient, namespace: str) -> bool | None:
    """True once the SinkBinding's Ready condition says its subject is missing."""
    binding = _read(admin_api, namespace, SOURCES, "sinkbindings", BINDING)
    if binding is None:
        return None
    return True if "SubjectMissing" in (not_ready(binding) or "") else None


def _binds_deployments(admin_api: client.ApiClient) -> bool | None:
    """True once the SinkBinding webhook's configuration has a rule for apps/v1 deployments.

    The webhook writes its rules from the subjects of the SinkBindings that exist
    (knative.dev/pkg psbinding), so they change only after a binding is created.
    """
    configuration = client.AdmissionregistrationV1Api(
        admin_api
    ).read_mutating_webhook_configuration(WEBHOOK)
    for webhook in configuration.webhooks or []:
        for rule in webhook.rules or []:
            # psbinding writes "<plural>/*": the resource and its subresources.
            resources = {resource.split("/")[0] for resource in rule.resources or []}
            if "apps" in (rule.api_groups or []) and "deployments" in resources:
                return True
    return None


def _deployment(namespace: str) -> client.V1Deployment:
    """The subject: one container with a variable of its own, a pod that kwok runs."""
    labels = {"app": SUBJECT}
    container = client.V1Container(
        name="user-container",
        image="registry.example/kserve-notify:1",
        env=[client.V1EnvVar(**OWN_ENV)],
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=SUBJECT, namespace=namespace),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def _json(api: client.ApiClient, model: object) -> dict[str, Any]:
    """A client model as the JSON the apiserver sent (unset fields left out)."""
    return as_dict(api.sanitize_for_serialization(model))  # type: ignore[no-untyped-call]


def _env(pod_spec_holder: dict[str, Any]) -> dict[str, str | None]:
    """The environment, by name, of the single container of a Deployment or a pod."""
    spec = pod_spec_holder["spec"]
    (container,) = (
        spec["template"]["spec"]["containers"] if "template" in spec else spec["containers"]
    )
    return {variable["name"]: variable.get("value") for variable in container.get("env", [])}


def _deployment_env(admin_api: client.ApiClient, namespace: str) -> dict[str, str | None]:
    apps = client.AppsV1Api(admin_api)
    return _env(_json(admin_api, apps.read_namespaced_deployment(SUBJECT, namespace)))


def _namespace_labels(admin_api: client.ApiClient, namespace: str) -> dict[str, str]:
    found = _json(admin_api, client.CoreV1Api(admin_api).read_namespace(namespace))
    return dict(found["metadata"].get("labels") or {})


def _create_deployment(admin_api: client.ApiClient, namespace: str) -> dict[str, Any]:
    """Create the subject; what the apiserver returned (after the mutating webhooks)."""
    apps = client.AppsV1Api(admin_api)
    return _json(admin_api, apps.create_namespaced_deployment(namespace, _deployment(namespace)))


def test_a_deployment_created_under_the_binding_gets_the_brokers_address_as_k_sink(
    eventing: Eventing,
    control_plane: ControlPlane,
    namespace: str,
    admin_api: client.ApiClient,
    tmp_path: Path,
) -> None:
    _apply(control_plane, namespace, tmp_path / "overlay")
    broker_url = _ready_broker_url(admin_api, namespace)
    # The Broker reconciler's address: the MT ingress by its cluster DNS name.
    assert broker_url == knative_eventing.broker_url(namespace, BROKER)
    # Without its subject the binding cannot be Ready (the reconciler looks it up).
    wait_for(
        lambda: _binding_waits_for_subject(admin_api, namespace),
        what="the SinkBinding reported without its subject",
    )
    # Created only once the webhook's rules cover Deployments, so what it returns
    # shows the admission webhook's work, not a later patch by the reconciler. The
    # rules are cluster-wide, from every binding's subject: this module's are the
    # session's only bindings of Deployments, so the rule is this binding's.
    wait_for(lambda: _binds_deployments(admin_api), what="the webhook's rule for Deployments")
    labels = _namespace_labels(admin_api, namespace)
    assert INCLUDE_LABEL not in labels
    assert EXCLUDE_LABEL not in labels

    env = _env(_create_deployment(admin_api, namespace))
    # K_CE_OVERRIDES is added empty (the manifest sets no ceOverrides); JSON omits
    # an empty value, hence None.
    assert env == {OWN_ENV["name"]: OWN_ENV["value"], "K_SINK": broker_url, "K_CE_OVERRIDES": None}
    binding = _ready_binding(admin_api, namespace)
    assert binding["status"]["sinkUri"] == broker_url
    assert binding["status"]["observedGeneration"] == binding["metadata"]["generation"]
    # The reconciler found the Deployment already bound: it did not change it.
    assert _deployment_env(admin_api, namespace) == env

    # What the function's process would see: the pod the ReplicaSet makes carries it.
    core = client.CoreV1Api(admin_api)

    def pod_env() -> dict[str, str | None] | None:
        listed = core.list_namespaced_pod(namespace, label_selector=f"app={SUBJECT}")
        pods = _json(admin_api, listed).get("items") or []
        return _env(pods[0]) if pods else None

    assert wait_for(pod_env, what="a pod of the Deployment")["K_SINK"] == broker_url


def test_the_reconciler_binds_an_existing_deployment_and_unbinds_it_on_delete(
    eventing: Eventing,
    control_plane: ControlPlane,
    namespace: str,
    admin_api: client.ApiClient,
    tmp_path: Path,
) -> None:
    created = _create_deployment(admin_api, namespace)
    assert _env(created) == {OWN_ENV["name"]: OWN_ENV["value"]}

    _apply(control_plane, namespace, tmp_path / "overlay")
    broker_url = _ready_broker_url(admin_api, namespace)
    binding = _ready_binding(admin_api, namespace)

    assert binding["status"]["sinkUri"] == broker_url
    # Ready is set after the subject was patched (psbinding's reconciler).
    env = _deployment_env(admin_api, namespace)
    assert env == {OWN_ENV["name"]: OWN_ENV["value"], "K_SINK": broker_url, "K_CE_OVERRIDES": None}
    # The reconciler labels the subject's namespace as included (knative.dev/pkg
    # psbinding); in exclusion mode the webhook would take it without the label.
    assert _namespace_labels(admin_api, namespace).get(INCLUDE_LABEL) == "true"
    # Its finalizer is how the binding gets undone on deletion.
    assert "sinkbindings.sources.knative.dev" in binding["metadata"]["finalizers"]

    client.CustomObjectsApi(admin_api).delete_namespaced_custom_object(
        *SOURCES, namespace, "sinkbindings", BINDING
    )
    wait_for(
        lambda: (
            True if _read(admin_api, namespace, SOURCES, "sinkbindings", BINDING) is None else None
        ),
        what="the SinkBinding gone (its finalizer done)",
    )

    after = _deployment_env(admin_api, namespace)
    assert not BINDING_ENV & after.keys()
    assert after == {OWN_ENV["name"]: OWN_ENV["value"]}
