"""The verb and resource every apiserver call is counted under (``requests.verb_and_resource``)."""

from __future__ import annotations

import pytest
from kserve_functions.kube import requests


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (requests.get_model("team-a", "iris"), ("get", "inferenceservices")),
        (
            requests.list_models("team-a", label_selector=None, limit=5, continue_token=None),
            ("list", "inferenceservices"),
        ),
        (
            requests.list_models(None, label_selector=None, limit=5, continue_token=None),
            ("list", "inferenceservices"),
        ),
        (
            requests.apply_model({"metadata": {"name": "iris", "namespace": "a"}}, dry_run=False),
            ("patch", "inferenceservices"),
        ),
        (requests.delete_model("team-a", "iris"), ("delete", "inferenceservices")),
        (
            requests.delete_revisions("team-a", "iris", [1, 2]),
            ("deletecollection", "controllerrevisions"),
        ),
        (
            requests.pod_log(
                "team-a",
                "iris-1",
                container="c",
                tail_lines=None,
                since_seconds=None,
                follow=False,
                previous=False,
                limit_bytes=None,
            ),
            ("get", "pods/log"),
        ),
        (requests.list_namespaces(limit=5, continue_token=None), ("list", "namespaces")),
        (requests.token_review("t", None), ("create", "tokenreviews")),
        (requests.get_model_crd(), ("get", "customresourcedefinitions")),
        (requests.get_version(), ("get", "version")),
        (requests.create_event({"metadata": {"namespace": "a"}}), ("create", "events")),
    ],
)
def test_calls_are_labelled_by_verb_and_resource(
    request_: requests.KubeRequest, expected: tuple[str, str]
) -> None:
    assert requests.verb_and_resource(request_) == expected


def test_a_watch_is_a_watch() -> None:
    watch = requests.watch_models(
        "team-a", label_selector=None, resource_version="1", timeout_seconds=60
    )
    assert requests.verb_and_resource(watch) == ("watch", "inferenceservices")


def test_names_never_become_labels() -> None:
    labels = {
        requests.verb_and_resource(requests.get_model(f"ns-{i}", f"model-{i}")) for i in range(50)
    }
    assert labels == {("get", "inferenceservices")}
