"""The exact request each kube operation sends (``kube.requests``, pure)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kserve_functions.core.resources import DEPLOYMENT, INFERENCE_SERVICE, NAMESPACE, ApiResource
from kserve_functions.kube import requests
from kserve_functions.kube.transport import READ_ATTEMPTS, READ_RETRY_BACKOFF, load_configuration

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices"
MANIFEST = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris", "namespace": "ml"},
    "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "r/m:1"}]}},
}


def test_apply_is_a_forced_server_side_apply_with_our_field_manager() -> None:
    request = requests.apply_model(MANIFEST, dry_run=False)

    assert request.method == "PATCH"
    assert request.path == f"{ISVCS}/iris"
    assert request.query == (
        ("fieldManager", "kserve-functions"),
        ("force", "true"),
        ("fieldValidation", "Ignore"),
    )
    assert request.content_type == "application/apply-patch+yaml"
    assert request.body == MANIFEST
    assert request.what == "model ml/iris"


def test_a_dry_run_apply_adds_dry_run_all_and_nothing_else() -> None:
    request = requests.apply_model(MANIFEST, dry_run=True)

    assert request.query == (
        ("fieldManager", "kserve-functions"),
        ("force", "true"),
        ("fieldValidation", "Ignore"),
        ("dryRun", "All"),
    )


def test_the_rollouts_patch_is_a_json_patch_guarded_by_a_test_operation() -> None:
    request = requests.replace_container_image(
        "ml", "iris", index=1, expected="r/m:1", image="r/m@sha256:" + "a" * 64
    )

    assert (request.method, request.path) == ("PATCH", f"{ISVCS}/iris")
    assert request.content_type == "application/json-patch+json"
    assert request.body == [
        {"op": "test", "path": "/spec/predictor/containers/1/image", "value": "r/m:1"},
        {
            "op": "replace",
            "path": "/spec/predictor/containers/1/image",
            "value": "r/m@sha256:" + "a" * 64,
        },
    ]


def test_a_list_page_carries_limit_selector_and_continue_in_that_order() -> None:
    request = requests.list_models("ml", label_selector="team=a", limit=50, continue_token="tok")

    assert (request.method, request.path) == ("GET", ISVCS)
    assert request.query == (("limit", "50"), ("labelSelector", "team=a"), ("continue", "tok"))
    assert request.body is None


def test_the_first_page_of_every_namespace_has_only_a_limit() -> None:
    request = requests.list_models(None, label_selector=None, limit=500, continue_token=None)

    assert request.path == "/apis/serving.kserve.io/v1beta1/inferenceservices"
    assert request.query == (("limit", "500"),)


def test_a_relist_of_one_model_selects_it_by_name() -> None:
    request = requests.list_models(
        "ml", label_selector=None, limit=1, continue_token=None, name="iris"
    )

    assert request.query == (("limit", "1"), ("fieldSelector", "metadata.name=iris"))


def test_a_watch_starts_at_the_resource_version_with_bookmarks_and_a_server_timeout() -> None:
    request = requests.watch_models("ml", resource_version="4711", timeout_seconds=7, name="iris")

    assert (request.method, request.path) == ("GET", ISVCS)
    assert request.query == (
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", "4711"),
        ("timeoutSeconds", "7"),
        ("fieldSelector", "metadata.name=iris"),
    )
    assert request.is_watch
    assert request.watch_seconds == 7
    assert request.what == "a watch of model ml/iris"


def test_a_watch_of_a_selection_in_every_namespace() -> None:
    request = requests.watch_models(
        None, resource_version="1", timeout_seconds=30, label_selector="a=b"
    )

    assert request.path == "/apis/serving.kserve.io/v1beta1/inferenceservices"
    assert ("labelSelector", "a=b") in request.query
    assert not any(key == "fieldSelector" for key, _ in request.query)


def test_delete_states_background_propagation() -> None:
    request = requests.delete_model("ml", "iris")

    assert (request.method, request.path) == ("DELETE", f"{ISVCS}/iris")
    assert request.body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
    }
    assert not request.is_watch


def test_the_admission_probe_is_a_dry_run_create() -> None:
    request = requests.admission_probe("kserve-functions")

    assert request.method == "POST"
    assert (
        request.path
        == "/apis/serving.kserve.io/v1beta1/namespaces/kserve-functions/inferenceservices"
    )
    assert request.query == (("dryRun", "All"),)
    assert isinstance(request.body, dict)
    assert request.body["metadata"]["name"] == requests.ADMISSION_PROBE_NAME


def test_reads_of_the_cluster() -> None:
    deployment = requests.get_predictor_deployment("ml", "iris")
    namespaces = requests.list_namespaces(limit=10, continue_token="c")
    crd = requests.get_model_crd()

    assert deployment.path == "/apis/apps/v1/namespaces/ml/deployments/iris-predictor"
    assert namespaces.path == "/api/v1/namespaces"
    assert namespaces.query == (("limit", "10"), ("continue", "c"))
    assert crd.path == (
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/inferenceservices.serving.kserve.io"
    )
    assert requests.get_version().path == "/version"


def test_a_subject_access_review_carries_the_callers_whole_identity() -> None:
    request = requests.access_review(
        user="alice",
        uid="u-1",
        groups=("team-a", "system:authenticated"),
        extra={"scopes": ("x",)},
        verb="patch",
        namespace="ml",
    )

    assert (request.method, request.path) == (
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    )
    assert request.body == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "uid": "u-1",
            "groups": ["team-a", "system:authenticated"],
            "extra": {"scopes": ["x"]},
            "resourceAttributes": {
                "group": "serving.kserve.io",
                "resource": "inferenceservices",
                "verb": "patch",
                "namespace": "ml",
            },
        },
    }


def test_a_cluster_wide_review_names_no_namespace() -> None:
    request = requests.self_access_review("list")

    assert request.body == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "group": "serving.kserve.io",
                "resource": "inferenceservices",
                "verb": "list",
            }
        },
    }


def test_a_token_review_never_shows_the_token_in_its_repr() -> None:
    request = requests.token_review("s3cr3t-token", ["kserve-deploy"])

    assert isinstance(request.body, dict)
    assert request.body["spec"] == {"token": "s3cr3t-token", "audiences": ["kserve-deploy"]}
    assert "s3cr3t" not in repr(request)


@pytest.mark.parametrize(
    ("resource", "namespace", "name", "path"),
    [
        (INFERENCE_SERVICE, None, None, "/apis/serving.kserve.io/v1beta1/inferenceservices"),
        (DEPLOYMENT, "a", "b", "/apis/apps/v1/namespaces/a/deployments/b"),
        (NAMESPACE, None, "ml", "/api/v1/namespaces/ml"),
        (NAMESPACE, "ignored", None, "/api/v1/namespaces"),
        (
            INFERENCE_SERVICE,
            "a/../b",
            "x?y",
            "/apis/serving.kserve.io/v1beta1/namespaces/a%2F..%2Fb/inferenceservices/x%3Fy",
        ),
    ],
)
def test_resource_paths_come_from_coordinates_and_cannot_be_reshaped(
    resource: ApiResource, namespace: str | None, name: str | None, path: str
) -> None:
    assert requests.resource_path(resource, namespace, name) == path


def test_the_client_retries_reads_the_client_go_way(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )

    configuration = asyncio.run(load_configuration(str(kubeconfig)))

    assert configuration.client_go_retries is True
    # Only client-go's Retry-After retries of GET: ``retries`` stays unset, since
    # setting it would also retry DELETE and PUT on any 5xx.
    assert configuration.retries is None
    backoff: object = configuration.client_go_retry_backoff  # typed None by the client
    assert backoff == READ_RETRY_BACKOFF
    assert READ_RETRY_BACKOFF.steps == READ_ATTEMPTS


def _kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    return str(path)


def test_the_session_trusts_no_environment_and_takes_its_proxy_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp's trust_env would look the proxy and ~/.netrc up on every request.
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    configuration = asyncio.run(
        load_configuration(_kubeconfig(tmp_path, "https://api.example:6443"))
    )

    assert configuration.client_session_kwargs == {"trust_env": False}
    assert configuration.proxy == "http://proxy.example:3128"
    assert configuration.proxy_headers == {"Proxy-Authorization": "Basic dXNlcjpzZWNyZXQ="}


def test_no_proxy_keeps_the_apiserver_direct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.example")

    configuration = asyncio.run(
        load_configuration(_kubeconfig(tmp_path, "https://api.example:6443"))
    )

    assert configuration.client_session_kwargs == {"trust_env": False}
    assert configuration.proxy is None


def test_a_streamed_list_is_a_watch_of_the_initial_state_that_ends_with_a_bookmark() -> None:
    request = requests.stream_models("ml", label_selector="team=a", timeout_seconds=300)

    assert (request.method, request.path) == ("GET", ISVCS)
    assert request.query == (
        ("watch", "true"),
        ("sendInitialEvents", "true"),
        ("resourceVersionMatch", "NotOlderThan"),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", "300"),
        ("labelSelector", "team=a"),
    )
    assert request.watch_seconds == 300


def test_a_models_pods_are_listed_by_kserves_label() -> None:
    request = requests.list_model_pods("ml", "iris", limit=20)

    assert (request.method, request.path) == ("GET", "/api/v1/namespaces/ml/pods")
    # From the watch cache: a consistent list waits up to 100 ms after any write.
    assert request.query == (
        ("limit", "20"),
        ("resourceVersion", "0"),
        ("labelSelector", "serving.kserve.io/inferenceservice=iris"),
    )


REPORTED = "kserve-functions.dev/reported-state"


def test_the_notify_record_is_a_json_patch_guarded_by_the_resource_version() -> None:
    request = requests.annotate_model_if_unchanged(
        "ml",
        "iris",
        resource_version="4711",
        key=REPORTED,
        value="ready@2",
        annotations_present=True,
    )

    assert (request.method, request.path) == ("PATCH", f"{ISVCS}/iris")
    assert request.content_type == "application/json-patch+json"
    # Its own field manager: a deploy's forced apply never owns, so never drops, the record.
    assert request.query == (("fieldManager", "kserve-functions-notify"),)
    assert request.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "4711"},
        # RFC 6901: the "/" inside the annotation key is escaped as "~1".
        {
            "op": "add",
            "path": "/metadata/annotations/kserve-functions.dev~1reported-state",
            "value": "ready@2",
        },
    ]
    assert request.what == "model ml/iris"


def test_the_notify_record_adds_the_annotations_map_when_there_is_none() -> None:
    request = requests.annotate_model_if_unchanged(
        "ml",
        "iris",
        resource_version="1",
        key=REPORTED,
        value="failed@1",
        annotations_present=False,
    )

    assert request.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/annotations", "value": {REPORTED: "failed@1"}},
    ]


def test_the_notify_record_is_removed_by_a_guarded_remove() -> None:
    request = requests.annotate_model_if_unchanged(
        "ml", "iris", resource_version="9", key=REPORTED, value=None, annotations_present=True
    )

    assert request.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "9"},
        {"op": "remove", "path": "/metadata/annotations/kserve-functions.dev~1reported-state"},
    ]


@pytest.mark.parametrize(
    ("segments", "pointer"),
    [
        (("metadata", "annotations", "a/b"), "/metadata/annotations/a~1b"),
        (("metadata", "annotations", "a~b/c"), "/metadata/annotations/a~0b~1c"),
        (("spec",), "/spec"),
    ],
)
def test_json_pointers_escape_tilde_then_slash(segments: tuple[str, ...], pointer: str) -> None:
    assert requests.json_pointer(*segments) == pointer


# -- a model's history, stop and resume -------------------------------------------

REVISIONS = "/apis/apps/v1/namespaces/ml/controllerrevisions"


def test_a_revision_is_created_with_a_plain_post_in_its_namespace() -> None:
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "iris-rev-3", "namespace": "ml"},
        "revision": 3,
        "data": {"action": "deploy"},
    }
    request = requests.create_revision(revision)

    assert (request.method, request.path, request.query) == ("POST", REVISIONS, ())
    assert request.body == revision
    assert request.what == "ControllerRevision ml/iris-rev-3"


def test_the_oldest_revisions_are_pruned_at_once_by_model_and_number() -> None:
    request = requests.delete_revisions("ml", "iris", [12, 3, 4])

    assert (request.method, request.path, request.body) == ("DELETE", REVISIONS, None)
    assert request.query == (
        (
            "labelSelector",
            "kserve-functions.dev/revision-of=iris,kserve-functions.dev/revision in (3,4,12)",
        ),
    )
    assert request.what == "the revisions 3,4,12 of model ml/iris"


def test_a_models_revisions_are_listed_by_the_projects_label() -> None:
    request = requests.list_revisions("ml", "iris", limit=50, continue_token="c1")

    assert (request.method, request.path) == ("GET", REVISIONS)
    assert request.query == (
        ("limit", "50"),
        ("labelSelector", "kserve-functions.dev/revision-of=iris"),
        ("continue", "c1"),
    )
    assert request.what == "the revisions of model ml/iris"


def test_a_writer_may_read_revisions_from_the_apiservers_cache() -> None:
    request = requests.list_revisions("ml", "iris", limit=50, from_cache=True)

    assert request.query == (
        ("limit", "50"),
        ("resourceVersion", "0"),
        ("labelSelector", "kserve-functions.dev/revision-of=iris"),
    )


def test_a_revision_is_deleted_by_name() -> None:
    request = requests.delete_revision("ml", "iris-rev-1")

    assert (request.method, request.path, request.body) == (
        "DELETE",
        f"{REVISIONS}/iris-rev-1",
        None,
    )


@pytest.mark.parametrize(("stopped", "value"), [(True, "true"), (False, None)])
def test_stop_and_resume_are_merge_patches_of_the_stop_annotation_by_their_own_manager(
    stopped: bool, value: str | None
) -> None:
    request = requests.set_model_stopped(
        "ml", "iris", stopped=stopped, annotations={"kserve-functions.dev/changed-by": "me"}
    )

    assert (request.method, request.path) == ("PATCH", f"{ISVCS}/iris")
    assert request.content_type == "application/merge-patch+json"
    # Not the deploy's manager: a deploy's forced apply never owned the key.
    assert request.query == (("fieldManager", "kserve-functions-lifecycle"),)
    assert request.body == {
        "metadata": {
            "annotations": {
                "kserve-functions.dev/changed-by": "me",
                "serving.kserve.io/stop": value,
            }
        }
    }


def test_the_canary_patch_is_guarded_by_the_generation_read() -> None:
    operations = [{"op": "remove", "path": "/spec/canary"}]

    request = requests.patch_model_if_unchanged(
        "ml", "iris", generation=42, operations=operations, dry_run=True
    )

    assert (request.method, request.path) == ("PATCH", f"{ISVCS}/iris")
    assert request.content_type == "application/json-patch+json"
    # The deploy's field manager: the next deploy's apply owns what promote wrote.
    assert request.query == (("fieldManager", "kserve-functions"), ("dryRun", "All"))
    assert request.body == [
        {"op": "test", "path": "/metadata/generation", "value": 42},
        {"op": "remove", "path": "/spec/canary"},
    ]


def test_the_fields_a_patch_wrote_are_handed_to_the_deploys_apply() -> None:
    applied: dict[str, Any] = {"f:spec": {"f:predictor": {"f:model": {"f:storageUri": {}}}}}
    updated: dict[str, Any] = {
        "f:spec": {"f:predictor": {"f:model": {"f:env": {'k:{"name":"B"}': {}}}}}
    }
    kserve = {"manager": "manager", "operation": "Update", "fieldsV1": {"f:status": {}}}
    model: dict[str, Any] = {
        "metadata": {
            "namespace": "ml",
            "name": "iris",
            "resourceVersion": "9",
            "managedFields": [
                {"manager": "kserve-functions", "operation": "Apply", "fieldsV1": applied},
                kserve,
                {"manager": "kserve-functions", "operation": "Update", "fieldsV1": updated},
            ],
        }
    }

    request = requests.adopt_updated_fields(model)

    assert request is not None
    assert (request.method, request.path) == ("PATCH", f"{ISVCS}/iris")
    merged: dict[str, Any] = {
        "f:spec": {
            "f:predictor": {"f:model": {"f:storageUri": {}, "f:env": {'k:{"name":"B"}': {}}}}
        }
    }
    assert request.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "9"},
        {
            "op": "replace",
            "path": "/metadata/managedFields",
            "value": [
                {"manager": "kserve-functions", "operation": "Apply", "fieldsV1": merged},
                kserve,
            ],
        },
    ]
    del model["metadata"]["managedFields"][2]
    assert requests.adopt_updated_fields(model) is None
