"""What the console reads besides the models: ``GET /access`` and a model's ``/manifest``.

``/access`` checks each action with the permissions its route authorizes with
(``auth.permissions``), so the console can enable a button exactly when its
route would be allowed: the tests call each refused action's route with the
same caller and compare the 403's ``detail`` with the refusal's ``reason``.
They run against the real local cluster, through the ASGI interface and over
real HTTP (``api``, ``function_launcher``), with ServiceAccount tokens minted
by the cluster and Roles that scope them (``support.rbac``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.auth import permissions
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.objects import audit
from kubernetes import client
from support.functions import FunctionLauncher
from support.objects import inference_service, inference_service_names, read_inference_service
from support.problems import assert_problem
from support.rbac import grant_inference_services, model_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

RESOURCE = f"{INFERENCE_SERVICE.plural}.{INFERENCE_SERVICE.group}"
READ_VERBS = ("get", "list", "watch")
WRITES = ("deploy", "rollback", "stop", "resume", "promote", "abort", "delete")


def _routes(namespace: str, name: str) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """Each action of ``/access`` that answers at once, as its route is called on
    model ``namespace/name`` (``watch`` streams, so it is left out)."""
    model = f"/models/{namespace}/{name}"
    deploy_body = {"name": name, "image": "r/m:2", "namespace": namespace}
    return {
        "deploy": ("POST", "/deploy", deploy_body),
        "rollback": ("POST", f"{model}/rollback", None),
        "stop": ("POST", f"{model}/stop", None),
        "resume": ("POST", f"{model}/resume", None),
        "promote": ("POST", f"{model}/promote", None),
        "abort": ("POST", f"{model}/abort", None),
        "delete": ("DELETE", model, None),
        "get": ("GET", model, None),
        "list": ("GET", f"/models?namespace={namespace}", None),
        "logs": ("GET", f"{model}/logs", None),
        "events": ("GET", f"{model}/events", None),
        "revisions": ("GET", f"{model}/revisions", None),
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _user(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


Secured = Callable[..., httpx.AsyncClient]


@pytest.fixture
def secured(function_launcher: FunctionLauncher, function_env: dict[str, str]) -> Secured:
    """Start the root function with AUTH_MODE=kubernetes, a 1 s auth cache and ``settings``."""

    def start(**settings: str) -> httpx.AsyncClient:
        env = {**function_env, "AUTH_MODE": "kubernetes", "AUTH_CACHE_TTL_SECONDS": "1"}
        return function_launcher.start("root", {**env, **settings})[0]

    return start


@pytest.fixture
def home(namespace: str) -> str:
    """The namespace of the test's ServiceAccounts, where their Roles grant them models."""
    return namespace


@pytest.fixture
def reader(control_plane: ControlPlane, admin_api: client.ApiClient, home: str) -> str:
    """A token of ServiceAccount ``reader`` in ``home``: get, list and watch models there."""
    return model_token(control_plane, admin_api, home, "reader", READ_VERBS)


@pytest.fixture
def editor(control_plane: ControlPlane, admin_api: client.ApiClient, home: str) -> str:
    """A token of ServiceAccount ``editor`` in ``home``: every verb a model route asks."""
    verbs = ("get", "list", "watch", "create", "patch", "delete")
    return model_token(control_plane, admin_api, home, "editor", verbs)


def _create_model(admin_api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """A model written by the cluster admin, as stored."""
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        INFERENCE_SERVICE.group,
        INFERENCE_SERVICE.version,
        namespace,
        INFERENCE_SERVICE.plural,
        inference_service(namespace, name),
    )
    return read_inference_service(admin_api, namespace, name)


def _unchanged(admin_api: client.ApiClient, before: dict[str, Any]) -> None:
    """Assert the model ``before`` is still there as it was (KServe's status aside)."""
    metadata = before["metadata"]
    after = read_inference_service(admin_api, metadata["namespace"], metadata["name"])
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == metadata["generation"]
    assert after["metadata"].get("annotations") == metadata.get("annotations")
    assert "deletionTimestamp" not in after["metadata"]


# -- GET /access -------------------------------------------------------------------


async def test_without_authentication_every_action_is_allowed(api: Any, namespace: str) -> None:
    models: httpx.AsyncClient = api("models")

    answer = await models.get("/access", params={"namespace": namespace})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["authentication"] == "none"
    assert body.get("user") is None
    # Absent: every namespace (no ALLOWED_NAMESPACES here).
    assert "namespaces" not in body
    assert body["namespace"] == namespace
    assert body["actions"] == {name: {"allowed": True} for name in permissions.BY_ACTION}


async def test_without_a_namespace_access_names_the_caller_and_checks_no_action(
    secured: Secured, home: str, reader: str
) -> None:
    answer = await secured().get("/access", headers=_bearer(reader))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["authentication"], body["user"]) == ("kubernetes", _user(home, "reader"))
    assert body["namespaces"] == [home]
    assert body.get("namespace") is None
    assert body.get("actions", {}) == {}


async def test_a_reader_may_read_and_each_refusal_is_the_routes_own_403(
    secured: Secured, admin_api: client.ApiClient, home: str, reader: str
) -> None:
    before = _create_model(admin_api, home, "x")
    api, auth = secured(), _bearer(reader)

    answer = await api.get("/access", params={"namespace": home}, headers=auth)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    user = _user(home, "reader")
    assert (body["authentication"], body["user"], body["namespace"]) == ("kubernetes", user, home)
    # The only namespace whose models it may list, of all the cluster's.
    assert body["namespaces"] == [home]
    actions = body["actions"]
    assert set(actions) == set(permissions.BY_ACTION)
    allowed = {name for name, action in actions.items() if action["allowed"]}
    assert allowed == {"get", "list", "watch"}
    for name in allowed:
        assert "reason" not in actions[name], name
    reasons = {name: actions[name]["reason"] for name in set(actions) - allowed}
    refused_in_home = f"in namespace {home}"
    assert reasons["deploy"] == f"{user} may not create {RESOURCE} {refused_in_home}"
    assert reasons["stop"] == f"{user} may not patch {RESOURCE} {refused_in_home}"
    assert reasons["delete"] == f"{user} may not delete {RESOURCE} {refused_in_home}"
    assert reasons["logs"] == f"{user} may not get pods/log {refused_in_home}"
    assert reasons["events"] == f"{user} may not list events {refused_in_home}"
    assert reasons["revisions"] == (
        f"{user} may not list controllerrevisions.apps {refused_in_home}"
    )

    # Each route answers as /access said: the refusal's reason is its 403's detail.
    for name, (method, path, body_sent) in _routes(home, "x").items():
        routed = await api.request(method, path, json=body_sent, headers=auth)
        if name in allowed:
            assert routed.status_code == 200, (name, routed.text)
        else:
            assert assert_problem(routed, 403, token=reader)["detail"] == reasons[name], name
    _unchanged(admin_api, before)
    assert inference_service_names(admin_api, home) == ["x"]


async def test_outside_allowed_namespaces_every_action_is_refused_by_the_allowlist(
    secured: Secured,
    admin_api: client.ApiClient,
    make_namespace: Callable[[], str],
    home: str,
    editor: str,
) -> None:
    elsewhere = make_namespace()
    # RBAC would allow the writes in elsewhere; the allowlist does not.
    grant_inference_services(
        admin_api, elsewhere, service_account="editor", service_account_namespace=home
    )
    before = _create_model(admin_api, elsewhere, "x")
    api, auth = secured(ALLOWED_NAMESPACES=home), _bearer(editor)

    there = (await api.get("/access", params={"namespace": elsewhere}, headers=auth)).json()
    here = (await api.get("/access", params={"namespace": home}, headers=auth)).json()

    assert there["namespaces"] == here["namespaces"] == [home]
    reason = f"namespace {elsewhere} is not in ALLOWED_NAMESPACES"
    assert there["actions"] == {
        name: {"allowed": False, "reason": reason} for name in permissions.BY_ACTION
    }
    for name in WRITES:
        method, path, body_sent = _routes(elsewhere, "x")[name]
        routed = await api.request(method, path, json=body_sent, headers=auth)
        assert assert_problem(routed, 403, token=editor)["detail"] == reason, name
    _unchanged(admin_api, before)
    # In the allowed namespace the same caller may write.
    assert {name for name in WRITES if here["actions"][name]["allowed"]} == set(WRITES)


@pytest.mark.parametrize("namespace", ["Team_A", "*", "a" * 64, "-a", ""])
async def test_a_namespace_parameter_that_is_no_namespace_name_is_422(
    api: Any, namespace: str
) -> None:
    answer = await api("models").get("/access", params={"namespace": namespace})

    problem = assert_problem(answer, 422)
    assert [issue["field"] for issue in problem["errors"]] == ["namespace"]


async def test_access_without_a_token_is_401(secured: Secured, home: str) -> None:
    api = secured()
    for params in ({}, {"namespace": home}):
        answer = await api.get("/access", params=params)
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")


# -- the summary's changedBy / changedAt, runtime and deploymentMode -------------------------


async def test_a_model_deployed_through_the_api_names_its_caller_in_the_list(
    secured: Secured, home: str, editor: str
) -> None:
    api, auth = secured(), _bearer(editor)
    started = datetime.datetime.now(datetime.UTC)
    deployed = await api.post(
        "/deploy",
        json={
            "name": "iris",
            "namespace": home,
            "modelFormat": {"name": "sklearn"},
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
            "runtime": "kserve-sklearnserver",
        },
        headers=auth,
    )
    finished = datetime.datetime.now(datetime.UTC)
    assert deployed.status_code == 201, deployed.text

    listed = await api.get("/models", params={"namespace": home}, headers=auth)
    detail = await api.get(f"/models/{home}/iris", headers=auth)

    assert listed.status_code == 200, listed.text
    [model] = listed.json()["models"]
    assert model["changedBy"] == _user(home, "editor")
    changed_at = datetime.datetime.fromisoformat(model["changedAt"])
    # The function shares this machine's clock.
    assert started <= changed_at <= finished
    assert model["runtime"] == "kserve-sklearnserver"
    # The local cluster's default mode, which KServe's webhook recorded on the model.
    assert model["deploymentMode"] == "Standard"
    shown = detail.json()
    assert {k: shown[k] for k in ("changedBy", "changedAt", "runtime", "deploymentMode")} == {
        k: model[k] for k in ("changedBy", "changedAt", "runtime", "deploymentMode")
    }


async def test_a_model_changed_by_no_one_through_the_api_lists_no_changer(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    _create_model(admin_api, namespace, "kubectl-made")

    listed = await api("models").get("/models", params={"namespace": namespace})

    [model] = listed.json()["models"]
    assert "changedBy" not in model
    assert "changedAt" not in model
    stored = read_inference_service(admin_api, namespace, "kubectl-made")
    assert audit.CHANGED_BY not in stored["metadata"].get("annotations", {})


# -- GET /models/{namespace}/{name}/manifest -------------------------------------------


async def test_the_manifest_is_the_inference_service_as_deployed_without_managed_fields(
    api: Any, namespace: str, admin_api: client.ApiClient
) -> None:
    image = "registry.example.com/team/m:v1"
    deployed = await api("root").post(
        "/deploy",
        json={"name": "m", "image": image, "namespace": namespace, "envs": {"A": "1"}},
    )
    assert deployed.status_code == 201, deployed.text
    stored = read_inference_service(admin_api, namespace, "m")

    answer = await api("models").get(f"/models/{namespace}/m/manifest")

    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"manifest"}
    manifest = answer.json()["manifest"]
    assert manifest["apiVersion"] == INFERENCE_SERVICE.api_version
    assert manifest["kind"] == INFERENCE_SERVICE.kind
    assert (manifest["metadata"]["namespace"], manifest["metadata"]["name"]) == (namespace, "m")
    assert manifest["metadata"]["uid"] == stored["metadata"]["uid"]
    # The apiserver keeps managedFields (a server-side apply wrote them); the manifest not.
    assert stored["metadata"]["managedFields"]
    assert "managedFields" not in manifest["metadata"]
    assert manifest["spec"] == stored["spec"]
    [container] = manifest["spec"]["predictor"]["containers"]
    assert (container["image"], container["env"]) == (image, [{"name": "A", "value": "1"}])


async def test_the_manifest_of_a_missing_model_is_404(api: Any, namespace: str) -> None:
    answer = await api("models").get(f"/models/{namespace}/absent/manifest")

    problem = assert_problem(answer, 404)
    assert problem["detail"] == f"model {namespace}/absent not found"


async def test_the_manifest_needs_get_and_is_refused_before_the_model_is_read(
    secured: Secured, control_plane: ControlPlane, admin_api: client.ApiClient, home: str
) -> None:
    lister = model_token(control_plane, admin_api, home, "lister", ("list",))
    _create_model(admin_api, home, "x")
    api, auth = secured(), _bearer(lister)
    access = (await api.get("/access", params={"namespace": home}, headers=auth)).json()
    reason = f"{_user(home, 'lister')} may not get {RESOURCE} in namespace {home}"
    assert access["actions"]["get"] == {"allowed": False, "reason": reason}

    # A model that exists and one that does not: the same 403, nothing learnt.
    for name in ("x", "absent"):
        answer = await api.get(f"/models/{home}/{name}/manifest", headers=auth)
        assert assert_problem(answer, 403, token=lister)["detail"] == reason
