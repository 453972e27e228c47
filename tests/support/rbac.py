"""RBAC set-up the integration tests share: ServiceAccounts and Roles on InferenceServices."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client

from support.workloads import wait_for

ALL_MODEL_VERBS = ("get", "list", "create", "patch", "delete")


def create_service_account(admin_api: client.ApiClient, namespace: str, name: str) -> None:
    """Create the ServiceAccount ``namespace/name``."""
    client.CoreV1Api(admin_api).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )


def grant_inference_services(
    admin_api: client.ApiClient,
    namespace: str,
    *,
    service_account: str,
    service_account_namespace: str | None = None,
    verbs: Sequence[str] = ALL_MODEL_VERBS,
) -> str:
    """A Role on InferenceServices in ``namespace`` bound to the ServiceAccount; its name.

    The ServiceAccount lives in ``service_account_namespace`` (default: ``namespace``).
    Returns once the apiserver's authorizer grants the first verb: it reads
    Roles from an informer cache, which a busy apiserver fills a moment after
    the write, and a test must not see that window.
    """
    rbac = client.RbacAuthorizationV1Api(admin_api)
    name = f"isvc-editor-{service_account}"
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name=name),
            rules=[
                client.V1PolicyRule(
                    api_groups=[INFERENCE_SERVICE.group],
                    resources=[INFERENCE_SERVICE.plural],
                    verbs=list(verbs),
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name=name
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="ServiceAccount",
                    name=service_account,
                    namespace=service_account_namespace or namespace,
                )
            ],
        ),
    )
    user = f"system:serviceaccount:{service_account_namespace or namespace}:{service_account}"
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            resource_attributes=client.V1ResourceAttributes(
                group=INFERENCE_SERVICE.group,
                resource=INFERENCE_SERVICE.plural,
                verb=verbs[0],
                namespace=namespace,
            ),
        )
    )
    authorization = client.AuthorizationV1Api(admin_api)

    def granted() -> bool | None:
        answer = authorization.create_subject_access_review(review)
        return True if answer.status is not None and answer.status.allowed else None

    wait_for(granted, timeout=10, what=f"RBAC granting {user} {verbs[0]} in {namespace}")
    return name


def model_token(
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
    service_account: str,
    verbs: Sequence[str],
) -> str:
    """A token of a new ServiceAccount ``namespace/service_account`` granted ``verbs``
    on models in ``namespace`` (``grant_inference_services``: granted once it returns)."""
    create_service_account(admin_api, namespace, service_account)
    grant_inference_services(admin_api, namespace, service_account=service_account, verbs=verbs)
    return control_plane.mint_service_account_token(namespace, service_account)
