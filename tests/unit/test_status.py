"""Reading InferenceServices into the API's answers, against the status KServe writes.

Knative-mode statuses (revisions, traffic) come from ``build_status``, the
hand-built shape of what the local cluster cannot produce; Standard-mode ones,
recorded from the real controller, are in ``test_status_recorded.py``.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from kserve_functions.config import ModelUrls
from kserve_functions.objects import status
from support import objects
from support.knative_mode_status import FailureInfo, build_status

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
STAMP = "2026-01-02T03:04:05Z"
CREATED = "2026-01-01T00:00:00Z"
DOMAIN = "calvinruntime.net"
URLS = ModelUrls(domain=DOMAIN)
SEED_IMAGE = "registry.example.com/my-model:v1.0.0"


def custom_predictor(**fields: Any) -> dict[str, Any]:
    """A seed-style predictor: one ``kserve-container`` with the seed's image and envs."""
    predictor: dict[str, Any] = inference_service()["spec"]["predictor"]
    return {**predictor, **fields}


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
    """An InferenceService as the apiserver returns it, the seed's by default;
    ``predictor`` replaces its ``spec.predictor``, ``state`` is its ``status``."""
    isvc = objects.inference_service(
        namespace,
        name,
        SEED_IMAGE,
        metadata={
            "generation": generation,
            "creationTimestamp": CREATED,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        container={
            "imagePullPolicy": "Always",
            "env": [
                {"name": "MODEL_PATH", "value": "/models"},
                {"name": "LOG_LEVEL", "value": "INFO"},
            ],
        },
    )
    if predictor is not None:
        isvc["spec"]["predictor"] = predictor
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
    read = status.summary_of(isvc, urls=URLS)
    return read.model_dump(by_alias=True, exclude_none=True)


def detail(isvc: dict[str, Any]) -> dict[str, Any]:
    read = status.detail_of(isvc, urls=URLS)
    return read.model_dump(by_alias=True, exclude_none=True)


# Readiness


def test_ready_for_the_current_generation_is_ready() -> None:
    isvc = ready_service(generation=4)

    assert status.is_ready(isvc) is True
    read = status.summary_of(isvc, urls=URLS)
    assert (read.ready, read.reason, read.message) == (True, None, None)


def test_observed_generation_is_not_compared_with_the_models_generation() -> None:
    # KServe copies observedGeneration from the Knative Service (or Deployment),
    # whose generation counts its own changes: a lag says nothing about the model.
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

    assert status.is_ready(isvc) is True


def test_a_knative_revision_created_but_not_ready_is_a_rollout_in_progress() -> None:
    state = build_status(
        name="my-model", namespace="default", generation=2, ready=True, revision="r-1", now=NOW
    )
    state["components"]["predictor"]["latestCreatedRevision"] = "r-2"
    isvc = inference_service(generation=2, state=state)

    assert status.is_ready(isvc) is False
    read = status.summary_of(isvc, urls=URLS)
    assert (read.ready, read.reason, read.message) == (
        False,
        "RolloutInProgress",
        "the current spec is rolling out; the previous one still serves",
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
    read = status.summary_of(isvc, urls=URLS)
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

    read = status.summary_of(isvc, urls=URLS)
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
    read = status.summary_of(isvc, urls=URLS)
    assert (read.ready, read.reason, read.message) == (
        False,
        "Pending",
        "the KServe controller has not reported status yet",
    )


# URL and deployment mode

MODE = "serving.kserve.io/deploymentMode"


def test_status_url_is_preferred_over_the_prediction() -> None:
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

    url = status.model_url(isvc, URLS)
    assert url == "https://my-model.ml.example.org"


@pytest.mark.parametrize(
    ("annotation", "state"),
    [
        (None, {"url": "http://kserve.example.org"}),
        ("Standard", {"url": "http://kserve.example.org"}),
        ("ModelMesh", {"url": "http://kserve.example.org"}),
        ("standard", {"url": "http://kserve.example.org"}),
        (None, {"deploymentMode": "ModelMesh", "url": "http://kserve.example.org"}),
    ],
    ids=["knative", "standard", "modelmesh", "unknown-mode", "modelmesh-in-status"],
)
def test_status_url_wins_in_every_mode(annotation: str | None, state: dict[str, Any]) -> None:
    isvc = inference_service(annotations={MODE: annotation} if annotation else {}, state=state)

    assert status.model_url(isvc, URLS) == "http://kserve.example.org"


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
def test_without_status_url_or_mode_the_knative_url_is_predicted(
    state: dict[str, Any] | None,
) -> None:
    url = status.model_url(inference_service(state=state), URLS)
    assert url == "http://my-model.default.calvinruntime.net"


@pytest.mark.parametrize(
    ("annotation", "state", "mode", "url"),
    [
        # No status yet: the annotation decides; none at all is Knative.
        (None, None, "Knative", "http://iris.ml.calvinruntime.net"),
        ("Knative", None, "Knative", "http://iris.ml.calvinruntime.net"),
        ("Serverless", None, "Knative", "http://iris.ml.calvinruntime.net"),
        ("Standard", None, "Standard", "http://iris-ml.calvinruntime.net"),
        ("RawDeployment", None, "Standard", "http://iris-ml.calvinruntime.net"),
        ("ModelMesh", None, "ModelMesh", None),
        ("Triton", None, "Triton", None),
        ("standard", None, "standard", None),
        ("", None, "", None),
        # KServe's status.deploymentMode is the mode in force: it wins over the annotation.
        (None, {"deploymentMode": "Standard"}, "Standard", "http://iris-ml.calvinruntime.net"),
        ("Knative", {"deploymentMode": "Standard"}, "Standard", "http://iris-ml.calvinruntime.net"),
        ("Standard", {"deploymentMode": "Knative"}, "Knative", "http://iris.ml.calvinruntime.net"),
        (None, {"deploymentMode": "RawDeployment"}, "Standard", "http://iris-ml.calvinruntime.net"),
        ("Standard", {"deploymentMode": "Serverless"}, "Knative", "http://iris.ml.calvinruntime.net"),
        ("Standard", {"deploymentMode": "ModelMesh"}, "ModelMesh", None),
        # An empty or non-string status.deploymentMode is no report: the annotation decides.
        ("Standard", {"deploymentMode": ""}, "Standard", "http://iris-ml.calvinruntime.net"),
        ("RawDeployment", {"deploymentMode": 1}, "Standard", "http://iris-ml.calvinruntime.net"),
        (None, {"deploymentMode": ""}, "Knative", "http://iris.ml.calvinruntime.net"),
    ],
    ids=[
        "no-annotation",
        "knative",
        "serverless-is-knative",
        "standard",
        "rawdeployment-is-standard",
        "modelmesh-unknown-url",
        "other-mode-unknown-url",
        "case-sensitive",
        "empty-annotation",
        "status-without-annotation",
        "status-over-annotation",
        "status-knative-over-annotation",
        "status-rawdeployment",
        "status-serverless",
        "status-modelmesh",
        "empty-status-mode",
        "non-string-status-mode",
        "empty-status-mode-no-annotation",
    ],
)  # fmt: skip
def test_the_url_is_predicted_for_the_deployment_mode_in_force(
    annotation: str | None, state: dict[str, Any] | None, mode: str, url: str | None
) -> None:
    isvc = inference_service(
        name="iris",
        namespace="ml",
        annotations={MODE: annotation} if annotation is not None else {},
        state=state,
    )

    assert status.deployment_mode(isvc) == mode
    assert status.model_url(isvc, URLS) == url


@pytest.mark.parametrize(
    ("annotation", "url"),
    [
        ("Standard", "https://iris.ml.svc.ai.io/v1"),
        ("Knative", "https://ai.io/ml/iris"),
        (None, "https://ai.io/ml/iris"),
    ],
    ids=["standard", "knative", "no-annotation"],
)
def test_the_configured_templates_are_used_with_the_configured_domain(
    annotation: str | None, url: str
) -> None:
    urls = ModelUrls(
        domain="ai.io",
        standard_template="https://{name}.{namespace}.svc.{domain}/v1",
        knative_template="https://{domain}/{namespace}/{name}",
    )
    isvc = inference_service(
        name="iris", namespace="ml", annotations={MODE: annotation} if annotation else {}
    )

    assert status.model_url(isvc, urls) == url


def test_the_default_templates_are_kserves_standard_and_knatives_host_shapes() -> None:
    assert ModelUrls() == ModelUrls(
        domain="example.com",
        standard_template="http://{name}-{namespace}.{domain}",
        knative_template="http://{name}.{namespace}.{domain}",
    )


@pytest.mark.parametrize(
    ("annotation", "url"),
    [
        ("Standard", "http://my-model-default.calvinruntime.net"),
        ("ModelMesh", None),
    ],
    ids=["standard", "modelmesh"],
)
def test_summary_and_detail_carry_the_models_url(annotation: str, url: str | None) -> None:
    isvc = inference_service(annotations={MODE: annotation})

    assert status.summary_of(isvc, urls=URLS).url == url
    assert status.detail_of(isvc, urls=URLS).url == url


def test_an_unknown_url_is_null_in_the_answer_not_left_out() -> None:
    isvc = inference_service(annotations={MODE: "ModelMesh"})

    assert summary(isvc) == {
        "name": "my-model",
        "namespace": "default",
        "url": None,
        "ready": False,
        "state": "starting",
        "generation": 1,
        "image": SEED_IMAGE,
        "reason": "Pending",
        "message": "the KServe controller has not reported status yet",
        "createdAt": CREATED,
        "deploymentMode": "ModelMesh",
    }


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
        "state": "ready",
        "generation": 1,
        "image": SEED_IMAGE,
        "createdAt": CREATED,
        "deploymentMode": "Knative",
    }


def test_a_ready_seed_model_reads_in_full_detail() -> None:
    isvc = ready_service(generation=2)

    assert detail(isvc) == {
        "name": "my-model",
        "namespace": "default",
        "url": "http://my-model.default.example.com",
        "ready": True,
        "state": "ready",
        "generation": 2,
        "image": SEED_IMAGE,
        "createdAt": CREATED,
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
        # The stand-in reports the old name "Serverless"; it is read as the new one.
        "deploymentMode": "Knative",
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

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
    assert read.model_status == {
        "transitionStatus": "BlockedByFailedLoad",
        "states": {"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
        "lastFailureInfo": {
            "reason": "ModelLoadFailed",
            "message": "no model found at /mnt/models",
            "location": "my-model-abc",
            "exitCode": 1,
        },
    }


@pytest.mark.parametrize(
    ("annotations", "state", "expected"),
    [
        ({MODE: "Standard"}, {"deploymentMode": "Knative"}, "Knative"),
        ({MODE: "Standard"}, {}, "Standard"),
        ({}, {"deploymentMode": "Standard"}, "Standard"),
        ({MODE: "RawDeployment"}, {}, "Standard"),
        ({}, {"deploymentMode": "Serverless"}, "Knative"),
        ({MODE: "ModelMesh"}, {}, "ModelMesh"),
        ({}, {}, None),
    ],
    ids=[
        "status-wins",
        "annotation-without-status",
        "status-without-annotation",
        "old-annotation-name",
        "old-status-name",
        "modelmesh",
        "neither",
    ],
)
def test_the_detail_shows_the_reported_deployment_mode(
    annotations: dict[str, str], state: dict[str, Any], expected: str | None
) -> None:
    isvc = inference_service(annotations=annotations, state=state)

    read = status.detail_of(isvc, urls=URLS)
    assert read.deployment_mode == expected


# Detail: spec


def test_envs_come_from_the_predictor_container() -> None:
    read = status.detail_of(inference_service(), urls=URLS)
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

    read = status.detail_of(inference_service(predictor=predictor), urls=URLS)
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

    read = status.detail_of(inference_service(predictor=predictor), urls=URLS)
    assert read.envs == {"TOKEN": shown}


def test_an_env_without_a_value_is_empty_as_in_kubernetes() -> None:
    predictor = custom_predictor()
    predictor["containers"][0]["env"] = [{"name": "DEBUG"}]

    read = status.detail_of(inference_service(predictor=predictor), urls=URLS)
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

    assert status.summary_of(isvc, urls=URLS).image == image


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

    read = status.detail_of(inference_service(predictor=predictor), urls=URLS)
    assert read.storage_uri == storage_uri


def test_container_resources_are_passed_on_as_given() -> None:
    resources = {"limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}}
    predictor = custom_predictor()
    predictor["containers"][0]["resources"] = resources

    read = status.detail_of(inference_service(predictor=predictor), urls=URLS)
    assert read.resources == resources


def test_labels_and_annotations_are_read_from_metadata() -> None:
    isvc = inference_service(
        labels={"team": "vision"},
        annotations={"serving.kserve.io/deploymentMode": "Knative", "owner": "ana"},
    )

    read = status.detail_of(isvc, urls=URLS)
    assert (read.labels, read.annotations) == (
        {"team": "vision"},
        {"serving.kserve.io/deploymentMode": "Knative", "owner": "ana"},
    )


# Odd objects: written by other tools or older KServe versions


def test_a_status_that_is_a_list_reads_as_no_status() -> None:
    isvc = inference_service()
    isvc["status"] = [{"type": "Ready", "status": "True"}]

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
    assert read.ready is True
    assert [condition.type for condition in read.conditions] == ["Ready"]


def test_a_condition_without_a_status_is_unknown() -> None:
    isvc = inference_service(state={"conditions": [{"type": "Ready"}], "observedGeneration": 1})

    read = status.detail_of(isvc, urls=URLS)
    assert (read.ready, read.conditions[0].status) == (False, "Unknown")


def test_a_predictor_without_containers_or_model_reads_empty() -> None:
    isvc = ready_service(predictor={"minReplicas": 1})

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
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

    read = status.detail_of(isvc, urls=URLS)
    assert read.model_dump(by_alias=True, exclude_none=True) == {
        "name": "my-model",
        "namespace": "default",
        "url": "http://my-model.default.example.com",
        # Odd values elsewhere do not hide KServe's Ready condition.
        "ready": True,
        "state": "ready",
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
        "deploymentMode": "Knative",
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
    read = status.detail_of(isvc, urls=URLS)

    assert (read.ready, read.reason, read.conditions, read.traffic, read.envs) == (
        False,
        "Pending",
        [],
        [],
        {},
    )
    assert status.summary_of(isvc, urls=URLS).ready is False


# -- one word for where a model is (status.model_state), and why ----------------


def not_ready(**fields: Any) -> dict[str, Any]:
    state = build_status(
        name="my-model", namespace="default", generation=1, ready=False, now=NOW, **fields
    )
    return inference_service(state=state)


def pod(*, conditions: list[dict[str, Any]] | None = None, **status_fields: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "my-model-predictor-abc"},
        "status": {"conditions": conditions or [], **status_fields},
    }


UNSCHEDULABLE = pod(
    conditions=[
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        }
    ]
)
CRASHING = pod(
    containerStatuses=[
        {
            "name": "kserve-container",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
            "lastState": {"terminated": {"exitCode": 3, "message": "model file is corrupt"}},
        }
    ]
)
PULL_FAILING = pod(
    containerStatuses=[
        {
            "name": "kserve-container",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}},
        }
    ]
)


def test_a_model_without_status_is_starting() -> None:
    standing = status.model_state(inference_service())

    assert standing == status.Standing("starting", "Pending", status.PENDING_MESSAGE)


def test_a_ready_model_is_ready_without_reason() -> None:
    assert status.model_state(ready_service()) == status.Standing("ready")


def test_a_repeated_condition_type_reads_as_its_first() -> None:
    isvc = ready_service()
    conditions = isvc["status"]["conditions"]
    conditions.append({"type": "Ready", "status": "False", "reason": "Later"})
    isvc_later_first = ready_service()
    isvc_later_first["status"]["conditions"].insert(0, conditions[-1])

    assert status.model_state(isvc) == status.Standing("ready")
    assert status.model_state(isvc_later_first) == status.Standing("starting", "Later", None)


def test_a_failed_load_is_failed_with_the_exit_code() -> None:
    isvc = not_ready(
        reason="MinimumReplicasUnavailable",
        failure=FailureInfo(reason="ModelLoadFailed", message="corrupt", exit_code=3),
    )

    assert status.model_state(isvc) == status.Standing(
        "failed", "ModelLoadFailed", "corrupt (exit code 3)"
    )


@pytest.mark.parametrize(
    ("pods", "reason", "message"),
    [
        (
            [UNSCHEDULABLE],
            "Unschedulable",
            "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        ),
        (
            [CRASHING],
            "CrashLoopBackOff",
            "container kserve-container: model file is corrupt (exit code 3)",
        ),
        ([PULL_FAILING], "ImagePullBackOff", "container kserve-container: no such image"),
    ],
    ids=["unschedulable", "crash-loop", "image-pull"],
)
def test_pods_that_cannot_serve_make_a_starting_model_failed(
    pods: list[dict[str, Any]], reason: str, message: str
) -> None:
    isvc = not_ready(reason="MinimumReplicasUnavailable", message="no minimum availability")

    assert status.model_state(isvc).state == "starting"
    assert status.model_state(isvc, pods=pods) == status.Standing("failed", reason, message)


def test_pods_being_created_or_terminating_explain_nothing() -> None:
    isvc = not_ready(reason="MinimumReplicasUnavailable")
    creating = pod(
        containerStatuses=[
            {"name": "kserve-container", "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]
    )
    leaving = {**CRASHING, "metadata": {"name": "old", "deletionTimestamp": "2026-01-01T00:00:00Z"}}

    assert status.model_state(isvc, pods=[creating, leaving]).state == "starting"


def test_a_ready_model_rolling_out_is_updating() -> None:
    rollout = status.Rollout(complete=False, message=status.ROLLOUT_MESSAGE)

    standing = status.model_state(ready_service(), rollout=rollout)

    assert standing == status.Standing("updating", status.ROLLOUT_REASON, status.ROLLOUT_MESSAGE)


def test_a_stopped_model_is_stopped() -> None:
    isvc = not_ready(reason="Stopped")
    isvc["status"]["conditions"].append({"type": "Stopped", "status": "True"})

    assert status.model_state(isvc) == status.Standing(
        "stopped", status.STOPPED_REASON, status.STOPPED_MESSAGE
    )


def test_deleting_comes_before_everything() -> None:
    isvc = ready_service()
    isvc["metadata"]["deletionTimestamp"] = "2026-01-02T00:00:00Z"

    standing = status.model_state(isvc, pods=[CRASHING])

    assert standing == status.Standing("deleting", status.DELETING_REASON, status.DELETING_MESSAGE)


def test_the_summary_carries_state_and_generation() -> None:
    isvc = not_ready()
    standing = status.model_state(isvc, pods=[UNSCHEDULABLE])
    summary = status.summary_of(isvc, urls=ModelUrls(), standing=standing)

    assert (summary.ready, summary.state, summary.reason) == (False, "failed", "Unschedulable")
    assert summary.generation == 1


# Canary: stable and canary side by side (issue 11)


def _with_canary(ready: bool | None, *, reported: bool = True) -> dict[str, Any]:
    isvc = ready_service()
    isvc["spec"]["predictor"]["containers"][0]["env"].append(
        {"name": "STORAGE_URI", "value": "s3://v1"}
    )
    isvc["spec"]["canary"] = [
        {
            "predictor": {
                "name": "canary",
                "containers": [{"name": "kserve-container", "image": "r/m:2"}],
            },
            "trafficPercent": 20,
        }
    ]
    if ready is not None:
        isvc["status"]["conditions"].append(
            {"type": "CanaryPredictorReady", "status": "True" if ready else "False"}
        )
        if reported:
            isvc["status"]["canaryStatuses"] = [
                {"name": "canary", "ready": ready, "trafficPercent": 20}
            ]
    return isvc


def test_a_standard_canary_shows_beside_the_stable_predictor() -> None:
    read = detail(_with_canary(True))

    assert read["stable"] == {
        "image": SEED_IMAGE,
        "storageUri": "s3://v1",
        "trafficPercent": 80,
        "ready": True,
    }
    # KServe runs the canary as the entry merged over the stable predictor: its own
    # container (whole), the stable one's everything else.
    assert read["canary"] == {
        "name": "canary",
        "image": "r/m:2",
        "trafficPercent": 20,
        "ready": True,
    }


@pytest.mark.parametrize(
    ("ready", "reported", "shown"),
    [(False, True, False), (True, False, True), (None, False, None)],
)
def test_canary_readiness_is_canary_statuses_else_the_condition(
    ready: bool | None, reported: bool, shown: bool | None
) -> None:
    canary = detail(_with_canary(ready, reported=reported))["canary"]

    assert canary.get("ready") == shown


def test_a_knative_canary_reads_the_split_from_the_traffic() -> None:
    isvc = ready_service()
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = 10
    isvc["status"]["components"] = {
        "predictor": {
            "latestCreatedRevision": "m-predictor-00002",
            "latestReadyRevision": "m-predictor-00002",
            "traffic": [
                {"revisionName": "m-predictor-00002", "percent": 10, "latestRevision": True},
                {"revisionName": "m-predictor-00001", "percent": 90, "latestRevision": False},
            ],
        }
    }

    read = detail(isvc)

    assert read["stable"] == {"revision": "m-predictor-00001", "trafficPercent": 90, "ready": True}
    assert read["canary"] == {
        "revision": "m-predictor-00002",
        "image": SEED_IMAGE,
        "trafficPercent": 10,
        "ready": True,
    }


@pytest.mark.parametrize("percent", [None, 0, 100])
def test_without_a_canary_the_detail_has_no_sides(percent: int | None) -> None:
    isvc = ready_service()
    if percent is not None:
        isvc["spec"]["predictor"]["canaryTrafficPercent"] = percent

    read = detail(isvc)

    assert "stable" not in read
    assert "canary" not in read


# Automatic promotion: the decision (canary.autoPromote)

T0 = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)


def _opted_in(
    after: str | None, *, ready: bool | None, since: str = "2026-11-29T12:00:00Z"
) -> dict[str, Any]:
    isvc = _with_canary(ready)
    if after is not None:
        isvc["spec"]["canary"][0]["predictor"]["annotations"] = {
            "kserve-functions.dev/auto-promote-after-seconds": after
        }
    for condition in isvc["status"]["conditions"]:
        if condition["type"] == "CanaryPredictorReady":
            condition["lastTransitionTime"] = since
    return isvc


CRASHING_POD = {
    "metadata": {"name": "my-model-canary-predictor-1-a"},
    "status": {
        "containerStatuses": [
            {
                "name": "kserve-container",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 3, "message": "corrupt"}},
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("seconds_later", "expected"),
    [
        (30, status.AutoCanary("promote", "Ready for 30s")),
        (31, status.AutoCanary("promote", "Ready for 30s")),
        (10.5, status.AutoCanary("wait", wait_seconds=20)),
    ],
)
def test_a_ready_canary_is_promoted_after_its_seconds(
    seconds_later: float, expected: status.AutoCanary
) -> None:
    now = T0 + datetime.timedelta(seconds=seconds_later)

    assert status.auto_canary(_opted_in("30", ready=True), [], now=now) == expected


def test_a_failing_canary_is_aborted_even_before_ready() -> None:
    decision = status.auto_canary(_opted_in("30", ready=False), [CRASHING_POD], now=T0)

    assert decision == status.AutoCanary(
        "abort", "CrashLoopBackOff: container kserve-container: corrupt (exit code 3)"
    )


@pytest.mark.parametrize(
    ("after", "ready"),
    [(None, True), ("soon", True), ("30", False), ("30", None)],
)
def test_nothing_is_due_without_opt_in_or_readiness(after: str | None, ready: bool | None) -> None:
    assert (
        status.auto_canary(_opted_in(after, ready=ready), [], now=T0 + datetime.timedelta(hours=1))
        is None
    )


def test_a_stopped_or_deleted_model_is_not_finished() -> None:
    stopped = _opted_in("0", ready=True)
    stopped["status"]["conditions"].append({"type": "Stopped", "status": "True"})
    deleting = _opted_in("0", ready=True)
    deleting["metadata"]["deletionTimestamp"] = "2026-11-29T12:00:00Z"

    assert status.auto_canary(stopped, [CRASHING_POD], now=T0) is None
    assert status.auto_canary(deleting, [CRASHING_POD], now=T0) is None


def test_a_summary_names_the_last_change_its_runtime_and_mode() -> None:
    isvc = objects.inference_service(
        "team-a",
        "iris",
        metadata={
            "annotations": {
                "kserve-functions.dev/changed-by": "alice",
                "kserve-functions.dev/changed-at": "2026-12-07T03:00:00Z",
                "serving.kserve.io/deploymentMode": "Standard",
            }
        },
        predictor={
            "model": {"modelFormat": {"name": "sklearn"}, "runtime": "kserve-sklearnserver"}
        },
    )

    listed = status.summary_of(isvc, urls=ModelUrls())

    assert (listed.changed_by, listed.changed_at) == ("alice", "2026-12-07T03:00:00Z")
    assert (listed.runtime, listed.deployment_mode) == ("kserve-sklearnserver", "Standard")


def test_a_model_changed_by_no_one_through_the_api_names_no_one() -> None:
    listed = status.summary_of(objects.inference_service("team-a", "iris"), urls=ModelUrls())

    assert (listed.changed_by, listed.changed_at, listed.runtime) == (None, None, None)
