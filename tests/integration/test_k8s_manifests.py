"""k8s/ (the split Knative functions) and k8s/standard/ (the all-in-one Deployment).

Each base is rendered by the project's kubectl (``kubectl kustomize``, its
built-in kustomize v5.8.1) and applied as a whole with ``kubectl apply -k
--dry-run=server --validate=strict`` against the real apiserver and the
installed CRDs (Knative Serving and Eventing, Gateway API). Then the rendered
objects are checked against what the functions need: hardened pod templates, a
ServiceAccount per workload, an HTTPRoute that sends each seed path and method
(and the web console's) to the function serving it, a NetworkPolicy that lets
in only the documented namespaces, and RBAC subjects in the right namespace.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from kubernetes import client
from support import kubectl
from support.functions import REPO_ROOT

pytestmark = pytest.mark.integration

K8S = REPO_ROOT / "k8s"
STANDARD = K8S / "standard"
RECORDED_DOCUMENTS = REPO_ROOT / "tests" / "unit" / "data" / "openapi"
NAMESPACE = "kserve-functions"
BASES = {"functions": K8S, "standard": STANDARD}
KSVC = ("serving.knative.dev/v1", "Service")
DEPLOYMENT = ("apps/v1", "Deployment")
FUNCTIONS = (
    "kserve-deploy",
    "kserve-models",
    "kserve-delete",
    "kserve-health",
    "kserve-notify",
    "kserve-ui",
    "kserve-mcp",
)
# What the all-in-one kserve-api is not: notify (fed by an ApiServerSource, sending to a
# SinkBinding's K_SINK: a Knative Eventing install) and that source's identity.
NOT_IN_STANDARD = ("kserve-notify", "kserve-notify-source")
HOST_SUFFIX = f".{NAMESPACE}.svc.cluster.local"
# Who may reach the functions' pods (networkpolicy.yaml's documented assumptions).
KNATIVE_SOURCES = {"knative-serving", "kourier-system", "knative-eventing"}
STANDARD_SOURCES = {"gateway-system", "knative-eventing"}
WRITABLE_TMP = "/tmp"  # noqa: S108 - the path the manifests mount, not a file we write
# The bases' cluster-scoped kinds: kustomize's namespace transformer leaves them alone.
CLUSTER_SCOPED = {
    ("v1", "Namespace"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
}


def _of(objects: list[dict[str, Any]], api_version: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if (o["apiVersion"], o["kind"]) == (api_version, kind)]


def _pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(workload name, pod template) of every Knative Service and Deployment."""
    return [
        (o["metadata"]["name"], o["spec"]["template"])
        for o in objects
        if (o["apiVersion"], o["kind"]) in {KSVC, DEPLOYMENT}
    ]


CRD_GROUPS = {
    "serving.knative.dev",
    "eventing.knative.dev",
    "sources.knative.dev",
    "gateway.networking.k8s.io",
}


def _assert_kept(sent: object, stored: object, where: str) -> None:
    """Everything ``sent`` holds is in ``stored`` unchanged (``stored`` may add defaults)."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), where
        for key, value in sent.items():
            assert key in stored, f"{where}.{key} was pruned"
            _assert_kept(value, stored[key], f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list), where
        assert len(stored) == len(sent), where
        for index, (mine, theirs) in enumerate(zip(sent, stored, strict=True)):
            _assert_kept(mine, theirs, f"{where}[{index}]")
    else:
        assert sent == stored, f"{where}: {sent!r} became {stored!r}"


# -- rendering ---------------------------------------------------------------------


@pytest.mark.parametrize("base", sorted(BASES))
def test_base_renders_into_its_namespace(base: str) -> None:
    rendered = kubectl.kustomize(BASES[base])

    names = [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in rendered]
    assert len(set(names)) == len(names), "names are unique per kind"
    (ns,) = _of(rendered, "v1", "Namespace")
    assert ns["metadata"]["name"] == NAMESPACE
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in rendered:
        what = f"{obj['kind']} {obj['metadata']['name']}"
        if (obj["apiVersion"], obj["kind"]) in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], what
        else:
            assert obj["metadata"].get("namespace") == NAMESPACE, what
        assert obj["metadata"]["labels"], f"{what} unlabelled"


def test_top_level_holds_the_functions_and_the_eventing_wiring() -> None:
    rendered = kubectl.kustomize(K8S)

    assert sorted(o["metadata"]["name"] for o in _of(rendered, *KSVC)) == sorted(FUNCTIONS)
    assert not _of(rendered, *DEPLOYMENT)
    assert len(_of(rendered, "eventing.knative.dev/v1", "Broker")) == 1
    triggers = _of(rendered, "eventing.knative.dev/v1", "Trigger")
    assert {t["spec"]["subscriber"]["ref"]["name"] for t in triggers} <= set(FUNCTIONS)
    assert len(_of(rendered, "gateway.networking.k8s.io/v1", "HTTPRoute")) == 1


def test_standard_holds_one_deployment_and_its_service() -> None:
    rendered = kubectl.kustomize(STANDARD)

    assert not _of(rendered, *KSVC)
    (deployment,) = _of(rendered, *DEPLOYMENT)
    (service,) = _of(rendered, "v1", "Service")
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == "kserve-api"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert container["image"].endswith("/kserve-api:latest")


# -- the apiserver and the real CRDs -----------------------------------------------


@pytest.mark.parametrize("base", sorted(BASES))
def test_kubectl_apply_of_the_base_passes_a_server_side_dry_run(
    control_plane: ControlPlane, admin_api: client.ApiClient, base: str
) -> None:
    rendered = kubectl.kustomize(BASES[base])
    (ns,) = _of(rendered, "v1", "Namespace")
    # A dry-run Namespace is not stored: apply the base's own for real first, so the
    # namespaced objects have a home (kubectl apply of it is what the dry run then patches).
    kubectl.apply(control_plane, [ns])

    dry_run = kubectl.dry_run_apply(control_plane, BASES[base])

    # Deprecated versions, or fields the apiserver dropped, come back as warnings.
    assert "Warning" not in dry_run.stderr, dry_run.stderr
    # Every rendered object was sent and answered, once, where the rendering put it.
    identities = Counter(map(kubectl.identity, dry_run.objects))
    assert identities == Counter(map(kubectl.identity, rendered))
    answers = {kubectl.identity(o): o for o in dry_run.objects}
    for obj in rendered:
        if obj["apiVersion"].split("/")[0] in CRD_GROUPS:
            # Custom resources: no field pruned by the CRD's schema (defaults may be added).
            what = f"{obj['kind']} {obj['metadata']['name']}"
            _assert_kept(obj.get("spec"), answers[kubectl.identity(obj)].get("spec"), what)

    # Dry run: nothing of the base was stored.
    services = client.CustomObjectsApi(admin_api).list_namespaced_custom_object(
        "serving.knative.dev", "v1", NAMESPACE, "services"
    )
    assert isinstance(services, dict)
    assert services["items"] == []


# -- hardening ---------------------------------------------------------------------


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_pod_template_is_hardened(base: str) -> None:
    rendered = kubectl.kustomize(BASES[base])
    accounts = {o["metadata"]["name"] for o in _of(rendered, "v1", "ServiceAccount")}
    templates = _pod_templates(rendered)
    assert templates

    for name, template in templates:
        spec = template["spec"]
        assert spec["serviceAccountName"] == name, "one ServiceAccount per workload, its name"
        assert spec["serviceAccountName"] in accounts
        assert spec.get("automountServiceAccountToken", True), "the function calls the apiserver"
        assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kserve-functions"
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert "privileged" not in context
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert set(resources[bound]) == {"cpu", "memory"}, f"{name} {bound}"
            for probe, path in (
                ("readinessProbe", "/health/readiness"),
                ("livenessProbe", "/health/liveness"),
            ):
                assert container[probe]["httpGet"] == {"path": path, "port": 8080}, name
            assert [p["containerPort"] for p in container["ports"]] == [8080]
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["AUTH_MODE"] == "kubernetes", name
            assert env["LOG_FORMAT"] == "json", f"{name}: one JSON object per log line"
            assert "KUBECONFIG" not in env, "in cluster: the ServiceAccount"
            assert env.get("EVENT_AUTH", "oidc") in {"oidc", "trust-broker"}
            assert int(env["MAX_BODY_BYTES"]) > 0
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts[WRITABLE_TMP]], "a writable /tmp"
            for mount in container["volumeMounts"]:
                if "secret" in volumes[mount["name"]]:
                    assert mount["readOnly"] is True


def test_knative_services_scale_to_zero_and_stay_cluster_local() -> None:
    for ksvc in _of(kubectl.kustomize(K8S), *KSVC):
        annotations = ksvc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["autoscaling.knative.dev/min-scale"] == "0"
        # Public only through the HTTPRoute.
        labels = ksvc["metadata"]["labels"]
        assert labels["networking.knative.dev/visibility"] == "cluster-local"
        (container,) = ksvc["spec"]["template"]["spec"]["containers"]
        assert container["ports"][0]["name"] == "http1"
        name = ksvc["metadata"]["name"]
        component = name.removeprefix("kserve-")
        assert container["image"] == f"registry.example.com/kserve-functions/{component}:latest"


# -- the HTTPRoute -------------------------------------------------------------------


def _matches(match: dict[str, Any], method: str, path: str) -> bool:
    if match.get("method", method) != method:
        return False
    kind, value = match["path"]["type"], match["path"]["value"]
    if kind == "Exact":
        return bool(path == value)
    assert kind == "PathPrefix", kind
    prefix = value.rstrip("/")  # element-wise: /models matches /models and /models/x
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def _route(method: str, path: str) -> str | None:
    """The backend Service the HTTPRoute sends ``method path`` to (Gateway API precedence)."""
    (route,) = _of(kubectl.kustomize(K8S), "gateway.networking.k8s.io/v1", "HTTPRoute")
    candidates = []
    for rule in route["spec"]["rules"]:
        for match in rule["matches"]:
            if _matches(match, method, path):
                exact = match["path"]["type"] == "Exact"
                candidates.append(((exact, len(match["path"]["value"]), "method" in match), rule))
    if not candidates:
        return None
    _, best = max(candidates, key=lambda c: c[0])
    (backend,) = best["backendRefs"]
    name: str = backend["name"]
    return name


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("POST", "/deploy", "kserve-deploy"),
        ("GET", "/models", "kserve-models"),
        ("GET", "/models/team-a/sklearn-iris", "kserve-models"),
        ("GET", "/models/team-a/sklearn-iris/revisions", "kserve-models"),
        ("POST", "/models/team-a/sklearn-iris/rollback", "kserve-deploy"),
        ("POST", "/models/team-a/sklearn-iris/stop", "kserve-deploy"),
        ("POST", "/models/team-a/sklearn-iris/resume", "kserve-deploy"),
        ("DELETE", "/models/team-a/sklearn-iris", "kserve-delete"),
        ("GET", "/health", "kserve-health"),
        # The console: its files, the document its form is built from, the caller's rights.
        ("GET", "/ui", "kserve-ui"),
        ("GET", "/ui/", "kserve-ui"),
        ("GET", "/ui/console.js", "kserve-ui"),
        ("GET", "/openapi.json", "kserve-deploy"),
        ("GET", "/access", "kserve-models"),
        ("POST", "/", "kserve-deploy"),
        ("OPTIONS", "/", "kserve-deploy"),
        # The MCP server: POST only (stateless: no GET stream, no session to DELETE).
        ("POST", "/mcp", "kserve-mcp"),
        ("GET", "/mcp", None),
        ("DELETE", "/mcp", None),
        ("GET", "/deploy", None),
        ("DELETE", "/deploy", None),
        # The model actions' prefix (/models/) matches /models element-wise; the
        # deploy function answers it 404.
        ("POST", "/models", "kserve-deploy"),
        ("PUT", "/models/team-a/sklearn-iris", None),
        ("PATCH", "/models/team-a/sklearn-iris", None),
        ("DELETE", "/health", None),
        ("GET", "/", None),
        ("GET", "/modelsx", None),
        ("GET", "/secrets", None),
        ("POST", "/ui/", None),
        ("GET", "/uix", None),
        ("POST", "/openapi.json", None),
    ],
)
def test_http_route_sends_each_seed_path_and_method_to_its_function(
    method: str, path: str, service: str | None
) -> None:
    assert _route(method, path) == service


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/metrics", "/metrics/"])
def test_http_route_does_not_publish_metrics(method: str, path: str) -> None:
    # Every function serves GET /metrics, open (no token): scraped in-cluster only
    # (k8s/observability/), never through the API's public host.
    assert _route(method, path) is None


def test_the_console_reads_a_document_that_describes_post_deploy() -> None:
    # The console's form is built from the DeployRequest schema of GET /openapi.json
    # (same origin); each function serves its own document, recorded in
    # tests/unit/data/openapi/ (test_openapi_documents.py holds them to the served ones).
    service = _route("GET", "/openapi.json")
    assert service is not None
    recorded = RECORDED_DOCUMENTS / f"{service.removeprefix('kserve-')}.json"
    document = json.loads(recorded.read_text())

    body = document["paths"]["/deploy"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/DeployRequest"}
    assert "DeployRequest" in document["components"]["schemas"]


def test_http_route_backends_are_the_functions_with_knative_host_rewrites() -> None:
    rendered = kubectl.kustomize(K8S)
    (route,) = _of(rendered, "gateway.networking.k8s.io/v1", "HTTPRoute")
    (parent,) = route["spec"]["parentRefs"]
    assert (parent["kind"], parent["name"]) == ("Gateway", "kserve-functions-gateway")
    assert len(route["spec"]["hostnames"]) == 1, "the seed's single host"
    for rule in route["spec"]["rules"]:
        (backend,) = rule["backendRefs"]
        assert backend["name"] in FUNCTIONS
        assert (backend["group"], backend["kind"], backend["port"]) == ("", "Service", 80)
        (rewrite,) = rule["filters"]
        assert rewrite["urlRewrite"] == {"hostname": backend["name"] + HOST_SUFFIX}
        for match in rule["matches"]:
            assert "method" in match, f"rule {rule['name']} matches every method"


# -- the NetworkPolicy and RBAC wiring ------------------------------------------------


@pytest.mark.parametrize(
    ("base", "sources"), [("functions", KNATIVE_SOURCES), ("standard", STANDARD_SOURCES)]
)
def test_network_policy_lets_in_only_the_documented_namespaces(
    base: str, sources: set[str]
) -> None:
    rendered = kubectl.kustomize(BASES[base])
    (policy,) = _of(rendered, "networking.k8s.io/v1", "NetworkPolicy")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    selector = spec["podSelector"]["matchLabels"]
    for name, template in _pod_templates(rendered):
        assert selector.items() <= template["metadata"]["labels"].items(), name
    allowed: set[str] = set()
    for rule in spec["ingress"]:
        assert rule["from"], "a rule without `from` lets everyone in"
        assert rule["ports"], "a rule without `ports` opens every port"
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector"}, peer
            (label, value), *rest = peer["namespaceSelector"]["matchLabels"].items()
            assert not rest
            assert label == "kubernetes.io/metadata.name"
            allowed.add(value)
    assert allowed == sources


@pytest.mark.parametrize("base", sorted(BASES))
def test_bindings_name_service_accounts_of_the_base_in_its_namespace(base: str) -> None:
    rendered = kubectl.kustomize(BASES[base])
    accounts = {o["metadata"]["name"] for o in _of(rendered, "v1", "ServiceAccount")}
    roles = {
        o["metadata"]["name"] for o in _of(rendered, "rbac.authorization.k8s.io/v1", "ClusterRole")
    }
    bound: set[str] = set()
    for binding in _of(rendered, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
        assert binding["roleRef"]["name"] in roles
        for subject in binding["subjects"]:
            # kustomize's namespace transformer leaves these alone: they must say it.
            assert subject == {
                "kind": "ServiceAccount",
                "name": subject["name"],
                "namespace": NAMESPACE,
            }
            assert subject["name"] in accounts
            bound.add(subject["name"])
    # Every account is bound, but the console's: it needs no rights at all.
    assert bound == accounts - {"kserve-ui"}


def _grants(
    objects: list[dict[str, Any]], *, except_of: tuple[str, ...] = ()
) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """Every grant of the ClusterRoles (but those bound only to ``except_of`` accounts)."""
    bound_elsewhere = {
        binding["roleRef"]["name"]
        for binding in _of(objects, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
        if any(subject["name"] not in except_of for subject in binding["subjects"])
    }
    return {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for role in _of(objects, "rbac.authorization.k8s.io/v1", "ClusterRole")
        if not except_of or role["metadata"]["name"] in bound_elsewhere
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_standard_service_account_holds_the_union_of_the_functions_rights() -> None:
    assert _grants(kubectl.kustomize(STANDARD)) == _grants(
        kubectl.kustomize(K8S), except_of=NOT_IN_STANDARD
    )


def test_no_role_grants_wildcards_secrets_or_serving_runtimes() -> None:
    for base in BASES.values():
        for group, resource, verb, _ in _grants(kubectl.kustomize(base)):
            assert "*" not in {group, resource, verb}
            assert resource not in {"secrets", "servingruntimes", "clusterservingruntimes"}
            assert verb not in {"update", "escalate", "bind", "impersonate"}
            # wait=true follows a model and its predictor Deployment; notify's
            # ApiServerSource watches models and their pods; nothing else is watched.
            assert verb != "watch" or resource in {"inferenceservices", "deployments", "pods"}
