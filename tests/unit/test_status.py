"""Reading InferenceServices into the API's answers, against the status KServe writes.

Statuses come from the KServe controller stand-in (``build_status``), so the
readers are tested against the same shape the integration tests write through
the status subresource.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from kserve_functions import status
from support.kserve_controller import FailureInfo, build_status

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
STAMP = "2026-01-02T03:04:05Z"
CREATED = "2026-01-01T00:00:00Z"
DOMAIN = "calvinruntime.net"
TEMPLATE = status.DEFAULT_URL_TEMPLATE
SEED_IMAGE = "registry.example.com/my-model:v1.0.0"


def custom_predictor(**fields: Any) -> dict[str, Any]:
    """A seed-style predictor: one ``kserve-container`` with the seed's image and envs."""
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": SEED_IMAGE,
        "imagePullPolicy": "Always",
        "env": [
            {"name": "MODEL_PATH", "value": "/models"},
            {"name": "LOG_LEVEL", "value": "INFO"},
        ],
    }
    return {"containers": [container], **fields}


def inference_service(
    *,
    name: str = "my-model",
    namespace: str = "default",
    generation: int = 1,
    predictor: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An InferenceService as the apiserver returns it; ``state`` is its ``status``."""
    isvc: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": generation,
            "creationTimestamp": CREATED,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {"predictor": custom_predictor() if predictor is None else predictor},
    }
    if state is not None:
        isvc["status"] = state
    return isvc


def ready_service(**fields: Any) -> dict[str, Any]:
    """A model KServe reports Ready for its current generation."""
    generation = fields.pop("generation", 1)
    return inference_service(
        generation=generation,
        state=build_status(
            name="my-model", namespace="default", generation=generation, ready=True, now=NOW
        ),
        **fields,
    )


def summary(isvc: dict[str, Any]) -> dict[str, Any]:
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    return read.model_dump(by_alias=True, exclude_none=True)


def detail(isvc: dict[str, Any]) -> dict[str, Any]:
    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    return read.model_dump(by_alias=True, exclude_none=True)


# Readiness


def test_ready_for_the_current_generation_is_ready() -> None:
    isvc = ready_service(generation=4)

    assert status.is_ready(isvc) is True
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.message) == (True, None, None)


def test_ready_for_an_older_generation_is_a_rollout_in_progress() -> None:
    isvc = inference_service(
        generation=3,
        state=build_status(
            name="my-model",
            namespace="default",
            generation=3,
            observed_generation=2,
            ready=True,
            now=NOW,
        ),
    )

    assert status.is_ready(isvc) is False
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.message) == (
        False,
        "RolloutInProgress",
        "the KServe controller has not yet observed generation 3 (observed: 2)",
    )


def test_ready_without_observed_generation_is_not_ready() -> None:
    isvc = ready_service(generation=2)
    del isvc["status"]["observedGeneration"]

    assert status.is_ready(isvc) is False
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.reason, read.message) == (
        "RolloutInProgress",
        "the KServe controller has not yet observed generation 2",
    )


def test_ready_without_metadata_generation_trusts_the_ready_condition() -> None:
    isvc = ready_service()
    del isvc["metadata"]["generation"]

    assert status.is_ready(isvc) is True


def test_not_ready_reports_the_ready_conditions_reason_and_message() -> None:
    isvc = inference_service(
        state=build_status(
            name="my-model",
            namespace="default",
            generation=1,
            ready=False,
            reason="RevisionFailed",
            message="Revision my-model-predictor-00001 failed with message: Back-off pulling image",
            now=NOW,
        )
    )

    assert status.is_ready(isvc) is False
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.message) == (
        False,
        "RevisionFailed",
        "Revision my-model-predictor-00001 failed with message: Back-off pulling image",
    )


def test_ready_unknown_reports_its_reason() -> None:
    state = build_status(name="my-model", namespace="default", generation=1, ready=True, now=NOW)
    state["conditions"][0] = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "PredictorConfigurationReady not ready",
        "lastTransitionTime": STAMP,
    }
    isvc = inference_service(state=state)

    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.message) == (
        False,
        "PredictorConfigurationReady not ready",
        None,
    )


@pytest.mark.parametrize(
    "state",
    [None, {}, {"conditions": []}, {"observedGeneration": 1}],
    ids=["no-status", "empty-status", "no-conditions", "no-ready-condition"],
)
def test_without_a_ready_condition_the_model_is_pending(state: dict[str, Any] | None) -> None:
    isvc = inference_service(state=state)

    assert status.is_ready(isvc) is False
    read = status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.message) == (
        False,
        "Pending",
        "the KServe controller has not reported status yet",
    )


# URL


def test_status_url_is_preferred_over_the_template() -> None:
    isvc = inference_service(
        state=build_status(
            name="my-model",
            namespace="default",
            generation=1,
            ready=True,
            url="https://my-model.ml.example.org",
            now=NOW,
        )
    )

    url = status.model_url(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert url == "https://my-model.ml.example.org"


@pytest.mark.parametrize(
    "state",
    [
        None,
        build_status(name="my-model", namespace="default", generation=1, ready=False, now=NOW),
        {"url": ""},
        {"url": 42},
    ],
    ids=["no-status", "not-ready-yet", "empty-url", "url-not-a-string"],
)
def test_without_status_url_the_template_gives_the_seeds_url(
    state: dict[str, Any] | None,
) -> None:
    url = status.model_url(inference_service(state=state), url_template=TEMPLATE, domain=DOMAIN)
    assert url == "http://my-model.default.calvinruntime.net"


def test_a_configured_template_is_used_with_the_configured_domain() -> None:
    isvc = inference_service(name="iris", namespace="ml")

    url = status.model_url(isvc, url_template="https://{name}-{namespace}.{domain}", domain="ai.io")
    assert url == "https://iris-ml.ai.io"


# The seed contract


def test_a_ready_seed_model_lists_as_the_seeds_item_plus_image_and_created_at() -> None:
    isvc = inference_service(
        state=build_status(
            name="my-model",
            namespace="default",
            generation=1,
            ready=True,
            url="http://my-model.default.calvinruntime.net",
            now=NOW,
        )
    )

    assert summary(isvc) == {
        # The seed README's list item, field for field.
        "name": "my-model",
        "namespace": "default",
        "url": "http://my-model.default.calvinruntime.net",
        "ready": True,
        # Documented additions (DESIGN §3).
        "image": SEED_IMAGE,
        "createdAt": CREATED,
    }


def test_a_ready_seed_model_reads_in_full_detail() -> None:
    isvc = ready_service(generation=2)

    assert detail(isvc) == {
        "name": "my-model",
        "namespace": "default",
        "url": "http://my-model.default.example.com",
        "ready": True,
        "image": SEED_IMAGE,
        "createdAt": CREATED,
        "generation": 2,
        "observedGeneration": 2,
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": STAMP}
            for kind in (
                "Ready",
                "PredictorReady",
                "IngressReady",
                "LatestDeploymentReady",
                "RoutesReady",
            )
        ],
        "latestCreatedRevision": "my-model-predictor-00002",
        "latestReadyRevision": "my-model-predictor-00002",
        "traffic": [
            {"revisionName": "my-model-predictor-00002", "percent": 100, "latestRevision": True}
        ],
        "modelStatus": {
            "transitionStatus": "UpToDate",
            "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
        },
        "envs": {"MODEL_PATH": "/models", "LOG_LEVEL": "INFO"},
        "deploymentMode": "Serverless",
        "labels": {},
        "annotations": {},
    }


# Detail: status


def test_conditions_carry_reason_message_and_transition_time() -> None:
    isvc = inference_service(
        state=build_status(
            name="my-model",
            namespace="default",
            generation=1,
            ready=False,
            reason="RevisionMissing",
            message="Configuration is waiting for a Revision to become ready.",
            now=NOW,
        )
    )

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert read.conditions[0].model_dump(by_alias=True) == {
        "type": "Ready",
        "status": "False",
        "reason": "RevisionMissing",
        "message": "Configuration is waiting for a Revision to become ready.",
        "lastTransitionTime": STAMP,
    }


def test_a_not_ready_model_has_a_created_but_no_ready_revision_and_no_traffic() -> None:
    isvc = inference_service(
        generation=3,
        state=build_status(
            name="my-model", namespace="default", generation=3, ready=False, now=NOW
        ),
    )

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.latest_created_revision, read.latest_ready_revision, read.traffic) == (
        "my-model-predictor-00003",
        None,
        [],
    )


def test_canary_traffic_is_split_between_revisions() -> None:
    state = build_status(
        name="my-model",
        namespace="default",
        generation=2,
        ready=True,
        revision="my-model-predictor-00002",
        now=NOW,
    )
    state["components"]["predictor"]["traffic"] = [
        {"revisionName": "my-model-predictor-00002", "percent": 10, "latestRevision": True},
        {
            "revisionName": "my-model-predictor-00001",
            "percent": 90,
            "latestRevision": False,
            "tag": "prev",
        },
    ]
    isvc = inference_service(
        generation=2, predictor=custom_predictor(canaryTrafficPercent=10), state=state
    )

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert [target.model_dump(by_alias=True, exclude_none=True) for target in read.traffic] == [
        {"revisionName": "my-model-predictor-00002", "percent": 10, "latestRevision": True},
        {
            "revisionName": "my-model-predictor-00001",
            "percent": 90,
            "latestRevision": False,
            "tag": "prev",
        },
    ]
    assert read.canary_traffic_percent == 10


def test_last_failure_info_is_surfaced_in_model_status() -> None:
    isvc = inference_service(
        state=build_status(
            name="my-model",
            namespace="default",
            generation=1,
            ready=False,
            reason="ModelLoadFailed",
            failure=FailureInfo(
                message="no model found at /mnt/models", location="my-model-abc", exit_code=1
            ),
            now=NOW,
        )
    )

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert read.model_status == {
        "transitionStatus": "BlockedByFailedLoad",
        "states": {"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
        "lastFailureInfo": {
            "reason": "ModelLoadFailed",
            "message": "no model found at /mnt/models",
            "time": STAMP,
            "location": "my-model-abc",
            "exitCode": 1,
        },
    }


@pytest.mark.parametrize(
    ("annotations", "state", "expected"),
    [
        (
            {"serving.kserve.io/deploymentMode": "Standard"},
            {"deploymentMode": "Serverless"},
            "Standard",
        ),
        ({}, {"deploymentMode": "RawDeployment"}, "RawDeployment"),
        ({}, {}, None),
    ],
    ids=["annotation-wins", "status-when-not-annotated", "neither"],
)
def test_deployment_mode_comes_from_the_annotation_else_the_status(
    annotations: dict[str, str], state: dict[str, Any], expected: str | None
) -> None:
    isvc = inference_service(annotations=annotations, state=state)

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert read.deployment_mode == expected


# Detail: spec


def test_envs_come_from_the_predictor_container() -> None:
    read = status.read_detail(inference_service(), url_template=TEMPLATE, domain=DOMAIN)
    assert read.envs == {"MODEL_PATH": "/models", "LOG_LEVEL": "INFO"}


def test_a_model_format_predictor_reads_envs_resources_and_storage_from_the_model() -> None:
    resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"nvidia.com/gpu": "1"}}
    predictor = {
        "model": {
            "modelFormat": {"name": "sklearn", "version": "1"},
            "runtime": "kserve-sklearnserver",
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
            "env": [{"name": "WORKERS", "value": "2"}],
            "resources": resources,
        },
        "minReplicas": 0,
        "maxReplicas": 3,
    }

    read = status.read_detail(
        inference_service(predictor=predictor), url_template=TEMPLATE, domain=DOMAIN
    )
    assert (
        read.image,
        read.model_format,
        read.runtime,
        read.storage_uri,
        read.envs,
        read.resources,
        read.min_replicas,
        read.max_replicas,
    ) == (
        None,
        "sklearn",
        "kserve-sklearnserver",
        "gs://kfserving-examples/models/sklearn/1.0/model",
        {"WORKERS": "2"},
        resources,
        0,
        3,
    )


@pytest.mark.parametrize(
    ("value_from", "shown"),
    [
        ({"secretKeyRef": {"name": "creds", "key": "token"}}, "(from secret creds/token)"),
        (
            {"configMapKeyRef": {"name": "settings", "key": "level"}},
            "(from configMap settings/level)",
        ),
        ({"fieldRef": {"fieldPath": "metadata.name"}}, "(from field metadata.name)"),
        ({"resourceFieldRef": {"resource": "limits.cpu"}}, "(from resource limits.cpu)"),
        ({"secretKeyRef": {"name": "creds"}}, "(from secret)"),
        ({"somethingNew": {}}, "(from a reference)"),
    ],
    ids=["secret", "configmap", "field", "resource", "secret-without-key", "unknown-kind"],
)
def test_an_env_set_by_reference_shows_its_source_not_its_value(
    value_from: dict[str, Any], shown: str
) -> None:
    predictor = custom_predictor()
    predictor["containers"][0]["env"] = [{"name": "TOKEN", "valueFrom": value_from}]

    read = status.read_detail(
        inference_service(predictor=predictor), url_template=TEMPLATE, domain=DOMAIN
    )
    assert read.envs == {"TOKEN": shown}


def test_an_env_without_a_value_is_empty_as_in_kubernetes() -> None:
    predictor = custom_predictor()
    predictor["containers"][0]["env"] = [{"name": "DEBUG"}]

    read = status.read_detail(
        inference_service(predictor=predictor), url_template=TEMPLATE, domain=DOMAIN
    )
    assert read.envs == {"DEBUG": ""}


@pytest.mark.parametrize(
    ("containers", "image"),
    [
        (
            [
                {"name": "sidecar", "image": "envoy:v1"},
                {"name": "kserve-container", "image": "model:v2"},
            ],
            "model:v2",
        ),
        ([{"name": "job1-custom-container", "image": "model:v3"}], "model:v3"),
        ([], None),
        ([{"name": "kserve-container"}], None),
    ],
    ids=["named-container-wins", "first-container", "no-containers", "no-image"],
)
def test_image_is_the_kserve_container_else_the_first_container(
    containers: list[dict[str, Any]], image: str | None
) -> None:
    isvc = inference_service(predictor={"containers": containers})

    assert status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN).image == image


@pytest.mark.parametrize(
    ("env", "storage_uri"),
    [
        ([{"name": "STORAGE_URI", "value": "s3://models/iris"}], "s3://models/iris"),
        ([{"name": "STORAGE_URI", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}], None),
        ([], None),
    ],
    ids=["literal", "from-secret-not-shown", "absent"],
)
def test_a_custom_containers_storage_uri_comes_from_its_storage_uri_env(
    env: list[dict[str, Any]], storage_uri: str | None
) -> None:
    predictor = custom_predictor()
    predictor["containers"][0]["env"] = env

    read = status.read_detail(
        inference_service(predictor=predictor), url_template=TEMPLATE, domain=DOMAIN
    )
    assert read.storage_uri == storage_uri


def test_container_resources_are_passed_on_as_given() -> None:
    resources = {"limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}}
    predictor = custom_predictor()
    predictor["containers"][0]["resources"] = resources

    read = status.read_detail(
        inference_service(predictor=predictor), url_template=TEMPLATE, domain=DOMAIN
    )
    assert read.resources == resources


def test_labels_and_annotations_are_read_from_metadata() -> None:
    isvc = inference_service(
        labels={"team": "vision"},
        annotations={"serving.kserve.io/deploymentMode": "Knative", "owner": "ana"},
    )

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.labels, read.annotations) == (
        {"team": "vision"},
        {"serving.kserve.io/deploymentMode": "Knative", "owner": "ana"},
    )


# Odd objects: written by other tools or older KServe versions


def test_a_status_that_is_a_list_reads_as_no_status() -> None:
    isvc = inference_service()
    isvc["status"] = [{"type": "Ready", "status": "True"}]

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.reason, read.conditions, read.observed_generation) == (
        False,
        "Pending",
        [],
        None,
    )


def test_conditions_that_are_not_objects_are_skipped() -> None:
    state = build_status(name="my-model", namespace="default", generation=1, ready=True, now=NOW)
    state["conditions"] = ["Ready", None, 7, {"status": "True"}, *state["conditions"][:1]]
    isvc = inference_service(state=state)

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert read.ready is True
    assert [condition.type for condition in read.conditions] == ["Ready"]


def test_a_condition_without_a_status_is_unknown() -> None:
    isvc = inference_service(state={"conditions": [{"type": "Ready"}], "observedGeneration": 1})

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.ready, read.conditions[0].status) == (False, "Unknown")


def test_a_predictor_without_containers_or_model_reads_empty() -> None:
    isvc = ready_service(predictor={"minReplicas": 1})

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.image, read.envs, read.resources, read.storage_uri, read.model_format) == (
        None,
        {},
        None,
        None,
        None,
    )


def test_metadata_without_generation_reads_as_unknown_generation() -> None:
    isvc = ready_service()
    del isvc["metadata"]["generation"]

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert (read.generation, read.observed_generation) == (None, 1)


def test_values_of_the_wrong_type_read_as_absent() -> None:
    state = build_status(name="my-model", namespace="default", generation=1, ready=True, now=NOW)
    state["observedGeneration"] = "1"
    state["components"]["predictor"]["traffic"] = [
        {"revisionName": 5, "percent": "100", "latestRevision": "yes"}
    ]
    state["modelStatus"] = "Loaded"
    isvc = inference_service(
        predictor={"containers": {"name": "kserve-container"}, "minReplicas": True},
        state=state,
        labels={"team": "vision", "replicas": 3},
    )
    isvc["metadata"]["generation"] = "1"

    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)
    assert read.model_dump(by_alias=True, exclude_none=True) == {
        "name": "my-model",
        "namespace": "default",
        "url": "http://my-model.default.example.com",
        # observedGeneration is not a number, so the Ready cannot be tied to the spec.
        "ready": False,
        "reason": "RolloutInProgress",
        "message": "the KServe controller has not yet observed the current generation",
        "createdAt": CREATED,
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": STAMP}
            for kind in (
                "Ready",
                "PredictorReady",
                "IngressReady",
                "LatestDeploymentReady",
                "RoutesReady",
            )
        ],
        "latestCreatedRevision": "my-model-predictor-00001",
        "latestReadyRevision": "my-model-predictor-00001",
        "traffic": [{}],
        "envs": {},
        "deploymentMode": "Serverless",
        "labels": {"team": "vision"},
        "annotations": {},
    }


@pytest.mark.parametrize(
    "isvc",
    [
        {},
        {"metadata": None, "spec": None, "status": None},
        {"metadata": [], "spec": "x", "status": 3},
        {"metadata": {"name": 1, "annotations": []}, "spec": {"predictor": []}},
        {"spec": {"predictor": {"containers": [None, "x"], "model": {"env": "A=1"}}}},
        {"spec": {"predictor": {"containers": [{"env": [None, {"value": "no-name"}]}]}}},
        {"status": {"conditions": {"type": "Ready"}, "components": []}},
        {"status": {"components": {"predictor": {"traffic": {"percent": 100}}}}},
    ],
    ids=[
        "empty",
        "nulls",
        "wrong-types",
        "odd-metadata",
        "odd-containers",
        "odd-env-entries",
        "conditions-not-a-list",
        "traffic-not-a-list",
    ],
)
def test_malformed_objects_read_as_pending_without_raising(isvc: dict[str, Any]) -> None:
    read = status.read_detail(isvc, url_template=TEMPLATE, domain=DOMAIN)

    assert (read.ready, read.reason, read.conditions, read.traffic, read.envs) == (
        False,
        "Pending",
        [],
        [],
        {},
    )
    assert status.read_summary(isvc, url_template=TEMPLATE, domain=DOMAIN).ready is False
