"""Deploy request validation: what the API contract accepts, and a 422 naming each bad field.

Every case goes through ``queries.parse_deploy_request``, the path a real
request takes, so the assertions are on the problem's ``errors`` a caller sees.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from kserve_functions.core import errors
from kserve_functions.core.models import RESERVED_PREFIX, DeployRequest
from kserve_functions.http import queries

SEED_EXAMPLE: dict[str, Any] = {
    "name": "sklearn-iris",
    "image": "kserve/sklearnserver:latest",
    "envs": {"STORAGE_URI": "gs://kfserving-examples/models/sklearn/1.0/model"},
}
README_EXAMPLE: dict[str, Any] = {
    "name": "my-model",
    "image": "registry.example.com/my-model:v1.0.0",
    "envs": {"MODEL_PATH": "/models", "LOG_LEVEL": "INFO"},
    "namespace": "default",
}
MINIMAL: dict[str, Any] = {"name": "iris", "image": "nginx"}

NAME_RULE = (
    "must be a DNS-1035 label: lowercase letters, digits and '-', "
    "starting with a letter and ending with a letter or digit"
)
NAMESPACE_RULE = (
    "must be a DNS-1123 label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit"
)
SUBDOMAIN_RULE = (
    "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)
ENV_RULE = "must be a C identifier (letters, digits, '_', not starting with a digit)"
IMAGE_RULE = (
    "must be an OCI image reference such as registry.example.com/team/model:v1 "
    "(lowercase repository, optional :tag and @sha256:digest)"
)
QUANTITY_RULE = "must be a Kubernetes quantity such as 500m, 2, 1Gi (not negative)"
KEY_RULE = (
    "must be a Kubernetes qualified name: an optional DNS subdomain prefix and '/', "
    "then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
)
VALUE_RULE = (
    "must be a Kubernetes label value: empty, or letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit"
)
RESERVED_RULE = "the prefix kserve-functions.dev/ is reserved for keys this service sets itself"
UNPARSABLE = "unable to parse string as an integer"
EFFECTS = "'NoSchedule', 'PreferNoSchedule' or 'NoExecute'"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def deploy(**fields: Any) -> dict[str, Any]:
    """The minimal valid body with ``fields`` added or replaced."""
    return {**MINIMAL, **fields}


def refused(body: object) -> list[tuple[str, str]]:
    """The (field, message) pairs of the 422 that ``body`` gets."""
    with pytest.raises(errors.Invalid) as caught:
        queries.parse_deploy_request(body)
    assert caught.value.status == 422
    return [(issue.field, issue.message) for issue in caught.value.errors]


# -- accepted ------------------------------------------------------------------


@pytest.mark.parametrize("body", [SEED_EXAMPLE, README_EXAMPLE], ids=["seed", "readme"])
def test_the_seed_examples_are_valid(body: dict[str, Any]) -> None:
    request = queries.parse_deploy_request(body)
    assert (request.name, request.image, request.envs) == (
        body["name"],
        body["image"],
        body["envs"],
    )


def test_namespace_defaults_to_default() -> None:
    assert queries.parse_deploy_request(SEED_EXAMPLE).namespace == "default"


def test_every_optional_field_is_accepted_by_its_json_name() -> None:
    request = queries.parse_deploy_request(
        deploy(
            storageUri="s3://models/iris",
            runtime="kserve-sklearnserver",
            resources={"requests": {"cpu": "500m"}, "limits": {"nvidia.com/gpu": "1"}},
            minReplicas=0,
            maxReplicas=3,
            scaleTarget=10,
            scaleMetric="memory",
            canaryTrafficPercent=100,
            args=["--workers", "2"],
            port=8080,
            serviceAccountName="model-reader",
            nodeSelector={"accelerator": "a100"},
            tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            labels={"team": "vision", "example.com/tier": ""},
            annotations={"example.com/owner": "alice smith"},
            deploymentMode="RawDeployment",
            autoUpdate=True,
        )
    )
    assert (request.min_replicas, request.max_replicas, request.canary_traffic_percent) == (
        0,
        3,
        100,
    )


def test_model_format_instead_of_image_is_valid() -> None:
    request = queries.parse_deploy_request(
        {"name": "iris", "modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}
    )
    assert (request.image, request.model_format is not None) == (None, True)


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "kserve/sklearnserver:latest",
        "registry.example.com:5000/team/model:v1",
        "localhost:5000/x",
        f"nginx@{DIGEST}",
        f"registry.example.com/team/model:v1@{DIGEST}",
        "ghcr.io/org/repo__name/model-x.y:1.0_rc-1",
        "Registry.Example.com/model",
    ],
)
def test_valid_image_references(image: str) -> None:
    assert queries.parse_deploy_request(deploy(image=image)).image == image


@pytest.mark.parametrize("quantity", ["500m", "2", "1Gi", "1.5", ".5", "1e3", "+1", "100M"])
def test_valid_quantities(quantity: str) -> None:
    request = queries.parse_deploy_request(deploy(resources={"limits": {"memory": quantity}}))
    assert request.resources is not None
    assert request.resources.limits == {"memory": quantity}


@pytest.mark.parametrize("namespace", ["default", "a", "1st-team", "x" * 41])
def test_valid_namespaces(namespace: str) -> None:
    # "x" * 41 leaves exactly room for "a-predictor-" within 63 characters.
    assert queries.parse_deploy_request(deploy(name="a", namespace=namespace)).namespace == (
        namespace
    )


# -- name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["MyModel", "1model", "model-", "my_model", "-model", "my.model", "", "iris\n"],
    ids=["uppercase", "leading-digit", "trailing-dash", "underscore", "leading-dash", "dot",
         "empty", "trailing-newline"],
)  # fmt: skip
def test_name_must_be_a_dns_1035_label(name: str) -> None:
    assert refused(deploy(name=name)) == [("name", NAME_RULE)]


def test_name_over_63_characters_is_refused() -> None:
    assert refused(deploy(name="a" * 64)) == [("name", "must be at most 63 characters")]


@pytest.mark.parametrize(
    ("namespace", "longest_name"),
    [("default", 45), ("ns", 50), ("x" * 51, 1)],
)
def test_predictor_host_of_63_characters_is_accepted(namespace: str, longest_name: int) -> None:
    name = "a" * longest_name
    assert len(f"{name}-predictor-{namespace}") == 63
    assert queries.parse_deploy_request(deploy(name=name, namespace=namespace)).name == name


def test_predictor_host_of_64_characters_is_refused() -> None:
    name = "a" * 46
    host = f"{name}-predictor-default"
    assert refused(deploy(name=name)) == [
        (
            "name",
            f"too long for this namespace: KServe's host label '{host}' would be 64 "
            "characters, at most 63 are allowed",
        )
    ]


# -- namespace, runtime, service account -----------------------------------------


@pytest.mark.parametrize("namespace", ["Default", "-ns", "ns-", "ns_1", "my.ns", ""])
def test_namespace_must_be_a_dns_1123_label(namespace: str) -> None:
    assert refused(deploy(namespace=namespace)) == [("namespace", NAMESPACE_RULE)]


def test_namespace_over_63_characters_is_refused() -> None:
    assert refused(deploy(namespace="n" * 64)) == [("namespace", "must be at most 63 characters")]


@pytest.mark.parametrize("field", ["runtime", "serviceAccountName"])
@pytest.mark.parametrize("value", ["Sklearn", "kserve_sklearn", "-x", "x.", "a..b"])
def test_runtime_and_service_account_must_be_dns_1123_subdomains(field: str, value: str) -> None:
    assert refused(deploy(**{field: value})) == [(field, SUBDOMAIN_RULE)]


@pytest.mark.parametrize("field", ["runtime", "serviceAccountName"])
def test_runtime_and_service_account_accept_dotted_names(field: str) -> None:
    body = deploy(**{field: "kserve.sklearn-1"})
    assert queries.parse_deploy_request(body).model_dump(by_alias=True)[field] == (
        "kserve.sklearn-1"
    )


# -- envs --------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ["1BAD", "MY-VAR", "MY VAR", "MY.VAR", ""])
def test_env_var_names_must_be_c_identifiers(env_name: str) -> None:
    assert refused(deploy(envs={"OK": "1", env_name: "x"})) == [(f"envs.{env_name}", ENV_RULE)]


@pytest.mark.parametrize("env_name", ["_", "_PRIVATE", "lower_case", "X1"])
def test_env_var_names_that_are_c_identifiers_are_accepted(env_name: str) -> None:
    assert queries.parse_deploy_request(deploy(envs={env_name: ""})).envs == {env_name: ""}


def test_env_var_values_must_be_strings() -> None:
    assert refused(deploy(envs={"PORT": 8080})) == [("envs.PORT", "Input should be a valid string")]


# -- image -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com/MyModel:v1",
        "nginx latest",
        " nginx",
        "",
        "http://x/y",
        "nginx:",
        "nginx@sha256:abc",
        f"nginx@{DIGEST[:-1]}g",
        "nginx\n",
        "a" * 256,
    ],
    ids=["uppercase-path", "space", "leading-space", "empty", "url", "trailing-colon",
         "short-digest", "non-hex-digest", "trailing-newline", "too-long"],
)  # fmt: skip
def test_invalid_image_references_are_refused(image: str) -> None:
    assert refused(deploy(image=image)) == [("image", IMAGE_RULE)]


def test_neither_image_nor_model_format_is_refused() -> None:
    assert refused({"name": "iris"}) == [
        ("image", "required (or modelFormat, for a ServingRuntime predictor)")
    ]


def test_both_image_and_model_format_are_refused() -> None:
    assert refused(deploy(modelFormat={"name": "sklearn"})) == [
        ("image", "give either image or modelFormat, not both")
    ]


def test_model_format_needs_a_name() -> None:
    assert refused({"name": "iris", "modelFormat": {"version": "1"}}) == [
        ("modelFormat.name", "Field required")
    ]


# -- scaling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"minReplicas": -1}, [("minReplicas", "Input should be greater than or equal to 0")]),
        ({"maxReplicas": 0}, [("maxReplicas", "Input should be greater than or equal to 1")]),
        ({"scaleTarget": 0}, [("scaleTarget", "Input should be greater than or equal to 1")]),
        (
            {"canaryTrafficPercent": -1},
            [("canaryTrafficPercent", "Input should be greater than or equal to 0")],
        ),
        (
            {"canaryTrafficPercent": 101},
            [("canaryTrafficPercent", "Input should be less than or equal to 100")],
        ),
        ({"port": 0}, [("port", "Input should be greater than or equal to 1")]),
        ({"port": 65536}, [("port", "Input should be less than or equal to 65535")]),
        (
            {"minReplicas": "two"},
            [("minReplicas", f"Input should be a valid integer, {UNPARSABLE}")],
        ),
    ],
    ids=["minReplicas-negative", "maxReplicas-0", "scaleTarget-0", "canary--1", "canary-101",
         "port-0", "port-65536", "minReplicas-text"],
)  # fmt: skip
def test_numbers_out_of_range_are_refused(
    fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert refused(deploy(**fields)) == expected


def test_max_replicas_below_min_replicas_is_refused() -> None:
    assert refused(deploy(minReplicas=3, maxReplicas=2)) == [
        ("maxReplicas", "2 is below minReplicas 3")
    ]


def test_max_replicas_equal_to_min_replicas_is_accepted() -> None:
    request = queries.parse_deploy_request(deploy(minReplicas=2, maxReplicas=2))
    assert (request.min_replicas, request.max_replicas) == (2, 2)


def test_unknown_scale_metric_is_refused() -> None:
    assert refused(deploy(scaleMetric="gpu")) == [
        ("scaleMetric", "Input should be 'cpu', 'memory', 'concurrency' or 'rps'")
    ]


def test_unknown_deployment_mode_is_refused() -> None:
    assert refused(deploy(scaleMetric="cpu", deploymentMode="Knative")) == [
        ("scaleMetric", "KServe scales a Knative-mode model by concurrency or rps, not cpu")
    ]
    assert refused(deploy(scaleMetric="rps", deploymentMode="Standard")) == [
        ("scaleMetric", "KServe scales a Standard-mode model by cpu or memory, not rps")
    ]
    assert refused(deploy(deploymentMode="Serverful")) == [
        (
            "deploymentMode",
            "Input should be 'Standard', 'Knative', 'ModelMesh', 'RawDeployment' or 'Serverless'",
        )
    ]


# -- unknown fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (deploy(replicas=2), "replicas"),
        (deploy(resources={"limit": {"cpu": "1"}}), "resources.limit"),
        (deploy(tolerations=[{"key": "gpu", "operator": "Exists", "op": "x"}]), "tolerations.0.op"),
    ],
    ids=["top-level", "nested", "in-list"],
)
def test_unknown_fields_are_refused_by_name(body: dict[str, Any], field: str) -> None:
    assert refused(body) == [(field, "Extra inputs are not permitted")]


# -- resources ---------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["abc", "-1", "1 Gi", "1GB", "", "1Gi ", "0x10"])
def test_bad_quantities_are_refused(quantity: str) -> None:
    body = deploy(resources={"limits": {"cpu": quantity}})
    assert refused(body) == [("resources.limits.cpu", QUANTITY_RULE)]


def test_unknown_resource_names_are_refused() -> None:
    assert refused(deploy(resources={"requests": {"gpu": "1"}})) == [
        (
            "resources.requests.gpu",
            "Input should be 'cpu', 'memory', 'nvidia.com/gpu' or 'ephemeral-storage'",
        )
    ]


# -- labels, annotations, node selector -----------------------------------------------


@pytest.mark.parametrize("field", ["labels", "annotations"])
@pytest.mark.parametrize(
    "key",
    [f"{RESERVED_PREFIX}auto-update", f"{RESERVED_PREFIX}tracked-image", f"{RESERVED_PREFIX}x"],
)
def test_reserved_prefix_keys_are_refused(field: str, key: str) -> None:
    assert refused(deploy(**{field: {"team": "a", key: "true"}})) == [
        (f"{field}.{key}", RESERVED_RULE)
    ]


def test_a_key_merely_containing_the_reserved_domain_is_accepted() -> None:
    key = "sub.kserve-functions.dev/x"
    assert queries.parse_deploy_request(deploy(labels={key: "v"})).labels == {key: "v"}


@pytest.mark.parametrize("field", ["labels", "annotations", "nodeSelector"])
@pytest.mark.parametrize(
    "key",
    ["bad key", "-team", "team-", "Example.com/team", "example.com/", "/team", "a" * 64],
)
def test_bad_label_keys_are_refused(field: str, key: str) -> None:
    assert refused(deploy(**{field: {key: "v"}})) == [(f"{field}.{key}", KEY_RULE)]


def test_label_key_prefix_over_253_characters_is_refused() -> None:
    key = "a" * 254 + "/team"
    assert refused(deploy(labels={key: "v"})) == [
        (f"labels.{key}", "the prefix before '/' must be at most 253 characters")
    ]


@pytest.mark.parametrize("key", ["a" * 63, "a" * 253 + "/" + "b" * 63, "Team_1.x"])
def test_longest_label_keys_are_accepted(key: str) -> None:
    assert queries.parse_deploy_request(deploy(labels={key: "v"})).labels == {key: "v"}


@pytest.mark.parametrize("field", ["labels", "nodeSelector"])
@pytest.mark.parametrize("value", ["a b", "-x", "x-", "a/b", "é"])
def test_bad_label_values_are_refused(field: str, value: str) -> None:
    assert refused(deploy(**{field: {"team": value}})) == [(f"{field}.team", VALUE_RULE)]


@pytest.mark.parametrize("field", ["labels", "nodeSelector"])
def test_label_values_over_63_characters_are_refused(field: str) -> None:
    assert refused(deploy(**{field: {"team": "v" * 64}})) == [
        (f"{field}.team", "must be at most 63 characters")
    ]


def test_annotation_values_are_free_text() -> None:
    annotations = {"example.com/note": "any text: even / and spaces\n"}
    assert queries.parse_deploy_request(deploy(annotations=annotations)).annotations == (
        annotations
    )


# -- tolerations -------------------------------------------------------------------


def test_toleration_exists_with_a_value_is_refused() -> None:
    tolerations = [
        {"key": "gpu", "operator": "Exists"},
        {"key": "spot", "operator": "Exists", "value": "yes"},
    ]
    assert refused(deploy(tolerations=tolerations)) == [
        (
            "tolerations.1.value",
            "must be empty when operator is Exists (Exists matches any value of the key)",
        )
    ]


@pytest.mark.parametrize("operator", ["Equal", None])
def test_toleration_without_key_must_use_exists(operator: str | None) -> None:
    assert refused(deploy(tolerations=[{"operator": operator, "value": "x"}])) == [
        (
            "tolerations.0.operator",
            "must be Exists when key is empty (a toleration without a key matches every taint)",
        )
    ]


@pytest.mark.parametrize(
    "toleration",
    [
        {"operator": "Exists"},
        {"key": "gpu", "operator": "Exists", "value": ""},
        {"key": "spot", "value": "yes"},
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "", "effect": "NoExecute"},
    ],
)
def test_valid_tolerations_are_accepted(toleration: dict[str, Any]) -> None:
    request = queries.parse_deploy_request(deploy(tolerations=[toleration]))
    assert request.tolerations is not None
    assert len(request.tolerations) == 1


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        (
            {"key": "gpu", "effect": "NoRun"},
            ("tolerations.0.effect", f"Input should be {EFFECTS}"),
        ),
        (
            {"key": "gpu", "operator": "Lt"},
            ("tolerations.0.operator", "Input should be 'Exists' or 'Equal'"),
        ),
        ({"key": "bad key", "operator": "Exists"}, ("tolerations.0.key", KEY_RULE)),
        ({"key": "gpu", "value": "a b"}, ("tolerations.0.value", VALUE_RULE)),
    ],
    ids=["effect", "operator", "key", "value"],
)  # fmt: skip
def test_bad_toleration_fields_are_refused(
    toleration: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert refused(deploy(tolerations=[toleration])) == [expected]


# -- the body as a whole -------------------------------------------------------------


@pytest.mark.parametrize("body", [[], ["name"], "iris", None, 42, True])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    assert refused(body) == [("body", "expected a JSON object")]


def test_missing_name_is_refused() -> None:
    assert refused({"image": "nginx"}) == [("name", "Field required")]


def test_every_invalid_field_is_named_at_once() -> None:
    body = deploy(name="Bad", namespace="Bad", envs={"1X": "v"}, port=0)
    assert [field for field, _ in refused(body)] == ["name", "envs.1X", "namespace", "port"]


def test_the_problem_detail_lists_the_fields() -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.parse_deploy_request(deploy(name="Bad", envs={"1X": "v"}))
    assert caught.value.detail == "invalid deploy request: name, envs.1X"


def test_the_problem_carries_the_errors() -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.parse_deploy_request(deploy(name="Bad"))
    problem = caught.value.problem().model_dump(by_alias=True, exclude_none=True)
    assert problem == {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "invalid deploy request: name",
        "errors": [{"field": "name", "message": NAME_RULE}],
    }


def test_invalid_is_chained_from_the_validation_error() -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.parse_deploy_request(deploy(name="Bad"))
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)


def test_the_model_refuses_directly_too() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        DeployRequest.model_validate(deploy(labels={f"{RESERVED_PREFIX}x": "v"}))
    [error] = caught.value.errors(include_url=False)
    assert (error["type"], error["loc"], error["msg"]) == (
        "reserved_key",
        ("labels", f"{RESERVED_PREFIX}x", "[key]"),
        RESERVED_RULE,
    )


# -- canary (issue 11) ----------------------------------------------------------


@pytest.mark.parametrize("percent", [0, 100, -1])
def test_canary_traffic_percent_is_1_to_99(percent: int) -> None:
    found = refused(deploy(canary={"trafficPercent": percent, "image": "r/m:2"}))
    assert [field for field, _ in found] == ["canary.trafficPercent"]


@pytest.mark.parametrize(
    "canary",
    [
        {"trafficPercent": 20},
        {"trafficPercent": 20, "image": "nginx"},
        {"trafficPercent": 20, "envs": {}},
    ],
)
def test_a_canary_identical_to_stable_is_refused(canary: dict[str, Any]) -> None:
    [(field, message)] = refused(deploy(canary=canary))
    assert field == "canary"
    assert message.startswith("no change from the stable predictor")


@pytest.mark.parametrize("image", ["registry.example.com/MyModel:v2", "nginx\n", "a" * 256])
def test_a_canary_image_is_checked_like_the_deploys(image: str) -> None:
    found = refused(deploy(canary={"trafficPercent": 20, "image": image}))
    assert found == [("canary.image", IMAGE_RULE)]


def test_a_canary_of_a_model_format_predictor_changes_no_image() -> None:
    body = {"name": "iris", "modelFormat": {"name": "sklearn"}, "storageUri": "gs://v1"}
    [(field, _)] = refused({**body, "canary": {"trafficPercent": 5, "image": "r/m:2"}})
    assert field == "canary.image"
    accepted = queries.parse_deploy_request(
        {**body, "canary": {"trafficPercent": 5, "storageUri": "gs://v2"}}
    )
    canary = accepted.canary_request()
    assert canary is not None
    assert (canary.storage_uri, canary.canary) == ("gs://v2", None)


def test_canary_and_canary_traffic_percent_are_exclusive() -> None:
    found = refused(
        deploy(canaryTrafficPercent=10, canary={"trafficPercent": 10, "image": "r/m:2"})
    )
    assert [field for field, _ in found] == ["canary"]


def test_auto_promote_is_for_standard_mode_canaries() -> None:
    canary = {"trafficPercent": 20, "image": "r/m:2", "autoPromote": {"afterSeconds": 60}}
    [(field, _)] = refused(deploy(deploymentMode="Knative", canary=canary))
    assert field == "canary.autoPromote"
    found = refused(deploy(canary={**canary, "autoPromote": {"afterSeconds": -1}}))
    assert [field for field, _ in found] == ["canary.autoPromote.afterSeconds"]
