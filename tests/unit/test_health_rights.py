"""What each function's ``/health`` checks is what the production RBAC grants it.

``GET /health`` reviews the function's own rights (``functions.health``); the
manifests grant them (``k8s/rbac.yaml``, ``k8s/standard/rbac.yaml`` for the
all-in-one function). A right added to one and not the other would make
``/health`` report a healthy function that fails its work, or an unhealthy one
that is fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from kserve_functions.core.resources import EVENT, POD, Right
from kserve_functions.functions import health, mcp

REPO = Path(__file__).resolve().parents[2]
# Checked apart from the reviews (the CRD check), or needed only to authenticate
# and authorize callers (AUTH_MODE=kubernetes).
NOT_REVIEWED_GROUPS = {"apiextensions.k8s.io", "authentication.k8s.io", "authorization.k8s.io"}

Grant = tuple[str, str, str]


def _granted(path: Path, role: str) -> set[Grant]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    (found,) = [
        d for d in documents if d["kind"] == "ClusterRole" and d["metadata"]["name"] == role
    ]
    rules: list[Mapping[str, Any]] = found["rules"]
    return {
        (verb, group, resource)
        for rule in rules
        for group in rule["apiGroups"]
        if group not in NOT_REVIEWED_GROUPS
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _checked(rights: Iterable[Right]) -> set[Grant]:
    return {
        (
            right.verb,
            right.resource.group,
            right.resource.plural + (f"/{right.subresource}" if right.subresource else ""),
        )
        for right in rights
    }


@pytest.mark.parametrize(
    ("role", "rights"),
    [
        ("kserve-functions-deploy", health.DEPLOY_RIGHTS),
        ("kserve-functions-models", health.MODELS_RIGHTS),
        ("kserve-functions-delete", health.DELETE_RIGHTS),
        ("kserve-functions-notify", health.NOTIFY_RIGHTS),
        # Its tools are deploy's, models' and delete's routes.
        ("kserve-functions-mcp", mcp.MCP_RIGHTS),
        # It checks no rights and is granted none (but the CRD check's get).
        ("kserve-functions-health", ()),
    ],
)
def test_each_function_checks_exactly_what_its_role_grants(
    role: str, rights: Sequence[Right]
) -> None:
    assert _checked(rights) == _granted(REPO / "k8s" / "rbac.yaml", role)


def test_the_all_in_one_function_checks_the_union() -> None:
    union = (*health.DEPLOY_RIGHTS, *health.MODELS_RIGHTS, *health.DELETE_RIGHTS)
    assert _checked(union) == _granted(
        REPO / "k8s" / "standard" / "rbac.yaml", "kserve-functions-api"
    )


def test_a_right_reads_as_rbac_writes_it() -> None:
    assert str(Right("get", POD, "log")) == "get pods/log"
    assert str(Right("create", EVENT)) == "create events"
    assert str(Right("watch")) == "watch inferenceservices"


def test_the_ui_functions_account_is_bound_to_no_role() -> None:
    """kserve-ui serves files and its /health asks the cluster nothing: no rights."""
    bound = [
        document["metadata"]["name"]
        for path in sorted((REPO / "k8s").rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
        and document.get("kind") in {"RoleBinding", "ClusterRoleBinding"}
        and any(subject.get("name") == "kserve-ui" for subject in document.get("subjects", []))
    ]
    assert bound == []
