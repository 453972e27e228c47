"""k8s/rbac.yaml (and standard/rbac.yaml) grant each function exactly what it uses.

The ServiceAccounts, ClusterRoles and ClusterRoleBindings are created for real
(the cluster-scoped names get a suffix unique to this module's run; the
ServiceAccounts live in a fresh namespace). Then, as each function's
ServiceAccount (a token minted through TokenRequest, so RBAC applies exactly as
in a cluster), the very requests the functions build (``kube.requests``) are
replayed against the apiserver: each succeeds for the functions that make it
and is refused with 403 for the others; every other verb on InferenceServices,
and a table of things no function may do, is refused with 403.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import (
    INFERENCE_SERVICE,
    MODEL_LABEL,
    POD,
    REPORTED_STATE_ANNOTATION,
    ApiResource,
)
from kserve_functions.kube import KubeRequest, requests
from kserve_functions.objects import audit, history
from kubernetes import client
from support.apiserver import Answer, send
from support.functions import REPO_ROOT
from support.objects import DEFAULT_IMAGE, documents, inference_service
from support.workloads import wait_for

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = (
    INFERENCE_SERVICE.group,
    INFERENCE_SERVICE.version,
    INFERENCE_SERVICE.plural,
)
CRD = f"{PLURAL}.{GROUP}"
RBAC_FILES = (
    REPO_ROOT / "k8s" / "rbac.yaml",
    REPO_ROOT / "k8s" / "standard" / "rbac.yaml",
    # The identity of notify's feed, the ApiServerSource's adapter.
    REPO_ROOT / "k8s" / "eventing" / "rbac.yaml",
)
ISVC_VERBS = ("get", "list", "create", "patch", "update", "delete", "deletecollection", "watch")
UPDATED_IMAGE = "kserve/sklearnserver:v2"

# What each account's function does with InferenceServices (lib/src/kserve_functions/kube/).
ISVC_GRANTS: dict[str, frozenset[str]] = {
    "kserve-deploy": frozenset({"get", "list", "watch", "create", "patch"}),
    "kserve-models": frozenset({"get", "list", "watch"}),
    "kserve-delete": frozenset({"get", "watch", "delete"}),
    "kserve-health": frozenset(),
    # The web console's files: the browser calls the API with the user's own token.
    "kserve-ui": frozenset(),
    "kserve-api": frozenset({"get", "list", "watch", "create", "patch", "delete"}),
    # The MCP server: its tools are deploy's, models' and delete's routes.
    "kserve-mcp": frozenset({"get", "list", "watch", "create", "patch", "delete"}),
    # get: the model read afresh; patch: the record of the status event sent.
    "kserve-notify": frozenset({"get", "patch"}),
    # Knative's ApiServerSource adapter: a reflector (list, watch) per resource.
    "kserve-notify-source": frozenset({"get", "list", "watch"}),
}
# Bound to no role at all: the console's files need no rights, nor does its /health.
UNBOUND = frozenset({"kserve-ui"})
# Who authenticates and authorizes callers (TokenReview + SubjectAccessReview).
REVIEWERS = frozenset(
    {"kserve-deploy", "kserve-models", "kserve-delete", "kserve-api", "kserve-mcp", "kserve-notify"}
)
# Who lists namespaces (GET /models?namespace=*).
NAMESPACE_LISTERS = frozenset({"kserve-models", "kserve-api", "kserve-mcp"})
# Who reads a Standard-mode model's predictor Deployment (has it rolled out?).
DEPLOYMENT_READERS = frozenset(
    {"kserve-deploy", "kserve-models", "kserve-api", "kserve-mcp", "kserve-notify"}
)
# Who reads the predictor's logs and a model's Events (GET …/logs, …/events).
DIAGNOSTICS_READERS = frozenset({"kserve-models", "kserve-api", "kserve-mcp"})
# Who records the audit Event of a change it makes.
EVENT_RECORDERS = frozenset(
    {"kserve-deploy", "kserve-delete", "kserve-api", "kserve-mcp", "kserve-notify"}
)
# Who reads a model's pods (why it cannot start).
POD_LISTERS = frozenset(
    {"kserve-models", "kserve-api", "kserve-mcp", "kserve-notify", "kserve-notify-source"}
)
# Who gets and watches the models' pods (notify's ApiServerSource).
POD_WATCHERS = frozenset({"kserve-notify-source"})
# Who may JSON-patch a model (notify's record): every account with patch.
PATCHERS = frozenset(account for account, verbs in ISVC_GRANTS.items() if "patch" in verbs)
# Who follows a predictor Deployment's roll-out (deploy's wait=true).
DEPLOYMENT_WATCHERS = frozenset({"kserve-deploy", "kserve-api", "kserve-mcp"})
# Who dry-runs a create for /health (the functions that create models).
ADMISSION_PROBERS = frozenset({"kserve-deploy", "kserve-api", "kserve-mcp"})
# Who writes a model's history (a revision per change, the oldest pruned).
HISTORY_WRITERS = frozenset({"kserve-deploy", "kserve-api", "kserve-mcp"})
# Who lists a model's history (numbering and rollback; GET …/revisions).
HISTORY_READERS = frozenset({"kserve-deploy", "kserve-models", "kserve-api", "kserve-mcp"})
ACCOUNTS = sorted(ISVC_GRANTS)
# The functions (every account but the ApiServerSource's) read the InferenceService
# CRD for GET /health.
FUNCTIONS = frozenset(ACCOUNTS) - {"kserve-notify-source"}

# The kinds of the RBAC manifests, addressed like the library addresses its own.
KINDS: dict[str, ApiResource] = {
    "ServiceAccount": ApiResource("", "v1", "serviceaccounts", "ServiceAccount"),
    "ClusterRole": ApiResource(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False
    ),
    "ClusterRoleBinding": ApiResource(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
}
NAMESPACES = ApiResource("", "v1", "namespaces", "Namespace", namespaced=False)


def create(obj: dict[str, Any], resource: ApiResource) -> KubeRequest:
    """A plain create of ``obj`` (how the test sets up; no function creates this way)."""
    namespace = obj["metadata"].get("namespace")
    path = requests.resource_path(resource, namespace)
    return KubeRequest("POST", path, f"{obj['kind']} {obj['metadata']['name']}", body=obj)


def raw(
    method: str, path: str, body: object = None, content_type: str = "application/json"
) -> KubeRequest:
    """A request no function makes: the refusals this test expects."""
    return KubeRequest(method, path, f"{method} {path}", body=body, content_type=content_type)


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
        made = send(self.admin, create(inference_service(self.target, name), INFERENCE_SERVICE))
        assert made.status == 201, made.body
        return name


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
        made = send(admin_api, create(_namespace(name), NAMESPACES))
        assert made.status == 201, made.body
    rig = Rig(control_plane, admin_api, home, target)
    objects = [doc for path in RBAC_FILES for doc in documents(path)]
    for obj in _uniquely_named(objects, home, suffix):
        assert obj["kind"] in KINDS, f"unknown kind {obj['kind']}: add it to KINDS"
        made = send(admin_api, create(obj, KINDS[obj["kind"]]))
        assert made.status == 201, f"{obj['kind']} {obj['metadata']['name']}: {made.body}"
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    assert accounts == set(ACCOUNTS), "every ServiceAccount of the manifests is tested"
    for account in ACCOUNTS:
        rig.tokens[account] = control_plane.mint_service_account_token(home, account)
        if account not in UNBOUND:
            _wait_until_bound(admin_api, home, account)
    return rig


def _wait_until_bound(admin_api: client.ApiClient, home: str, account: str) -> None:
    """Until the authorizer sees the account's binding (its informer cache lags under load).

    Every function bound to a role may read the InferenceService CRD, so that
    grant shows the binding is in effect; the ApiServerSource's identity may
    watch models. The accounts of ``UNBOUND`` have no binding to wait for.
    """
    attributes = (
        {"group": "apiextensions.k8s.io", "resource": "customresourcedefinitions", "name": CRD}
        if account in FUNCTIONS
        else {"group": GROUP, "resource": PLURAL}
    )
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{home}:{account}",
            "resourceAttributes": {**attributes, "verb": "get"},
        },
    }
    request = raw("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    wait_for(
        lambda: True if send(admin_api, request).body["status"]["allowed"] else None,
        timeout=10,
        what=f"the bindings of {account} in effect",
    )


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _resource_version(rig: Rig, name: str) -> str:
    stored = send(rig.admin, requests.get_model(rig.target, name)).body
    return str(stored["metadata"]["resourceVersion"])


# -- InferenceServices: each verb, allowed exactly for the functions that use it ---------


def _isvc_request(rig: Rig, verb: str) -> KubeRequest:  # noqa: PLR0911 - one per verb
    ns = rig.target
    if verb == "get":
        return requests.get_model(ns, rig.model())
    if verb == "list":
        return requests.list_models(ns, label_selector=None, limit=2, continue_token=None)
    if verb == "create":
        # No function creates with POST (deploys apply); this is the RBAC verb itself.
        body = inference_service(ns, f"c-{secrets.token_hex(4)}")
        return create(body, INFERENCE_SERVICE)
    if verb == "patch":
        # The rollouts' guarded json-patch.
        return requests.replace_container_image(
            ns, rig.model(), index=0, expected=DEFAULT_IMAGE, image=UPDATED_IMAGE
        )
    if verb == "update":
        name = rig.model()
        current = send(rig.admin, requests.get_model(ns, name)).body
        return raw("PUT", requests.resource_path(INFERENCE_SERVICE, ns, name), current)
    if verb == "delete":
        return requests.delete_model(ns, rig.model())
    if verb == "deletecollection":
        return raw("DELETE", requests.resource_path(INFERENCE_SERVICE, ns))
    assert verb == "watch"
    # wait=true's watch of one model, from its resourceVersion.
    name = rig.model()
    return requests.watch_models(
        ns, resource_version=_resource_version(rig, name), timeout_seconds=1, name=name
    )


_SUCCESS = {
    "get": 200,
    "list": 200,
    "create": 201,
    "patch": 200,
    "update": 200,
    "delete": 200,
    "watch": 200,
}


@pytest.mark.parametrize("verb", ISVC_VERBS)
@pytest.mark.parametrize("account", ACCOUNTS)
def test_inference_service_verbs_are_allowed_exactly_as_the_function_uses_them(
    rig: Rig, account: str, verb: str
) -> None:
    request = _isvc_request(rig, verb)
    with rig.as_account(account) as api:
        answer = send(api, request)

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
    first, second = (
        inference_service(rig.target, name),
        inference_service(rig.target, name, UPDATED_IMAGE),
    )
    with rig.as_account(account) as api:
        dry = send(api, requests.apply_model(first, dry_run=True))
        created = send(api, requests.apply_model(first, dry_run=False))
        updated = send(api, requests.apply_model(second, dry_run=False))
        # The registry rollouts: every opted-in model, in every namespace, one page at a time.
        everywhere = send(
            api, requests.list_models(None, label_selector="a=b", limit=2, continue_token=None)
        )
        after_wait = send(api, requests.get_model(rig.target, name))

    assert dry.status == 201, dry.body
    assert created.status == 201, created.body
    assert updated.status == 200, updated.body
    assert everywhere.status == 200, everywhere.body
    assert after_wait.body["spec"]["predictor"]["containers"][0]["image"] == UPDATED_IMAGE


@pytest.mark.parametrize("account", ["kserve-models", "kserve-api"])
def test_models_lists_across_namespaces(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        everywhere = send(
            api, requests.list_models(None, label_selector=None, limit=500, continue_token=None)
        )

    assert everywhere.status == 200, everywhere.body
    assert name in {item["metadata"]["name"] for item in everywhere.body["items"]}


@pytest.mark.parametrize("account", ["kserve-delete", "kserve-api"])
def test_delete_deletes_for_real(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        deleted = send(api, requests.delete_model(rig.target, name))
        gone = wait_for(
            lambda: send(api, requests.get_model(rig.target, name)).status == 404 or None,
            what=f"model {name} gone (KServe's finalizer ran)",
        )

    assert deleted.status == 200, deleted.body
    assert gone


@pytest.mark.parametrize(
    "account", ["kserve-models", "kserve-deploy", "kserve-health", "kserve-ui"]
)
def test_a_refused_delete_leaves_the_model(rig: Rig, account: str) -> None:
    name = rig.model()
    with rig.as_account(account) as api:
        refused = send(api, requests.delete_model(rig.target, name))

    assert refused.status == 403
    assert send(rig.admin, requests.get_model(rig.target, name)).status == 200


# -- the other calls the functions make ----------------------------------------------


def _token_review(rig: Rig) -> KubeRequest:
    return requests.token_review(rig.tokens["kserve-health"], None)


def _subject_access_review(rig: Rig) -> KubeRequest:
    return requests.access_review(
        user=f"system:serviceaccount:{rig.home}:kserve-health",
        uid="",
        groups=("system:serviceaccounts", f"system:serviceaccounts:{rig.home}"),
        extra={},
        verb="delete",
        namespace=rig.target,
    )


def _predictor_deployment(rig: Rig) -> KubeRequest:
    # KServe makes it for a model of the target namespace.
    request = requests.get_predictor_deployment(rig.target, rig.model())
    wait_for(
        lambda: True if send(rig.admin, request).status == 200 else None,
        what=f"KServe's {request.what}",
    )
    return request


def _predictor_deployment_watch(rig: Rig) -> KubeRequest:
    read = send(rig.admin, _predictor_deployment(rig))
    metadata = read.body["metadata"]
    model = metadata["name"].removesuffix("-predictor")
    return requests.watch_predictor_deployment(
        rig.target, model, resource_version=metadata["resourceVersion"], timeout_seconds=1
    )


def _pod_log(rig: Rig) -> KubeRequest:
    """The log of a running predictor pod (kwok serves it, empty)."""
    name = rig.model()
    pods = requests.list_model_pods(rig.target, name, limit=5)

    def running() -> str | None:
        for pod in send(rig.admin, pods).body["items"]:
            if pod["status"].get("phase") == "Running":
                return str(pod["metadata"]["name"])
        return None

    pod = wait_for(running, what=f"a running pod of model {name}")
    return requests.pod_log(rig.target, pod, container="kserve-container", tail_lines=10)


def _audit_event(rig: Rig) -> KubeRequest:
    name = rig.model()
    stored = send(rig.admin, requests.get_model(rig.target, name)).body
    actor = audit.Actor(by="someone", how="POST /deploy")
    at = datetime.datetime.now(datetime.UTC)
    event = audit.event(
        stored, reason=audit.UPDATED, note="model updated", actor=actor, at=at, reporter="test"
    )
    return requests.create_event(event)


def _model_pod(rig: Rig) -> dict[str, Any]:
    """A pod KServe made for a model of the target namespace."""
    name = rig.model()
    listing = requests.list_model_pods(rig.target, name, limit=1)
    pods = wait_for(
        lambda: send(rig.admin, listing).body.get("items") or None,
        what=f"a pod of model {rig.target}/{name}",
    )
    pod: dict[str, Any] = pods[0]
    return pod


def _pods_watch(rig: Rig) -> KubeRequest:
    # The ApiServerSource's reflector: the models' pods, by KServe's label.
    listed = send(rig.admin, requests.list_model_pods(rig.target, "any", limit=1))
    return requests.watch_objects(
        POD,
        rig.target,
        resource_version=listed.body["metadata"]["resourceVersion"],
        timeout_seconds=1,
        label_selector=MODEL_LABEL,
        what="a watch of the models' pods",
    )


def _pod_get(rig: Rig) -> KubeRequest:
    metadata = _model_pod(rig)["metadata"]
    path = requests.resource_path(POD, rig.target, metadata["name"])
    return KubeRequest("GET", path, f"pod {metadata['name']}")


def _reported_state_record(rig: Rig) -> KubeRequest:
    # notify's compare-and-swap of its record, at the model's current resourceVersion:
    # read once KServe is done with the model, so nothing changes it before the replay.
    read = requests.get_model(rig.target, rig.model())

    def settled() -> dict[str, Any] | None:
        stored = send(rig.admin, read).body
        conditions = stored.get("status", {}).get("conditions", [])
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return stored if ready else None

    stored = wait_for(settled, what=f"KServe's Ready on {read.what}")
    return requests.annotate_model_if_unchanged(
        rig.target,
        stored["metadata"]["name"],
        resource_version=stored["metadata"]["resourceVersion"],
        key=REPORTED_STATE_ANNOTATION,
        value="ready",
        annotations_present=bool(stored["metadata"].get("annotations")),
    )


def _revision_of_a_model(rig: Rig) -> dict[str, Any]:
    """A ControllerRevision recording a deploy of a new model (``history.revision``)."""
    stored = send(rig.admin, requests.get_model(rig.target, rig.model())).body
    change = history.Change(action="deploy", request={"name": stored["metadata"]["name"]})
    return history.revision(
        stored,
        revision_number=1,
        recorded=history.data(change, []),
        actor=audit.Actor(by="someone", how="POST /deploy"),
        at=datetime.datetime.now(datetime.UTC),
    )


def _revision_delete(rig: Rig) -> KubeRequest:
    """Pruning: the deletion of a revision the admin recorded."""
    revision = _revision_of_a_model(rig)
    made = send(rig.admin, requests.create_revision(revision))
    assert made.status == 201, made.body
    return requests.delete_revision(rig.target, revision["metadata"]["name"])


def _revisions_prune(rig: Rig) -> KubeRequest:
    """Pruning at once: the deletecollection of revisions the admin recorded, by number."""
    revision = _revision_of_a_model(rig)
    made = send(rig.admin, requests.create_revision(revision))
    assert made.status == 201, made.body
    [owner] = revision["metadata"]["ownerReferences"]
    return requests.delete_revisions(rig.target, owner["name"], [history.number(revision)])


def _model_stop(rig: Rig) -> KubeRequest:
    """POST …/stop's merge patch of KServe's stop annotation."""
    return requests.set_model_stopped(rig.target, rig.model(), stopped=True, annotations={})


def _canary_guarded_patch(rig: Rig) -> KubeRequest:
    # promote's and abort's patch, guarded by the generation read (here with no
    # operation besides the guard, so it changes nothing whoever sends it).
    stored = send(rig.admin, requests.get_model(rig.target, rig.model())).body
    return requests.patch_model_if_unchanged(
        rig.target,
        stored["metadata"]["name"],
        generation=stored["metadata"]["generation"],
        operations=[],
    )


Build = Callable[[Rig], KubeRequest]
# call → (its request, expected success status, the accounts that make it).
CALLS: dict[str, tuple[Build, int, frozenset[str]]] = {
    "tokenreviews-create": (_token_review, 201, REVIEWERS),
    "subjectaccessreviews-create": (_subject_access_review, 201, REVIEWERS),
    "namespaces-list": (
        lambda _: requests.list_namespaces(limit=2, continue_token=None),
        200,
        NAMESPACE_LISTERS,
    ),
    "predictor-deployment-get": (_predictor_deployment, 200, DEPLOYMENT_READERS),
    "predictor-deployment-watch": (_predictor_deployment_watch, 200, DEPLOYMENT_WATCHERS),
    "audit-event-create": (_audit_event, 201, EVENT_RECORDERS),
    "pod-log-get": (_pod_log, 200, DIAGNOSTICS_READERS),
    "events-list": (
        lambda rig: requests.list_events(rig.target, limit=5, continue_token=None),
        200,
        DIAGNOSTICS_READERS,
    ),
    "model-pods-list": (
        lambda rig: requests.list_model_pods(rig.target, "any", limit=5),
        200,
        POD_LISTERS,
    ),
    "admission-probe": (lambda rig: requests.admission_probe(rig.target), 201, ADMISSION_PROBERS),
    "model-pods-watch": (_pods_watch, 200, POD_WATCHERS),
    "model-pod-get": (_pod_get, 200, POD_WATCHERS),
    "reported-state-record": (_reported_state_record, 200, PATCHERS),
    "canary-guarded-patch": (_canary_guarded_patch, 200, PATCHERS),
    "inferenceservice-crd-get": (lambda _: requests.get_model_crd(), 200, FUNCTIONS - UNBOUND),
    "selfsubjectaccessreviews-create": (
        lambda _: requests.self_access_review("get"),
        201,
        frozenset(ACCOUNTS),
    ),
    "version": (lambda _: requests.get_version(), 200, frozenset(ACCOUNTS)),
    "revision-create": (
        lambda rig: requests.create_revision(_revision_of_a_model(rig)),
        201,
        HISTORY_WRITERS,
    ),
    "revisions-list": (
        lambda rig: requests.list_revisions(rig.target, "any", limit=5),
        200,
        HISTORY_READERS,
    ),
    "revision-delete": (_revision_delete, 200, HISTORY_WRITERS),
    "revisions-prune": (_revisions_prune, 200, HISTORY_WRITERS),
    "model-stop": (_model_stop, 200, PATCHERS),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("account", ACCOUNTS)
def test_cluster_calls_are_allowed_exactly_to_the_functions_that_make_them(
    rig: Rig, account: str, call: str
) -> None:
    build, success, callers = CALLS[call]
    request = build(rig)
    with rig.as_account(account) as api:
        answer = send(api, request)

    assert answer.status == (success if account in callers else 403), answer.body


def test_token_review_answers_the_callers_identity(rig: Rig) -> None:
    with rig.as_account("kserve-models") as api:
        answer = send(api, _token_review(rig))

    assert answer.body["status"]["authenticated"] is True
    assert answer.body["status"]["user"]["username"] == (
        f"system:serviceaccount:{rig.home}:kserve-health"
    )


# -- what no function may do ------------------------------------------------------------


Call = Callable[[Rig, client.ApiClient], Answer]


def _forbidden(
    method: str,
    path: str,
    body: object = None,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Call:
    def call(rig: Rig, api: client.ApiClient) -> Answer:
        where = path.format(home=rig.home, target=rig.target)
        return send(api, raw(method, where, body, content_type), headers=headers)

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
