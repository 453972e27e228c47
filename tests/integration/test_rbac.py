"""RBAC, TokenRequest, TokenReview and SubjectAccessReview work as in a cluster.

The security model (DESIGN §6) rests on these: a caller's ServiceAccount token
is reviewed, and the exact verb is authorized in the target namespace.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support.rbac import create_service_account, grant_inference_services

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = (
    INFERENCE_SERVICE.group,
    INFERENCE_SERVICE.version,
    INFERENCE_SERVICE.plural,
)


def _service_account_token(control_plane: ControlPlane, namespace: str, name: str) -> str:
    with control_plane.admin_client() as admin:
        create_service_account(admin, namespace, name)
    return control_plane.mint_service_account_token(namespace, name)


def _list_status(control_plane: ControlPlane, token: str, namespace: str) -> int:
    with control_plane.client_for_token(token) as api_client:
        try:
            client.CustomObjectsApi(api_client).list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL
            )
        except ApiException as e:
            return int(e.status)
    return 200


def test_token_without_a_role_is_refused(control_plane: ControlPlane, namespace: str) -> None:
    token = _service_account_token(control_plane, namespace, "nobody")
    assert _list_status(control_plane, token, namespace) == 403


def test_garbage_token_is_unauthenticated(control_plane: ControlPlane, namespace: str) -> None:
    assert _list_status(control_plane, "not-a-token", namespace) == 401


def test_role_grants_its_namespace_only(
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    make_namespace: Callable[[], str],
) -> None:
    home, elsewhere = make_namespace(), make_namespace()
    token = _service_account_token(control_plane, home, "ci")
    assert _list_status(control_plane, token, home) == 403

    grant_inference_services(admin_api, home, service_account="ci")

    assert _list_status(control_plane, token, home) == 200
    assert _list_status(control_plane, token, elsewhere) == 403


def test_token_review_returns_the_service_account_user(
    control_plane: ControlPlane, admin_api: client.ApiClient, namespace: str
) -> None:
    token = _service_account_token(control_plane, namespace, "reviewed")
    review = client.AuthenticationV1Api(admin_api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token))
    )
    assert review.status is not None
    assert review.status.user is not None
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:reviewed"
    assert f"system:serviceaccounts:{namespace}" in (review.status.user.groups or [])


def test_token_review_rejects_a_garbage_token(admin_api: client.ApiClient) -> None:
    review = client.AuthenticationV1Api(admin_api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token="garbage"))
    )
    assert review.status is not None
    assert not review.status.authenticated


@pytest.mark.parametrize(
    ("verb", "in_home", "expected"),
    [
        ("create", True, True),
        ("delete", True, True),
        ("create", False, False),
        ("escalate", True, False),
    ],
)
def test_subject_access_review_answers_per_verb_and_namespace(
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    make_namespace: Callable[[], str],
    verb: str,
    in_home: bool,
    expected: bool,
) -> None:
    home, elsewhere = make_namespace(), make_namespace()
    _service_account_token(control_plane, home, "asker")
    grant_inference_services(admin_api, home, service_account="asker")
    review = client.AuthorizationV1Api(admin_api).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{home}:asker",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{home}"],
                resource_attributes=client.V1ResourceAttributes(
                    group=GROUP,
                    resource=PLURAL,
                    verb=verb,
                    namespace=home if in_home else elsewhere,
                ),
            )
        )
    )
    assert review.status is not None
    assert review.status.allowed is expected
