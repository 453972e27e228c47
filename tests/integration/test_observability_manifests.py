"""k8s/observability/: the kustomize Component, alone and included in each base.

Rendered by the project's kubectl (its built-in kustomize), the component holds
a PodMonitor, a PrometheusRule, a NetworkPolicy and the dashboard's ConfigMap.
Included as k8s/README.md says (uncommenting the `components:` lines of
k8s/kustomization.yaml, listing it in standard/'s, or an overlay of one's own),
it adds exactly those objects to the base, in the base's namespace; the
PodMonitor scrapes every function pod on the port the function serves
``/metrics`` on (never queue-proxy's) and names it by its function; the
NetworkPolicy admits the scrapes from the monitoring namespace, which a patch
changes. The local cluster has no Prometheus Operator CRDs: what it serves (the
NetworkPolicy, the ConfigMap) passes a server-side dry run; the Operator's
kinds are held to their shape here and to the metrics contract by
tests/unit/test_observability.py.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane.cluster import ControlPlane
from kubernetes import client
from support import kubectl
from support import observability as obs

pytestmark = pytest.mark.integration

NAMESPACE = "kserve-functions"
OPERATOR_GROUP = "monitoring.coreos.com"
POD_MONITOR = (f"{OPERATOR_GROUP}/v1", "PodMonitor")
PROMETHEUS_RULE = (f"{OPERATOR_GROUP}/v1", "PrometheusRule")
NETWORK_POLICY = ("networking.k8s.io/v1", "NetworkPolicy")
CONFIG_MAP = ("v1", "ConfigMap")
KSVC = ("serving.knative.dev/v1", "Service")
DEPLOYMENT = ("apps/v1", "Deployment")
METRICS_POLICY = "kserve-functions-metrics"
DASHBOARD_CONFIG_MAP = "kserve-functions-dashboard"
MONITORING = "monitoring"
FUNCTION_PORT = 8080
# The pods Knative makes of a revision: the user container's port renamed (whatever
# the Service called it), and queue-proxy's ports (knative.dev/serving, pkg/apis/serving).
KNATIVE_USER_PORT = "user-port"
QUEUE_PROXY_PORTS = {"queue-port": 8012, "http-autometric": 9090, "http-usermetric": 9091}
QUEUE_PROXY_PORTS |= {"http-queueadm": 8022}
# What k8s/kustomization.yaml carries, commented, and what standard/ takes.
COMMENTED_COMPONENTS = "# components:\n#   - observability\n"
STANDARD_COMPONENTS = "components:\n  - ../observability\n"
# kubectl's client-side apply keeps the whole object in an annotation; the
# apiserver refuses an object whose annotations pass 256 KiB.
ANNOTATIONS_LIMIT = 256 * 1024


def _of(objects: list[dict[str, Any]], api_version: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if (o["apiVersion"], o["kind"]) == (api_version, kind)]


def _named(objects: list[dict[str, Any]], api_version: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in _of(objects, api_version, kind) if o["metadata"]["name"] == name]
    return found


def _copy_of_k8s(tmp_path: Path) -> Path:
    copy = tmp_path / "k8s"
    shutil.copytree(obs.K8S, copy)
    return copy


def _with_component(k8s: Path, base: str) -> Path:
    """``k8s`` (a copy) with the component included in ``base`` as k8s/README.md says."""
    if base == "functions":
        kustomization = k8s / "kustomization.yaml"
        text = kustomization.read_text()
        assert COMMENTED_COMPONENTS in text, "the documented line to uncomment"
        kustomization.write_text(
            text.replace(COMMENTED_COMPONENTS, "components:\n  - observability\n")
        )
        return k8s
    kustomization = k8s / "standard" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + STANDARD_COMPONENTS)
    return k8s / "standard"


def _base_dir(k8s: Path, base: str) -> Path:
    return k8s if base == "functions" else k8s / "standard"


def _pods(rendered: list[dict[str, Any]]) -> list[tuple[str, dict[str, str], dict[str, int]]]:
    """(workload, pod labels, port name → number) of each pod the workloads run.

    A Knative Service's pods are its template's, with the labels and the ports
    Knative gives every revision's pods.
    """
    pods = []
    for ksvc in _of(rendered, *KSVC):
        name = ksvc["metadata"]["name"]
        labels = {**ksvc["spec"]["template"]["metadata"]["labels"]}
        labels["serving.knative.dev/service"] = name
        (container,) = ksvc["spec"]["template"]["spec"]["containers"]
        (port,) = container["ports"]
        pods.append((name, labels, {KNATIVE_USER_PORT: port["containerPort"], **QUEUE_PROXY_PORTS}))
    for deployment in _of(rendered, *DEPLOYMENT):
        template = deployment["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c["ports"]
        }
        pods.append((deployment["metadata"]["name"], template["metadata"]["labels"], ports))
    return pods


def _target_label(relabelings: list[dict[str, Any]], labels: dict[str, str], name: str) -> str:
    """The value Prometheus's `replace` relabelings give target label ``name`` for a pod."""
    meta = {
        "__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9_]", "_", key): value
        for key, value in labels.items()
    }
    value = ""
    for step in relabelings:
        assert step["action"] == "replace", step
        source = ";".join(meta.get(label, "") for label in step["sourceLabels"])
        match = re.fullmatch(step.get("regex", "(.*)"), source)
        if match is not None and step["targetLabel"] == name:
            value = match.expand(step.get("replacement", "$1").replace("$1", r"\1"))
    return value


# -- the component alone ------------------------------------------------------------


def test_the_component_renders_its_four_objects() -> None:
    rendered = kubectl.kustomize(obs.OBSERVABILITY)

    kinds = Counter((o["apiVersion"], o["kind"]) for o in rendered)
    assert kinds == {POD_MONITOR: 1, PROMETHEUS_RULE: 1, NETWORK_POLICY: 1, CONFIG_MAP: 1}
    for obj in rendered:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kserve-functions"
        assert "namespace" not in obj["metadata"], "the including kustomization's namespace"
    (rule,) = _of(rendered, *PROMETHEUS_RULE)
    assert rule == obs.prometheus_rule(), "kustomize leaves the rules (and their {{ }}) alone"
    # The dashboard: a plain file turned into the sidecar's ConfigMap, its name fixed.
    (config_map,) = _of(rendered, *CONFIG_MAP)
    assert config_map["metadata"]["name"] == DASHBOARD_CONFIG_MAP
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (key,) = config_map["data"]
    assert key.endswith(".json")
    assert json.loads(config_map["data"][key]) == obs.dashboard()
    assert len(json.dumps(config_map)) < ANNOTATIONS_LIMIT // 2


@pytest.mark.parametrize("base", ["functions", "standard"])
def test_the_bases_leave_the_component_out(base: str) -> None:
    # The bases apply on clusters without the Prometheus Operator's CRDs.
    rendered = kubectl.kustomize(_base_dir(obs.K8S, base))

    assert not [o for o in rendered if o["apiVersion"].startswith(OPERATOR_GROUP + "/")]
    assert not [o for o in rendered if o["metadata"]["name"] == METRICS_POLICY]


# -- included -----------------------------------------------------------------------


@pytest.mark.parametrize("base", ["functions", "standard"])
def test_including_the_component_adds_exactly_its_objects(tmp_path: Path, base: str) -> None:
    k8s = _copy_of_k8s(tmp_path)
    plain = kubectl.kustomize(_base_dir(k8s, base))

    included = kubectl.kustomize(_with_component(k8s, base))

    added = [o for o in included if o not in plain]
    assert [o for o in plain if o not in included] == [], "the base's objects unchanged"
    component = kubectl.kustomize(obs.OBSERVABILITY)
    assert sorted(map(kubectl.identity, added)) == sorted(
        (*kubectl.identity(o)[:2], NAMESPACE, o["metadata"]["name"]) for o in component
    )


@pytest.mark.parametrize("base", ["functions", "standard"])
def test_the_pod_monitor_scrapes_each_function_on_its_own_port(tmp_path: Path, base: str) -> None:
    rendered = kubectl.kustomize(_with_component(_copy_of_k8s(tmp_path), base))
    (monitor,) = _of(rendered, *POD_MONITOR)
    spec = monitor["spec"]
    assert "namespaceSelector" not in spec, "the PodMonitor's own namespace: the functions'"
    assert spec.get("honorLabels", False) is False
    pods = _pods(rendered)
    assert pods

    for workload, labels, ports in pods:
        assert spec["selector"]["matchLabels"].items() <= labels.items(), workload
        (endpoint,) = [e for e in spec["podMetricsEndpoints"] if e["port"] in ports]
        # The function's own port, the API's: never queue-proxy's.
        assert ports[endpoint["port"]] == FUNCTION_PORT, workload
        assert (endpoint["path"], endpoint["scheme"]) == ("/metrics", "http")
        assert _target_label(endpoint["relabelings"], labels, "function") == workload


@pytest.mark.parametrize("base", ["functions", "standard"])
def test_the_scrapes_are_let_in_from_the_monitoring_namespace_only(
    tmp_path: Path, base: str
) -> None:
    rendered = kubectl.kustomize(_with_component(_copy_of_k8s(tmp_path), base))
    policy = _named(rendered, *NETWORK_POLICY, METRICS_POLICY)
    spec = policy["spec"]

    assert spec["policyTypes"] == ["Ingress"]
    for workload, labels, _ in _pods(rendered):
        assert spec["podSelector"]["matchLabels"].items() <= labels.items(), workload
    (rule,) = spec["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING}}}
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": FUNCTION_PORT}]


def _documented_patch() -> dict[str, Any]:
    """The overlay patch networkpolicy.yaml's comment shows, as YAML."""
    comment = (obs.OBSERVABILITY / "networkpolicy.yaml").read_text()
    block = re.search(r"^#   patches:\n(?:#     .*\n)+", comment, flags=re.MULTILINE)
    assert block is not None, "networkpolicy.yaml shows the patch"
    patch = yaml.safe_load("\n".join(line[2:] for line in block[0].splitlines()))
    assert isinstance(patch, dict)
    return patch


def test_an_overlay_includes_the_component_and_patches_the_monitoring_namespace(
    tmp_path: Path,
) -> None:
    # k8s/README.md's overlay (relative paths, its own namespace) with the patch.
    k8s = _copy_of_k8s(tmp_path)
    overlay = tmp_path / "my-overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": ["../k8s"],
        "components": ["../k8s/observability"],
        **_documented_patch(),
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))

    rendered = kubectl.kustomize(overlay)

    policy = _named(rendered, *NETWORK_POLICY, METRICS_POLICY)
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] != {"kubernetes.io/metadata.name": MONITORING}
    assert set(peer["namespaceSelector"]["matchLabels"]) == {"kubernetes.io/metadata.name"}
    component = {(o["kind"], o["metadata"]["name"]) for o in kubectl.kustomize(obs.OBSERVABILITY)}
    for obj in rendered:
        if (obj["kind"], obj["metadata"]["name"]) in component:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["kind"]
    base = [o for o in rendered if (o["kind"], o["metadata"]["name"]) not in component]
    assert base == kubectl.kustomize(k8s), "the base as it renders alone"


# -- the apiserver ------------------------------------------------------------------


def test_what_the_cluster_serves_passes_a_server_side_dry_run(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    rendered = kubectl.kustomize(obs.OBSERVABILITY)
    groups = client.ApisApi(admin_api).get_api_versions()
    served = {"v1"} | {v.group_version for g in groups.groups for v in g.versions}
    known = [o for o in rendered if o["apiVersion"] in served]
    # The Prometheus Operator is not installed here: its kinds alone are left out.
    assert {o["kind"] for o in rendered if o not in known} <= {"PodMonitor", "PrometheusRule"}
    assert {(o["apiVersion"], o["kind"]) for o in known} >= {NETWORK_POLICY, CONFIG_MAP}
    directory = tmp_path / "served"
    directory.mkdir()
    (directory / "objects.yaml").write_text(yaml.safe_dump_all(known, sort_keys=False))
    (directory / "kustomization.yaml").write_text("resources:\n  - objects.yaml\n")

    dry_run = kubectl.dry_run_apply(control_plane, directory, namespace=namespace)

    assert "Warning" not in dry_run.stderr, dry_run.stderr
    placed = [{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in known]
    assert Counter(map(kubectl.identity, dry_run.objects)) == Counter(map(kubectl.identity, placed))
    answers = {kubectl.identity(o): o for o in dry_run.objects}
    for obj in placed:
        answer = answers[kubectl.identity(obj)]
        for field in ("spec", "data"):
            assert answer.get(field) == obj.get(field), f"{obj['kind']} {field}"
    # Dry run: nothing stored.
    config_maps = client.CoreV1Api(admin_api).list_namespaced_config_map(namespace).items
    assert DASHBOARD_CONFIG_MAP not in {c.metadata.name for c in config_maps if c.metadata}
    policies = client.NetworkingV1Api(admin_api).list_namespaced_network_policy(namespace)
    assert policies.items == []
