"""Caller authentication and authorization with AUTH_MODE=kubernetes (DESIGN §6).

Functions start with ``AUTH_MODE=kubernetes`` and a 1 s auth cache, are called
through their ASGI interface and over real HTTP, with ServiceAccount tokens
minted by the real control plane and RBAC Roles that scope them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event, to_binary_event
from cloudevents.core.v1.event import CloudEvent
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.functions import delete, deploy, models
from kserve_functions.kube import KubeRequest
from kserve_functions.objects import history
from kubernetes import client
from support.apiserver import send
from support.functions import FunctionLauncher
from support.objects import inference_service, inference_service_names, read_inference_service
from support.problems import assert_problem
from support.rbac import create_service_account, grant_inference_services

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

GROUP, PLURAL = INFERENCE_SERVICE.group, INFERENCE_SERVICE.plural
RESOURCE = f"{PLURAL}.{GROUP}"
SECRET = "registry-shared-secret-0123456789"
DIGEST = "sha256:" + "ab" * 32


@dataclass
class Secured:
    """A function started with AUTH_MODE=kubernetes, and its log so far."""

    client: httpx.AsyncClient
    log: Callable[[], str]


Launch = Callable[..., Secured]


@pytest.fixture
def secured(
    function_launcher: FunctionLauncher,
    function_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> Launch:
    """Start a function with AUTH_MODE=kubernetes, a 1 s auth cache and extra settings."""
    caplog.set_level(logging.DEBUG)

    def start(name: str, **settings: str) -> Secured:
        env = {
            **function_env,
            "AUTH_MODE": "kubernetes",
            "AUTH_CACHE_TTL_SECONDS": "1",
            **settings,
        }
        made, served = function_launcher.start(name, env)
        return Secured(made, served.log if served is not None else (lambda: caplog.text))

    return start


# -- RBAC helpers ----------------------------------------------------------------


@pytest.fixture
def home(make_namespace: Callable[[], str]) -> str:
    return make_namespace()


@pytest.fixture
def elsewhere(make_namespace: Callable[[], str]) -> str:
    return make_namespace()


@pytest.fixture
def token(control_plane: ControlPlane, admin_api: client.ApiClient, home: str) -> str:
    """A token of ServiceAccount ``alice`` in ``home``, allowed to manage models there only."""
    create_service_account(admin_api, home, "alice")
    grant_inference_services(
        admin_api, home, service_account="alice", service_account_namespace=home
    )
    return control_plane.mint_service_account_token(home, "alice")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_problem(answer: httpx.Response, status: int, token: str | None = None) -> str:
    detail: str = assert_problem(answer, status, token=token)["detail"]
    return detail


def _assert_no_token(log: str, *tokens: str) -> None:
    for secret in tokens:
        assert secret not in log
        assert secret[:24] not in log
        assert secret[-24:] not in log


# -- tests -----------------------------------------------------------------------


async def test_a_namespace_scoped_token_works_there_and_is_403_elsewhere(
    secured: Launch, admin_api: client.ApiClient, home: str, elsewhere: str, token: str
) -> None:
    function = secured("root")
    api, auth = function.client, _bearer(token)

    deployed = await api.post(
        "/deploy", json={"name": "m", "image": "r/m:1", "namespace": home}, headers=auth
    )
    assert deployed.status_code == 201, deployed.text
    listed = await api.get("/models", params={"namespace": home}, headers=auth)
    assert listed.status_code == 200
    assert [m["name"] for m in listed.json()["models"]] == ["m"]
    assert (await api.get(f"/models/{home}/m", headers=auth)).status_code == 200

    refused = await api.post(
        "/deploy", json={"name": "m", "image": "r/m:1", "namespace": elsewhere}, headers=auth
    )
    detail = _assert_problem(refused, 403, token)
    assert "create" in detail
    assert RESOURCE in detail
    assert elsewhere in detail
    assert inference_service_names(admin_api, elsewhere) == []
    listing = await api.get("/models", params={"namespace": elsewhere}, headers=auth)
    assert "list" in _assert_problem(listing, 403, token)
    _assert_problem(await api.get(f"/models/{elsewhere}/m", headers=auth), 403, token)
    _assert_problem(await api.delete(f"/models/{elsewhere}/m", headers=auth), 403, token)

    deleted = await api.delete(f"/models/{home}/m", params={"wait": "true"}, headers=auth)
    assert deleted.status_code == 200
    assert inference_service_names(admin_api, home) == []
    _assert_no_token(function.log(), token)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a.b.c"],
)
async def test_no_token_or_a_rejected_token_is_401(
    secured: Launch, admin_api: client.ApiClient, home: str, header: str | None
) -> None:
    api = secured("root").client
    headers = {"Authorization": header} if header else {}
    for method, path, body in [
        ("POST", "/deploy", {"name": "m", "image": "r/m:1", "namespace": home}),
        ("GET", f"/models?namespace={home}", None),
        ("GET", "/models?namespace=*", None),
        ("GET", f"/models/{home}/m", None),
        ("DELETE", f"/models/{home}/m", None),
    ]:
        answer = await api.request(method, path, json=body, headers=headers)
        _assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert inference_service_names(admin_api, home) == []
    # Health stays open: it says nothing about models.
    assert (await api.get("/health")).status_code == 200


# Parameters and a body every route would refuse (422, 400) if it read them.
_UNREADABLE: dict[str, Any] = {
    "params": {"wait": "maybe", "watch": "maybe", "dryRun": "maybe", "limit": "-1"},
    "content": b"{not json",
    "headers": {"Content-Type": "application/json"},
}


async def test_every_route_authenticates_after_routing_and_before_reading_the_request(
    secured: Launch, admin_api: client.ApiClient, home: str
) -> None:
    root = secured("root").client
    served = (*deploy.routes(), *models.routes(), *delete.routes())
    canonical = [(r.method, r.path) for r in served if r.operation is not None]
    assert len(canonical) == 14
    for method, template in canonical:
        path = template.format(namespace=home, name="m")
        answer = await root.request(method, path, **_UNREADABLE)
        _assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    # The aliases at "/" of the deploy and models functions (not events: no ce- header).
    for name, method in [("deploy", "POST"), ("models", "GET")]:
        _assert_problem(await secured(name).client.request(method, "/", **_UNREADABLE), 401)
    # The route is found first: an unknown path or method is no reason to ask for a token.
    _assert_problem(await root.get("/nothing"), 404)
    _assert_problem(await root.put(f"/models/{home}/m"), 405)
    # Open: they say nothing about models (the console's files ask for a token themselves).
    assert (await root.get("/health")).status_code == 200
    assert (await root.get("/openapi.json")).status_code == 200
    assert (await root.get("/ui/")).status_code == 200
    assert inference_service_names(admin_api, home) == []


async def test_each_change_records_the_authenticated_caller_and_its_route(
    secured: Launch, admin_api: client.ApiClient, home: str, token: str
) -> None:
    api, auth = secured("root").client, _bearer(token)
    model = f"/models/{home}/m"

    created = await api.post(
        "/deploy", json={"name": "m", "image": "r/m:1", "namespace": home}, headers=auth
    )
    assert created.status_code == 201, created.text
    for action in ("stop", "resume"):
        changed = await api.post(f"{model}/{action}", headers=auth)
        assert changed.status_code == 200, changed.text
    rolled = await api.post(f"{model}/rollback", json={"revision": 1}, headers=auth)
    assert rolled.status_code == 200, rolled.text

    listed = KubeRequest(
        "GET",
        f"/apis/apps/v1/namespaces/{home}/controllerrevisions",
        "the revisions",
        query=(("labelSelector", "kserve-functions.dev/revision-of=m"),),
    )
    read = [history.read(stored) for stored in send(admin_api, listed).body["items"]]
    recorded = sorted((r.revision, r.by, r.how) for r in read)
    who = f"system:serviceaccount:{home}:alice"
    assert recorded == [
        (1, who, "POST /deploy"),
        (2, who, f"POST {model}/stop"),
        (3, who, f"POST {model}/resume"),
        (4, who, f"POST {model}/rollback"),
    ]


async def _poll_status(
    call: Callable[[], Any], expected: int, *, within: float
) -> tuple[int, float]:
    started = time.monotonic()
    status = 0
    while time.monotonic() - started < within:
        status = (await call()).status_code
        if status == expected:
            break
        await asyncio.sleep(0.1)
    return status, time.monotonic() - started


async def test_a_token_of_a_deleted_service_account_is_401(
    secured: Launch, admin_api: client.ApiClient, home: str, token: str
) -> None:
    api = secured("models").client
    assert (
        await api.get("/models", params={"namespace": home}, headers=_bearer(token))
    ).status_code == 200

    client.CoreV1Api(admin_api).delete_namespaced_service_account("alice", home)

    status, _ = await _poll_status(
        lambda: api.get("/models", params={"namespace": home}, headers=_bearer(token)),
        401,
        # The apiserver caches successful token authentications for 10 s itself.
        within=15,
    )
    assert status == 401


async def test_a_revoked_permission_stops_working_within_the_ttl(
    secured: Launch, admin_api: client.ApiClient, home: str, token: str
) -> None:
    api = secured("models").client

    def listing() -> Any:
        return api.get("/models", params={"namespace": home}, headers=_bearer(token))

    assert (await listing()).status_code == 200
    assert (await listing()).status_code == 200  # cached
    client.RbacAuthorizationV1Api(admin_api).delete_namespaced_role_binding(
        "isvc-editor-alice", home
    )

    status, elapsed = await _poll_status(listing, 403, within=5)
    assert status == 403
    assert elapsed < 3  # TTL 1 s, plus the apiserver's own RBAC cache refresh


async def test_all_namespaces_lists_only_the_callers_namespaces(
    secured: Launch,
    admin_api: client.ApiClient,
    control_plane: ControlPlane,
    make_namespace: Callable[[], str],
    home: str,
    elsewhere: str,
    token: str,
) -> None:
    second = make_namespace()
    grant_inference_services(
        admin_api, second, service_account="alice", service_account_namespace=home
    )
    admin = secured("root").client
    admin_auth = _bearer(token)
    for namespace, name in [(home, "a1"), (home, "a2"), (second, "b1")]:
        answer = await admin.post(
            "/deploy",
            json={"name": name, "image": "r/m:1", "namespace": namespace},
            headers=admin_auth,
        )
        assert answer.status_code == 201, answer.text
    # A model the caller may not see, written by the cluster admin.
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        GROUP,
        INFERENCE_SERVICE.version,
        elsewhere,
        PLURAL,
        inference_service(elsewhere, "hidden"),
    )

    listed = await admin.get("/models", params={"namespace": "*"}, headers=_bearer(token))
    assert listed.status_code == 200, listed.text
    seen = sorted((m["namespace"], m["name"]) for m in listed.json()["models"])
    assert seen == sorted([(home, "a1"), (home, "a2"), (second, "b1")])
    assert listed.json()["count"] == 3

    # Paged: the continue token carries on across the caller's namespaces.
    paged: list[tuple[str, str]] = []
    params: dict[str, str] = {"namespace": "*", "limit": "1"}
    for _ in range(10):
        page = await admin.get("/models", params=params, headers=_bearer(token))
        assert page.status_code == 200, page.text
        paged += [(m["namespace"], m["name"]) for m in page.json()["models"]]
        if not page.json().get("continue"):
            break
        params["continue"] = page.json()["continue"]
    assert sorted(paged) == seen


async def test_allowlists_refuse_before_any_write(
    secured: Launch,
    admin_api: client.ApiClient,
    home: str,
    elsewhere: str,
    token: str,
) -> None:
    grant_inference_services(
        admin_api, elsewhere, service_account="alice", service_account_namespace=home
    )  # RBAC would allow; the allowlist does not
    function = secured(
        "root",
        ALLOWED_NAMESPACES=home,
        ALLOWED_IMAGES="registry.example.com/team/,docker.io/library/",
    )
    api, auth = function.client, _bearer(token)

    bad_image = await api.post(
        "/deploy", json={"name": "m", "image": "evil.io/x/m:1", "namespace": home}, headers=auth
    )
    assert "ALLOWED_IMAGES" in _assert_problem(bad_image, 403, token)
    bad_namespace = await api.post(
        "/deploy",
        json={"name": "m", "image": "registry.example.com/team/m:1", "namespace": elsewhere},
        headers=auth,
    )
    assert "ALLOWED_NAMESPACES" in _assert_problem(bad_namespace, 403, token)
    assert inference_service_names(admin_api, home) == []
    assert inference_service_names(admin_api, elsewhere) == []
    listing = await api.get("/models", params={"namespace": elsewhere}, headers=auth)
    assert "ALLOWED_NAMESPACES" in _assert_problem(listing, 403)
    _assert_problem(await api.get(f"/models/{elsewhere}/m", headers=auth), 403)
    _assert_problem(await api.delete(f"/models/{elsewhere}/m", headers=auth), 403)

    for image in ("registry.example.com/team/m:1", "nginx:1"):
        name = "ok" if image.startswith("registry") else "hub"
        good = await api.post(
            "/deploy", json={"name": name, "image": image, "namespace": home}, headers=auth
        )
        assert good.status_code == 201, good.text
    everything = await api.get("/models", params={"namespace": "*"}, headers=auth)
    assert sorted(m["name"] for m in everything.json()["models"]) == ["hub", "ok"]
    assert {m["namespace"] for m in everything.json()["models"]} == {home}


def _deploy_event(namespace: str, name: str) -> tuple[bytes, dict[str, str]]:
    event = CloudEvent(
        attributes={
            "type": "dev.kserve-functions.model.deploy",
            "source": "/tests/auth",
            "id": uuid.uuid4().hex,
            "datacontenttype": "application/json",
        },
        data={"name": name, "image": "r/m:1", "namespace": namespace},
    )
    message = to_binary_event(event)
    return message.body, dict(message.headers)


async def test_events_need_an_oidc_token_for_the_functions_audience(
    secured: Launch,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    home: str,
    elsewhere: str,
    token: str,
) -> None:
    function = secured("deploy")
    api = function.client
    body, headers = _deploy_event(home, "evented")

    _assert_problem(await api.post("/", content=body, headers=headers), 401)
    # A token for the apiserver's audience, not the function's, is refused too.
    wrong_audience = await api.post("/", content=body, headers={**headers, **_bearer(token)})
    _assert_problem(wrong_audience, 401, token)
    assert inference_service_names(admin_api, home) == []

    oidc = control_plane.mint_service_account_token(home, "alice", audiences=["deploy"])
    answer = await api.post("/", content=body, headers={**headers, **_bearer(oidc)})
    assert answer.status_code == 200, answer.text
    reply = from_http_event(HTTPMessage(headers=dict(answer.headers), body=answer.content))
    assert reply.get_type() == "dev.kserve-functions.model.deployed"
    assert inference_service_names(admin_api, home) == ["evented"]

    # Authenticated, but RBAC refuses the namespace: a .failed reply with the 403.
    body, headers = _deploy_event(elsewhere, "evented")
    denied = await api.post("/", content=body, headers={**headers, **_bearer(oidc)})
    assert denied.status_code == 200
    failed = from_http_event(HTTPMessage(headers=dict(denied.headers), body=denied.content))
    assert failed.get_type() == "dev.kserve-functions.model.failed"
    data = failed.get_data()
    assert isinstance(data, dict)
    assert data["status"] == 403
    assert inference_service_names(admin_api, elsewhere) == []
    _assert_no_token(function.log(), token, oidc)


async def test_trust_broker_accepts_events_without_a_token(
    secured: Launch, admin_api: client.ApiClient, home: str
) -> None:
    api = secured("deploy", EVENT_AUTH="trust-broker").client
    body, headers = _deploy_event(home, "trusted")
    answer = await api.post("/", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert inference_service_names(admin_api, home) == ["trusted"]


def _envelope(host: str, repository: str, tag: str) -> bytes:
    return json.dumps(
        {
            "events": [
                {
                    "id": str(uuid.uuid4()),
                    "action": "push",
                    "target": {
                        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": DIGEST,
                        "repository": repository,
                        "tag": tag,
                    },
                    "request": {"host": host, "method": "PUT"},
                }
            ]
        }
    ).encode()


DISTRIBUTION = {"content-type": "application/vnd.docker.distribution.events.v1+json"}


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    path = tmp_path / "registry-secret"
    path.write_text(SECRET + "\n")
    return str(path)


async def test_registry_webhooks_need_the_shared_secret(
    secured: Launch,
    admin_api: client.ApiClient,
    home: str,
    token: str,
    secret_file: str,
) -> None:
    function = secured("deploy", REGISTRY_SECRET_FILE=secret_file)
    api = function.client
    tracked = "registry.local:5000/team/app:v1"
    deployed = await api.post(
        "/deploy",
        json={"name": "follower", "image": tracked, "namespace": home, "autoUpdate": True},
        headers=_bearer(token),
    )
    assert deployed.status_code == 201, deployed.text
    body = _envelope("registry.local:5000", "team/app", "v1")

    _assert_problem(await api.post("/", content=body, headers=DISTRIBUTION), 401)
    wrong = {**DISTRIBUTION, "X-Registry-Secret": "not-the-secret"}
    _assert_problem(await api.post("/", content=body, headers=wrong), 401)
    image = read_inference_service(admin_api, home, "follower")["spec"]["predictor"]
    assert image["containers"][0]["image"] == tracked

    right = {**DISTRIBUTION, "X-Registry-Secret": SECRET}
    answer = await api.post("/", content=body, headers=right)
    assert answer.status_code == 200, answer.text
    image = read_inference_service(admin_api, home, "follower")["spec"]["predictor"]
    assert image["containers"][0]["image"] == f"registry.local:5000/team/app@{DIGEST}"
    _assert_no_token(function.log(), token, SECRET)


async def test_registry_webhooks_are_refused_without_a_configured_secret(
    secured: Launch,
) -> None:
    api = secured("deploy").client
    body = _envelope("registry.local:5000", "team/app", "v1")
    headers = {**DISTRIBUTION, "X-Registry-Secret": "anything"}
    detail = _assert_problem(await api.post("/", content=body, headers=headers), 401)
    assert "REGISTRY_SECRET" in detail


async def test_deleted_service_account_tokens_fail_review_without_a_controller_manager(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    """The premise of the deleted-ServiceAccount test, checked on the apiserver itself."""
    create_service_account(admin_api, namespace, "gone")
    minted = control_plane.mint_service_account_token(namespace, "gone")
    client.CoreV1Api(admin_api).delete_namespaced_service_account("gone", namespace)
    review = client.AuthenticationV1Api(admin_api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=minted))
    )
    assert review.status is not None
    assert not review.status.authenticated
