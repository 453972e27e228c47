"""k8s/rbac.yaml (and standard/rbac.yaml) grant each function exactly what it uses.

The ServiceAccounts, ClusterRoles and ClusterRoleBindings are created for real
(the cluster-scoped names get a suffix unique to this module's run; the
ServiceAccounts live in a fresh namespace). Then, as each function's
ServiceAccount (a token minted through TokenRequest, so RBAC applies exactly as
in a cluster): every Kubernetes call the function makes succeeds, performed
against the apiserver; every other verb on InferenceServices, and a table of
things no function may do, is refused with 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.resources import INFERENCE_SERVICE
from kubernetes import client
from support.functions import REPO_ROOT
from support.kustomize import Answer, documents, object_path, send
from support.workloads import wait_for

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = (
    INFERENCE_SERVICE.group,
    INFERENCE_SERVICE.version,
    INFERENCE_SERVICE.plural,
)
CRD = f"{PLURAL}.{GROUP}"
RBAC_FILES = (REPO_ROOT / "k8s" / "rbac.yaml", REPO_ROOT / "k8s" / "standard" / "rbac.yaml")
ISVC_VERBS = ("get", "list", "create", "patch", "update", "delete", "deletecollection", "watch")

# What each account's function does with InferenceServices (lib/src/kserve_functions/kube.py).
ISVC_GRANTS: dict[str, frozenset[str]] = {
    "kserve-deploy": frozenset({"get", "list", "create", "patch"}),
    "kserve-models": frozenset({"get", "list"}),
    "kserve-delete": frozenset({"get", "delete"}),
    "kserve-health": frozenset(),
    "kserve-api": frozenset({"get", "list", "create", "patch", "delete"}),
}
# Who authenticates and authorizes callers (TokenReview + SubjectAccessReview).
REVIEWERS = frozenset({"kserve-deploy", "kserve-models", "kserve-delete", "kserve-api"})
# Who lists namespaces (GET /models?namespace=*).
NAMESPACE_LISTERS = frozenset({"kserve-models", "kserve-api"})
# Who reads a Standard-mode model's predictor Deployment (has it rolled out?).
DEPLOYMENT_READERS = frozenset({"kserve-deploy", "kserve-models", "kserve-api"})
ACCOUNTS = sorted(ISVC_GRANTS)


@dataclass
class Rig:
    """The installed RBAC: where the ServiceAccounts live, where models go, and tokens."""

    control_plane: ControlPlane
    admin: client.ApiClient
    home: str
    target: str
    tokens: dict[str, str] = field(default_factory=dict)

    def as_account(self, account: str) -> client.ApiClient:
        """A client presenting ``account``'s token."""
        return self.control_plane.client_for_token(self.tokens[account])

    def model(self, name: str | None = None) -> str:
        """Create (as admin) a model in the target namespace; return its name."""
        name = name or f"m-{secrets.token_hex(4)}"
        made = send(self.admin, "POST", isvc_path(self.target), body=isvc(self.target, name))
        assert made.status == 201, made.body
        return name


def isvc(namespace: str, name: str, image: str = "kserve/sklearnserver:v1") -> dict[str, Any]:
    """A minimal valid InferenceService."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": image}]}},
    }


def isvc_path(namespace: str | None, name: str | None = None) -> str:
    """The API path of InferenceServices (all namespaces when ``namespace`` is None)."""
    where = f"/namespaces/{namespace}" if namespace else ""
    path = f"/apis/{GROUP}/{VERSION}{where}/{PLURAL}"
    return f"{path}/{name}" if name else path


def _uniquely_named(objects: list[dict[str, Any]], home: str, suffix: str) -> list[dict[str, Any]]:
    """The RBAC objects with cluster-scoped names made unique and subjects moved to ``home``."""
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "ServiceAccount":
            meta["namespace"] = home
            continue
        meta["name"] += suffix
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] += suffix
            for subject in obj["subjects"]:
                subject["namespace"] = home
    return objects


@pytest.fixture(scope="module")
def rig(control_plane: ControlPlane, admin_api: client.ApiClient) -> Rig:
    suffix = f"-{secrets.token_hex(3)}"
    home, target = f"lp-home{suffix}", f"lp-models{suffix}"
    for name in (home, target):
        made = send(admin_api, "POST", "/api/v1/namespaces", body=_namespace(name))
        assert made.status == 201, made.body
    rig = Rig(control_plane, admin_api, home, target)
    objects = [doc for path in RBAC_FILES for doc in documents(path)]
    for obj in _uniquely_named(objects, home, suffix):
        made = send(admin_api, "POST", object_path(obj), body=obj)
        assert made.status == 201, f"{obj['kind']} {obj['metadata']['name']}: {made.body}"
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    assert accounts == set(ACCOUNTS), "every ServiceAccount of the manifests is tested"
    for account in ACCOUNTS:
        rig.tokens[account] = control_plane.mint_service_account_token(home, account)
        _wait_until_bound(admin_api, home, account)
    return rig


def _wait_until_bound(admin_api: client.ApiClient, home: str, account: str) -> None:
    """Until the authorizer sees the account's binding (its informer cache lags under load).

    Every function may read the InferenceService CRD, so that grant shows the
    binding is in effect.
    """
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{home}:{account}",
            "resourceAttributes": {
                "group": "apiextensions.k8s.io",
                "resource": "customresourcedefinitions",
                "name": CRD,
                "verb": "get",
            },
        },
    }
    path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    wait_for(
        lambda: (
            True if send(admin_api, "POST", path, body=review).body["status"]["allowed"] else None
        ),
        timeout=10,
        what=f"the bindings of {account} in effect",
    )


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


# -- InferenceServices: each verb, allowed exactly for the functions that use it ---------


def _isvc_verb(rig: Rig, api: client.ApiClient, verb: str) -> Answer:  # noqa: PLR0911
    ns = rig.target
    if verb == "get":
        return send(api, "GET", isvc_path(ns, rig.model()))
    if verb == "list":
        return send(api, "GET", isvc_path(ns), query=[("limit", "2")])
    if verb == "create":
        return send(api, "POST", isvc_path(ns), body=isvc(ns, f"c-{secrets.token_hex(4)}"))
    if verb == "patch":
        # The rollouts' guarded json-patch (kube.set_container_image).
        image = "/spec/predictor/containers/0/image"
        patch = [
            {"op": "test", "path": image, "value": "kserve/sklearnserver:v1"},
            {"op": "replace", "path": image, "value": "kserve/sklearnserver@sha256:" + "a" * 64},
        ]
        return send(
            api,
            "PATCH",
            isvc_path(ns, rig.model()),
            body=patch,
            content_type="application/json-patch+json",
        )
    if verb == "update":
        name = rig.model()
        current = send(rig.admin, "GET", isvc_path(ns, name)).body
        return send(api, "PUT", isvc_path(ns, name), body=current)
    if verb == "delete":
        return send(api, "DELETE", isvc_path(ns, rig.model()))
    if verb == "deletecollection":
        return send(api, "DELETE", isvc_path(ns))
    assert verb == "watch"
    return send(api, "GET", isvc_path(ns), query=[("watch", "true"), ("timeoutSeconds", "1")])


_SUCCESS = {"get": 200, "list": 200, "create": 201, "patch": 200, "update": 200, "delete": 200}


@pytest.mark.parametrize("verb", ISVC_VERBS)
@pytest.mark.parametrize("account", ACCOUNTS)
def test_inference_service_verbs_are_allowed_exactly_as_the_function_uses_them(
    rig: Rig, account: str, verb: str
) -> None:
    with rig.as_account(account) as api:
        answer = _isvc_verb(rig, api, verb)

    if verb in ISVC_GRANTS[account]:
        assert answer.status == _SUCCESS[verb], answer.body
    else:
        assert answer.status == 403, answer.body
        assert answer.body["reason"] == "Forbidden"


@pytest.mark.parametrize("account", ["kserve-deploy", "kserve-api"])
def test_deploy_applies_creates_then_updates_and_rolls_out_across_namespaces(
    rig: Rig, account: str
) -> None:
    name = f"a-{secrets.token_hex(4)}"
    path = isvc_path(rig.target, name)
    query = [("fieldManager", "kserve-functions"), ("force", "true")]
    apply = "application/apply-patch+yaml"
    with rig.as_account(account) as api:
        dry = send(
            api,
            "PATCH",
            path,
            body=isvc(rig.target, name),
            query=[*query, ("dryRun", "All")],
            content_type=apply,
        )
        created = send(
            api, "PATCH", path, body=isvc(rig.target, name), query=query, content_type=apply
        )
        updated = send(
            api,
            "PATCH",
            path,
            body=isvc(rig.target, name, "kserve/sklearnserver:v2"),
            query=query,
            content_type=apply,
        )
        # The registry rollouts: every opted-in model, in every namespace, one page at a time.
        everywhere = send(
            api, "GET", isvc_path(None), query=[("limit", "2"), ("labelSelector", "a=b")]
        )
        after_wait = send(api, "GET", path)

    assert dry.status == 201, dry.body
    assert created.status == 201, created.body
    assert updated.status == 200, updated.body
    assert everywhere.status == 200, everywhere.body
    assert (
        after_wait.body["spec"]["predictor"]["containers"][0]["image"] == "kserve/sklearnserver:v2"
    )


@pytest.mark.parametrize("account", ["kserve-models", "kserve-api"])
def test_models_lists_across_namespaces(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        everywhere = send(api, "GET", isvc_path(None), query=[("limit", "500")])

    assert everywhere.status == 200, everywhere.body
    assert name in {item["metadata"]["name"] for item in everywhere.body["items"]}


@pytest.mark.parametrize("account", ["kserve-delete", "kserve-api"])
def test_delete_deletes_for_real(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        deleted = send(api, "DELETE", isvc_path(rig.target, name))
        gone = send(api, "GET", isvc_path(rig.target, name))

    assert deleted.status == 200, deleted.body
    assert gone.status == 404


@pytest.mark.parametrize("account", ["kserve-models", "kserve-deploy", "kserve-health"])
def test_a_refused_delete_leaves_the_model(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        refused = send(api, "DELETE", isvc_path(rig.target, name))

    assert refused.status == 403
    assert send(rig.admin, "GET", isvc_path(rig.target, name)).status == 200


# -- the other calls the functions make ----------------------------------------------


def _token_review(rig: Rig, api: client.ApiClient) -> Answer:
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": rig.tokens["kserve-health"]},
    }
    return send(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=review)


def _subject_access_review(rig: Rig, api: client.ApiClient) -> Answer:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{rig.home}:kserve-health",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{rig.home}"],
            "resourceAttributes": {
                "group": GROUP,
                "resource": PLURAL,
                "verb": "delete",
                "namespace": rig.target,
            },
        },
    }
    return send(api, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)


def _self_subject_access_review(rig: Rig, api: client.ApiClient) -> Answer:
    del rig
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"group": GROUP, "resource": PLURAL, "verb": "get"}},
    }
    return send(api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)


def _read_isvc_crd(rig: Rig, api: client.ApiClient) -> Answer:
    del rig
    return send(api, "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}")


def _list_namespaces(rig: Rig, api: client.ApiClient) -> Answer:
    del rig
    return send(api, "GET", "/api/v1/namespaces", query=[("limit", "2")])


def _read_predictor_deployment(rig: Rig, api: client.ApiClient) -> Answer:
    # KServe made it for a model of the target namespace (kube.predictor_deployment).
    name = rig.model()
    path = f"/apis/apps/v1/namespaces/{rig.target}/deployments/{name}-predictor"
    wait_for(
        lambda: True if send(rig.admin, "GET", path).status == 200 else None,
        what=f"KServe's Deployment {name}-predictor",
    )
    return send(api, "GET", path)


def _server_version(rig: Rig, api: client.ApiClient) -> Answer:
    del rig
    return send(api, "GET", "/version")


Call = Callable[[Rig, client.ApiClient], Answer]
# call → (expected success status, the accounts that make it).
CALLS: dict[str, tuple[Call, int, frozenset[str]]] = {
    "tokenreviews-create": (_token_review, 201, REVIEWERS),
    "subjectaccessreviews-create": (_subject_access_review, 201, REVIEWERS),
    "namespaces-list": (_list_namespaces, 200, NAMESPACE_LISTERS),
    "predictor-deployment-get": (_read_predictor_deployment, 200, DEPLOYMENT_READERS),
    "inferenceservice-crd-get": (_read_isvc_crd, 200, frozenset(ACCOUNTS)),
    "selfsubjectaccessreviews-create": (_self_subject_access_review, 201, frozenset(ACCOUNTS)),
    "version": (_server_version, 200, frozenset(ACCOUNTS)),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("account", ACCOUNTS)
def test_cluster_calls_are_allowed_exactly_to_the_functions_that_make_them(
    rig: Rig, account: str, call: str
) -> None:
    perform, success, callers = CALLS[call]
    with rig.as_account(account) as api:
        answer = perform(rig, api)

    assert answer.status == (success if account in callers else 403), answer.body


def test_token_review_answers_the_callers_identity(rig: Rig) -> None:
    with rig.as_account("kserve-models") as api:
        answer = _token_review(rig, api)

    assert answer.body["status"]["authenticated"] is True
    assert answer.body["status"]["user"]["username"] == (
        f"system:serviceaccount:{rig.home}:kserve-health"
    )


# -- what no function may do ------------------------------------------------------------


def _forbidden(method: str, path: str, body: object = None, **options: Any) -> Call:
    def call(rig: Rig, api: client.ApiClient) -> Answer:
        return send(
            api, method, path.format(home=rig.home, target=rig.target), body=body, **options
        )

    return call


_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}
_ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "grab"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
    "subjects": [{"kind": "User", "name": "me"}],
}
FORBIDDEN: dict[str, Call] = {
    "secrets-get-own-namespace": _forbidden("GET", "/api/v1/namespaces/{home}/secrets/x"),
    "secrets-list-own-namespace": _forbidden("GET", "/api/v1/namespaces/{home}/secrets"),
    "secrets-list-kube-system": _forbidden("GET", "/api/v1/namespaces/kube-system/secrets"),
    "secrets-list-everywhere": _forbidden("GET", "/api/v1/secrets"),
    "configmaps-list": _forbidden("GET", "/api/v1/namespaces/{target}/configmaps"),
    "pods-create": _forbidden("POST", "/api/v1/namespaces/{target}/pods", _POD),
    "pods-list": _forbidden("GET", "/api/v1/namespaces/{target}/pods"),
    "deployments-list": _forbidden("GET", "/apis/apps/v1/namespaces/{target}/deployments"),
    "deployments-patch": _forbidden(
        "PATCH",
        "/apis/apps/v1/namespaces/{target}/deployments/x",
        {"spec": {"replicas": 0}},
        content_type="application/merge-patch+json",
    ),
    "serviceaccounts-token-create": _forbidden(
        "POST",
        "/api/v1/namespaces/{home}/serviceaccounts/kserve-api/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    ),
    "namespaces-get": _forbidden("GET", "/api/v1/namespaces/{target}"),
    "namespaces-create": _forbidden("POST", "/api/v1/namespaces", _namespace("grabbed")),
    "clusterroles-patch": _forbidden(
        "PATCH",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    ),
    "clusterroles-list": _forbidden("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
    "rolebindings-create": _forbidden(
        "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/{target}/rolebindings", _ROLE_BINDING
    ),
    "other-crd-get": _forbidden(
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servingruntimes.serving.kserve.io",
    ),
    "crds-list": _forbidden("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
    "isvc-crd-patch": _forbidden(
        "PATCH",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    ),
    "servingruntimes-list": _forbidden(
        "GET", f"/apis/{GROUP}/v1alpha1/namespaces/{{target}}/servingruntimes"
    ),
    "clusterservingruntimes-list": _forbidden(
        "GET", f"/apis/{GROUP}/v1alpha1/clusterservingruntimes"
    ),
    "knative-services-list": _forbidden(
        "GET", "/apis/serving.knative.dev/v1/namespaces/{home}/services"
    ),
    "impersonate-admin": _forbidden(
        "GET",
        "/api/v1/namespaces/kube-system/secrets",
        headers={"Impersonate-User": "admin", "Impersonate-Group": "system:masters"},
    ),
}


@pytest.mark.parametrize("forbidden", sorted(FORBIDDEN))
@pytest.mark.parametrize("account", ACCOUNTS)
def test_nothing_else_is_allowed(rig: Rig, account: str, forbidden: str) -> None:
    with rig.as_account(account) as api:
        answer = FORBIDDEN[forbidden](rig, api)

    assert answer.status == 403, answer.body
    assert answer.body["reason"] == "Forbidden"
