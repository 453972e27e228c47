"""The InferenceService builder: exact manifests, and every key declared by the real CRD."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from controlplane import crds
from controlplane.cluster import Settings
from kserve_functions.core.models import DeployRequest
from kserve_functions.objects import manifests

TOKEN = "token-1"

# The seed README's POST /deploy body.
SEED = {
    "name": "my-model",
    "image": "registry.example.com/my-model:v1.0.0",
    "envs": {"MODEL_PATH": "/models", "LOG_LEVEL": "INFO"},
    "namespace": "default",
}
MODEL = {
    "name": "iris",
    "modelFormat": {"name": "sklearn", "version": "1"},
    "runtime": "kserve-sklearnserver",
    "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
}
EVERYTHING: dict[str, Any] = {
    **SEED,
    "namespace": "ml",
    "storageUri": "s3://models/iris",
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "2Gi", "nvidia.com/gpu": "1"},
    },
    "minReplicas": 0,
    "maxReplicas": 3,
    "scaleTarget": 10,
    "scaleMetric": "concurrency",
    "canaryTrafficPercent": 20,
    "args": ["--workers", "2"],
    "port": 8080,
    "serviceAccountName": "model-reader",
    "nodeSelector": {"accelerator": "a100"},
    "tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "yes", "tolerationSeconds": 30},
    ],
    "labels": {"team": "vision"},
    "annotations": {"example.com/owner": "alice"},
    "deploymentMode": "Knative",
    "autoUpdate": True,
}


def build(body: dict[str, Any], *, restart_token: str = TOKEN) -> dict[str, Any]:
    return manifests.build_inference_service(
        DeployRequest.model_validate(body), restart_token=restart_token
    )


def predictor(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = build(body)["spec"]["predictor"]
    return result


def container(body: dict[str, Any]) -> dict[str, Any]:
    [only] = predictor(body)["containers"]
    result: dict[str, Any] = only
    return result


def test_seed_request_gives_the_minimal_manifest() -> None:
    assert build(SEED) == {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "my-model",
            "namespace": "default",
            "labels": {"app.kubernetes.io/managed-by": "kserve-functions"},
        },
        "spec": {
            "predictor": {
                "annotations": {"kserve-functions.dev/restart-token": TOKEN},
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": "registry.example.com/my-model:v1.0.0",
                        "imagePullPolicy": "Always",
                        "env": [
                            {"name": "MODEL_PATH", "value": "/models"},
                            {"name": "LOG_LEVEL", "value": "INFO"},
                        ],
                    }
                ],
            }
        },
    }


def test_env_keeps_request_order() -> None:
    envs = {"Z": "1", "A": "2", "M": "3"}
    assert [e["name"] for e in container({**SEED, "envs": envs})["env"]] == ["Z", "A", "M"]


def test_no_envs_means_no_env_key() -> None:
    assert "env" not in container({"name": "m", "image": "img:1"})


@pytest.mark.parametrize(
    ("field", "value", "key", "expected"),
    [
        ("minReplicas", 0, "minReplicas", 0),
        ("maxReplicas", 4, "maxReplicas", 4),
        ("scaleTarget", 50, "scaleTarget", 50),
        ("scaleMetric", "rps", "scaleMetric", "rps"),
        ("canaryTrafficPercent", 10, "canaryTrafficPercent", 10),
        ("serviceAccountName", "reader", "serviceAccountName", "reader"),
        ("nodeSelector", {"zone": "a"}, "nodeSelector", {"zone": "a"}),
        (
            "tolerations",
            [{"key": "spot", "operator": "Equal", "value": "yes", "tolerationSeconds": 30}],
            "tolerations",
            [{"key": "spot", "operator": "Equal", "value": "yes", "tolerationSeconds": 30}],
        ),
    ],
)
def test_predictor_option_lands_on_the_predictor(
    field: str, value: Any, key: str, expected: Any
) -> None:
    assert predictor({**SEED, field: value})[key] == expected


@pytest.mark.parametrize(
    ("field", "value", "key", "expected"),
    [
        ("args", ["--port", "9000"], "args", ["--port", "9000"]),
        ("port", 9000, "ports", [{"containerPort": 9000, "protocol": "TCP"}]),
        (
            "resources",
            {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
            "resources",
            {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
        ),
    ],
)
@pytest.mark.parametrize("base", [SEED, MODEL], ids=["container", "model"])
def test_process_option_lands_on_the_serving_container(
    base: dict[str, Any], field: str, value: Any, key: str, expected: Any
) -> None:
    spec = predictor({**base, field: value})
    serving = spec["model"] if "model" in spec else spec["containers"][0]
    assert serving[key] == expected


@pytest.mark.parametrize(
    ("field", "value", "absent"),
    [
        ("args", [], "args"),
        ("nodeSelector", {}, "nodeSelector"),
        ("tolerations", [], "tolerations"),
        ("resources", {}, "resources"),
        ("resources", {"requests": {}, "limits": {}}, "resources"),
    ],
)
def test_empty_optional_field_is_left_out(field: str, value: Any, absent: str) -> None:
    manifest = build({**SEED, field: value})
    assert absent not in manifest["spec"]["predictor"]
    assert absent not in manifest["spec"]["predictor"]["containers"][0]


def test_absent_optional_fields_are_left_out() -> None:
    assert set(predictor(SEED)) == {"annotations", "containers"}
    assert set(container(SEED)) == {"name", "image", "imagePullPolicy", "env"}


def test_gpu_resources_reach_requests_and_limits() -> None:
    resources = {"requests": {"nvidia.com/gpu": "2", "cpu": "4"}, "limits": {"nvidia.com/gpu": "2"}}
    assert container({**SEED, "resources": resources})["resources"] == {
        "requests": {"nvidia.com/gpu": "2", "cpu": "4"},
        "limits": {"nvidia.com/gpu": "2"},
    }


def test_empty_resource_half_is_left_out() -> None:
    resources = {"limits": {"nvidia.com/gpu": "1"}}
    assert container({**SEED, "resources": resources})["resources"] == {
        "limits": {"nvidia.com/gpu": "1"}
    }


def test_auto_update_labels_and_tracks_the_requested_image() -> None:
    metadata = build({**SEED, "autoUpdate": True})["metadata"]
    assert metadata["labels"][manifests.AUTO_UPDATE_LABEL] == "true"
    assert metadata["annotations"] == {
        manifests.TRACKED_IMAGE_ANNOTATION: "registry.example.com/my-model:v1.0.0"
    }


def test_without_auto_update_there_is_no_label_and_no_tracked_image() -> None:
    metadata = build({**SEED, "autoUpdate": False})["metadata"]
    assert manifests.AUTO_UPDATE_LABEL not in metadata["labels"]
    assert "annotations" not in metadata


def test_auto_update_of_a_model_format_predictor_tracks_no_image() -> None:
    metadata = build({**MODEL, "autoUpdate": True})["metadata"]
    assert metadata["labels"][manifests.AUTO_UPDATE_LABEL] == "true"
    assert "annotations" not in metadata


@pytest.mark.parametrize("mode", ["Standard", "Knative", "RawDeployment"])
def test_deployment_mode_becomes_the_kserve_annotation(mode: str) -> None:
    annotations = build({**SEED, "deploymentMode": mode})["metadata"]["annotations"]
    assert annotations == {"serving.kserve.io/deploymentMode": mode}


def test_deployment_mode_field_wins_over_a_caller_annotation() -> None:
    body = {
        **SEED,
        "deploymentMode": "Standard",
        "annotations": {"serving.kserve.io/deploymentMode": "Knative"},
    }
    annotations = build(body)["metadata"]["annotations"]
    assert annotations[manifests.DEPLOYMENT_MODE_ANNOTATION] == "Standard"


def test_caller_labels_and_annotations_are_carried() -> None:
    body = {**SEED, "labels": {"team": "vision"}, "annotations": {"example.com/a": "b"}}
    metadata = build(body)["metadata"]
    assert metadata["labels"] == {"team": "vision", manifests.MANAGED_BY_LABEL: "kserve-functions"}
    assert metadata["annotations"] == {"example.com/a": "b"}


def test_caller_labels_cannot_override_managed_by() -> None:
    body = {**SEED, "labels": {"app.kubernetes.io/managed-by": "someone-else"}}
    assert build(body)["metadata"]["labels"] == {manifests.MANAGED_BY_LABEL: manifests.MANAGED_BY}


def test_model_format_predictor_has_a_model_and_no_containers() -> None:
    assert predictor(MODEL) == {
        "annotations": {manifests.RESTART_TOKEN_ANNOTATION: TOKEN},
        "model": {
            "modelFormat": {"name": "sklearn", "version": "1"},
            "runtime": "kserve-sklearnserver",
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
        },
    }


def test_model_format_without_version_runtime_or_storage_is_only_the_format() -> None:
    assert predictor({"name": "iris", "modelFormat": {"name": "onnx"}})["model"] == {
        "modelFormat": {"name": "onnx"}
    }


def test_model_format_predictor_carries_envs() -> None:
    model = predictor({**MODEL, "envs": {"A": "1"}})["model"]
    assert model["env"] == [{"name": "A", "value": "1"}]


def test_storage_uri_with_a_custom_image_becomes_the_storage_uri_env() -> None:
    env = container({**SEED, "storageUri": "s3://models/iris"})["env"]
    assert env == [
        {"name": "MODEL_PATH", "value": "/models"},
        {"name": "LOG_LEVEL", "value": "INFO"},
        {"name": "STORAGE_URI", "value": "s3://models/iris"},
    ]


def test_explicit_storage_uri_env_wins_over_the_field_without_a_duplicate() -> None:
    body = {**SEED, "envs": {"STORAGE_URI": "gs://a"}, "storageUri": "gs://b"}
    assert container(body)["env"] == [{"name": "STORAGE_URI", "value": "gs://a"}]


def test_restart_token_lands_in_predictor_annotations_only() -> None:
    manifest = build({**SEED, "annotations": {"example.com/a": "b"}}, restart_token="abc")
    assert manifest["spec"]["predictor"]["annotations"] == {
        "kserve-functions.dev/restart-token": "abc"
    }
    assert manifests.RESTART_TOKEN_ANNOTATION not in manifest["metadata"]["annotations"]


def test_a_new_token_changes_only_the_token() -> None:
    first, second = build(SEED, restart_token="a"), build(SEED, restart_token="b")
    second["spec"]["predictor"]["annotations"] = first["spec"]["predictor"]["annotations"]
    assert first == second


def test_empty_restart_token_is_refused() -> None:
    with pytest.raises(ValueError, match="restart_token"):
        build(SEED, restart_token="")


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


SAMPLES = [SEED, MODEL, EVERYTHING, {**MODEL, "namespace": "ml", "autoUpdate": True}]
SAMPLE_IDS = ["seed", "model", "everything", "model-auto-update"]


@pytest.mark.parametrize("body", SAMPLES, ids=SAMPLE_IDS)
def test_no_none_and_no_empty_collection_anywhere(body: dict[str, Any]) -> None:
    for path, value in walk(build(body)):
        assert value is not None, path
        assert value not in ({}, []), path


# --- structural check against the real CRD -------------------------------------------------

# The CRD declares metadata as a bare object: the apiserver validates ObjectMeta itself.
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str) -> Iterator[str]:
    """Every place where ``value`` is not what ``schema`` declares (a structural subset)."""
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            yield f"{path}: {value!r} is neither integer nor string"
        return
    kind = schema.get("type")
    # bool is an int in Python, not an integer in JSON.
    if kind is not None and (
        not isinstance(value, JSON_TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))
    ):
        yield f"{path}: {value!r} is not of type {kind}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        yield from object_errors(value, schema, path)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from schema_errors(item, schema["items"], f"{path}[{index}]")


def object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> Iterator[str]:
    for key in schema.get("required", []):
        if key not in value:
            yield f"{path}: required {key} missing"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            yield from schema_errors(item, properties[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            yield from schema_errors(item, extra, f"{path}.{key}")
        elif not (extra is True or schema.get("x-kubernetes-preserve-unknown-fields")):
            yield f"{path}.{key}: not declared (the apiserver would prune it)"


@pytest.fixture(scope="module")
def isvc_schema() -> dict[str, Any]:
    # KServe's own, from the pinned Go module (or CRD_DIR's).
    crd_dir = Settings.from_environment().crd_dir
    crd_file = crds.crd_file("kserve", "serving.kserve.io_inferenceservices.yaml", crd_dir)
    with crd_file.open() as stream:
        crd = yaml.load(stream, Loader=yaml.CSafeLoader)  # the safe loader, in C
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    return {**schema, "properties": {**schema["properties"], "metadata": OBJECT_META}}


def test_schema_checker_catches_a_misplaced_field(isvc_schema: dict[str, Any]) -> None:
    manifest = build(SEED)
    manifest["spec"]["predictor"]["storageUri"] = "s3://x"  # lives in model, not here
    manifest["spec"]["predictor"]["minReplicas"] = "1"
    assert set(schema_errors(manifest, isvc_schema, "")) == {
        ".spec.predictor.minReplicas: '1' is not of type integer",
        ".spec.predictor.storageUri: not declared (the apiserver would prune it)",
    }


@pytest.mark.parametrize("body", SAMPLES, ids=SAMPLE_IDS)
def test_manifest_matches_the_real_crd_schema(
    body: dict[str, Any], isvc_schema: dict[str, Any]
) -> None:
    assert list(schema_errors(build(body), isvc_schema, "")) == []


# --- canary (issue 11) ----------------------------------------------------------------------

CANARY_STABLE = {**SEED, "storageUri": "s3://models/v1", "minReplicas": 2, "maxReplicas": 4}


def test_a_standard_canary_is_a_named_spec_canary_entry_beside_the_stable_predictor() -> None:
    manifest = build({**CANARY_STABLE, "canary": {"trafficPercent": 20, "image": "r/m:2"}})

    assert manifest["spec"]["predictor"] == build(CANARY_STABLE)["spec"]["predictor"]
    [entry] = manifest["spec"]["canary"]
    assert entry["trafficPercent"] == 20
    # KServe merges the entry over the stable predictor; a container list replaces the
    # stable one whole, so the canary's container is complete. No autoscaling fields:
    # KServe's webhook refuses them on a canary (it runs fixed replicas).
    assert entry["predictor"] == {
        "name": "canary",
        "containers": [
            {
                "name": "kserve-container",
                "image": "r/m:2",
                "imagePullPolicy": "Always",
                "env": [
                    {"name": "MODEL_PATH", "value": "/models"},
                    {"name": "LOG_LEVEL", "value": "INFO"},
                    {"name": "STORAGE_URI", "value": "s3://models/v1"},
                ],
            }
        ],
    }


def test_a_model_format_canary_changes_its_model() -> None:
    manifest = build({**MODEL, "canary": {"trafficPercent": 10, "storageUri": "gs://v2"}})

    [entry] = manifest["spec"]["canary"]
    assert entry["predictor"]["model"]["storageUri"] == "gs://v2"
    assert entry["predictor"]["model"]["modelFormat"] == {"name": "sklearn", "version": "1"}


@pytest.mark.parametrize("mode", ["Knative", "Serverless"])
def test_a_knative_canary_is_the_new_predictor_with_canary_traffic_percent(mode: str) -> None:
    body = {**CANARY_STABLE, "deploymentMode": mode}
    manifest = build({**body, "canary": {"trafficPercent": 30, "envs": {"LOG_LEVEL": "DEBUG"}}})

    assert "canary" not in manifest["spec"]
    predictor = manifest["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 30
    assert predictor["minReplicas"] == 2
    assert predictor["containers"][0]["env"] == [
        {"name": "LOG_LEVEL", "value": "DEBUG"},
        {"name": "STORAGE_URI", "value": "s3://models/v1"},
    ]


def test_the_models_own_mode_overrides_the_requests_default() -> None:
    request = DeployRequest.model_validate(
        {**CANARY_STABLE, "canary": {"trafficPercent": 30, "image": "r/m:2"}}
    )

    manifest = manifests.build_inference_service(request, restart_token=TOKEN, knative=True)

    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 30
    assert manifest["spec"]["predictor"]["containers"][0]["image"] == "r/m:2"


@pytest.mark.parametrize(
    "canary",
    [
        {"trafficPercent": 20, "image": "r/m:2"},
        {"trafficPercent": 1, "resources": {"limits": {"cpu": "2"}}},
    ],
)
def test_canary_manifests_match_the_real_crd_schema(
    canary: dict[str, Any], isvc_schema: dict[str, Any]
) -> None:
    for mode in ("Standard", "Knative"):
        manifest = build({**CANARY_STABLE, "deploymentMode": mode, "canary": canary})
        assert list(schema_errors(manifest, isvc_schema, "")) == []


def _running(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"annotations": {"a": "b"}, "resourceVersion": "7"}, "spec": spec}


def test_promote_merges_the_canary_over_stable_without_its_name() -> None:
    stable = {"annotations": {"t": "1"}, "minReplicas": 2, "containers": [{"image": "r/m:1"}]}
    canary = {"name": "canary", "containers": [{"image": "r/m:2"}]}
    isvc = _running({"predictor": stable, "canary": [{"predictor": canary, "trafficPercent": 9}]})

    operations = manifests.promote_operations(isvc, annotations={"kserve-functions.dev/x": "y"})

    assert operations == [
        {
            "op": "replace",
            "path": "/spec/predictor",
            "value": {
                "annotations": {"t": "1"},
                "minReplicas": 2,
                "containers": [{"image": "r/m:2"}],
            },
        },
        {"op": "remove", "path": "/spec/canary"},
        {"op": "add", "path": "/metadata/annotations/kserve-functions.dev~1x", "value": "y"},
    ]


def test_abort_removes_only_the_canary() -> None:
    isvc = _running({"predictor": {"containers": []}, "canary": [{"predictor": {"name": "c"}}]})

    assert manifests.abort_operations(isvc, annotations={}) == [
        {"op": "remove", "path": "/spec/canary"}
    ]


def test_knative_promote_and_abort_move_canary_traffic_percent() -> None:
    isvc = _running({"predictor": {"canaryTrafficPercent": 20}})
    isvc["metadata"]["annotations"] = {}

    assert manifests.promote_operations(isvc, annotations={"k": "v"}) == [
        {"op": "remove", "path": "/spec/predictor/canaryTrafficPercent"},
        {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
    ]
    assert manifests.abort_operations(isvc, annotations={})[0] == {
        "op": "replace",
        "path": "/spec/predictor/canaryTrafficPercent",
        "value": 0,
    }


@pytest.mark.parametrize("percent", [None, 0, 100])
def test_without_a_running_canary_there_is_nothing_to_finish(percent: int | None) -> None:
    predictor = {} if percent is None else {"canaryTrafficPercent": percent}
    isvc = _running({"predictor": predictor})

    assert manifests.running_canary(isvc) is None
    with pytest.raises(ValueError, match="no canary"):
        manifests.promote_operations(isvc, annotations={})
    with pytest.raises(ValueError, match="no canary"):
        manifests.abort_operations(isvc, annotations={})


def test_auto_promote_is_an_annotation_of_the_canary_predictor_and_dropped_on_promotion() -> None:
    canary: dict[str, Any] = {"trafficPercent": 20, "image": "r/m:2"}
    body = {**CANARY_STABLE, "canary": canary}
    opted = {**body, "canary": {**canary, "autoPromote": {"afterSeconds": 30}}}
    manifest = build(opted)

    [entry] = manifest["spec"]["canary"]
    assert entry["predictor"]["annotations"] == {manifests.AUTO_PROMOTE_ANNOTATION: "30"}
    # The stable predictor (whose pods KServe would roll for it) does not carry it.
    assert manifest["spec"]["predictor"] == build(body)["spec"]["predictor"]

    operations = manifests.promote_operations(manifest, annotations={})
    assert operations[0]["value"]["annotations"] == {manifests.RESTART_TOKEN_ANNOTATION: TOKEN}
