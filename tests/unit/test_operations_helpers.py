"""The operations' pure helpers: query flags, wait timeouts, restart tokens, path models,
and how validation errors name their fields."""

from __future__ import annotations

import re
from typing import Any

import pydantic
import pytest
from kserve_functions.config import Settings
from kserve_functions.core import errors
from kserve_functions.core.models import DeployRequest, ValidationIssue
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request

SETTINGS = Settings(wait_timeout_default_seconds=60.0, wait_timeout_max_seconds=120.0)
VALID: dict[str, Any] = {"name": "iris", "image": "nginx"}


def request(
    query: dict[str, list[str]] | None = None, *, idempotency_key: str | None = None
) -> Request:
    headers = {} if idempotency_key is None else {"idempotency-key": idempotency_key}
    return Request(method="POST", path="/deploy", query=query or {}, headers=headers)


def issues(body: object) -> list[tuple[str, str]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        DeployRequest.model_validate(body)
    return [(i.field, i.message) for i in queries.validation_issues(caught.value)]


# -- flag --------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False)])
def test_flag_reads_true_and_false(raw: str, expected: bool) -> None:
    assert queries.flag(request({"dryRun": [raw]}), "dryRun") is expected


def test_an_absent_flag_is_false() -> None:
    assert queries.flag(request(), "dryRun") is False


def test_the_last_value_of_a_repeated_flag_counts() -> None:
    assert queries.flag(request({"wait": ["false", "true"]}), "wait") is True


# One spelling per value, as the document's enum says.
@pytest.mark.parametrize(
    "raw", ["maybe", "on", "2", "truee", "TRUE", "False", "1", "0", "yes", "no", "", " true "]
)
def test_any_other_flag_value_is_invalid_naming_the_parameter(raw: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.flag(request({"wait": [raw]}), "wait")
    message = f"must be true or false, got {raw!r}"
    assert (caught.value.status, caught.value.detail, caught.value.errors) == (
        422,
        f"query parameter wait {message}",
        [ValidationIssue(field="wait", message=message)],
    )


def test_a_long_bad_flag_value_is_cut_in_the_message() -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.flag(request({"wait": ["x" * 100]}), "wait")
    assert caught.value.errors[0].message == f"must be true or false, got {'x' * 50!r}"


# -- wait_timeout ------------------------------------------------------------------


def test_the_default_timeout_comes_from_the_settings() -> None:
    assert queries.wait_timeout(request(), SETTINGS) == 60.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("30", 30.0), ("0.5", 0.5), ("120", 120.0), ("1.2e2", 120.0), ("5e-1", 0.5)],
)
def test_a_timeout_up_to_the_cap_is_used(raw: str, expected: float) -> None:
    assert queries.wait_timeout(request({"timeout": [raw]}), SETTINGS) == expected


@pytest.mark.parametrize("raw", ["0", "0.0", "120.5", "121", "1e9"])
def test_a_timeout_out_of_range_is_invalid(raw: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.wait_timeout(request({"timeout": [raw]}), SETTINGS)
    assert caught.value.errors == [
        ValidationIssue(field="timeout", message="must be above 0 and at most 120 seconds")
    ]


# Numbers as JSON spells them, without a sign: no unit, no "inf", no "1_0".
@pytest.mark.parametrize(
    "raw", ["abc", "", "30m", "1h", "s", "30s", "-1", "inf", "nan", "1_0", ".5", "5.", "٣"]
)
def test_a_timeout_that_is_not_a_number_is_invalid(raw: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.wait_timeout(request({"timeout": [raw]}), SETTINGS)
    assert caught.value.errors == [
        ValidationIssue(field="timeout", message=f"must be a number of seconds, got {raw!r}")
    ]


# -- restart_token ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["abc-123", "x", "k" * 128, "a:b/c=d~!"])
def test_a_valid_idempotency_key_is_the_token(key: str) -> None:
    assert queries.restart_token(request(idempotency_key=key)) == key


def test_without_a_key_each_token_is_fresh() -> None:
    tokens = {queries.restart_token(request()) for _ in range(3)}
    assert len(tokens) == 3


def test_a_fresh_token_is_32_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", queries.restart_token(request()))


@pytest.mark.parametrize(
    "key",
    ["has space", "k" * 129, "", "tab\there", "clé"],
    ids=["space", "129-characters", "empty", "tab", "non-ascii"],
)
def test_an_invalid_idempotency_key_is_invalid(key: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        queries.restart_token(request(idempotency_key=key))
    assert (caught.value.detail, caught.value.errors) == (
        "the Idempotency-Key header must be 1-128 printable ASCII characters without spaces",
        [ValidationIssue(field="Idempotency-Key", message="1-128 printable characters")],
    )


# -- path_model ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("default", "iris"), ("kube-system", "a"), ("1ns", "m-1"), ("n" * 63, "m" * 63)],
)
def test_a_valid_path_names_a_model(namespace: str, name: str) -> None:
    assert queries.path_model({"namespace": namespace, "name": name}) == (namespace, name)


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("default", "Iris"),
        ("default", "1iris"),
        ("default", "iris-"),
        ("default", "my_model"),
        ("default", "m" * 64),
        ("Default", "iris"),
        ("-ns", "iris"),
        ("n" * 64, "iris"),
        ("a/b", "iris"),
        ("default", ""),
    ],
)
def test_a_path_that_cannot_name_a_model_is_not_found(namespace: str, name: str) -> None:
    with pytest.raises(errors.NotFound) as caught:
        queries.path_model({"namespace": namespace, "name": name})
    assert (caught.value.status, caught.value.detail) == (
        404,
        f"model {namespace[:63]}/{name[:63]} not found",
    )


# -- validation_issues ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu"),
        ({**VALID, "envs": {"1BAD": "x"}}, "envs.1BAD"),
        ({**VALID, "tolerations": [{"key": "k", "effect": "Never"}]}, "tolerations.0.effect"),
        ({**VALID, "tolerations": [{}, {"key": "k", "effect": "Never"}]}, "tolerations.1.effect"),
        ({**VALID, "modelFormat": {"name": ""}, "image": None}, "modelFormat.name"),
        ({**VALID, "labels": {"example.com/": "v"}}, "labels.example.com/"),
        ({**VALID, "args": ["ok", 3]}, "args.1"),
    ],
)
def test_nested_fields_are_named_by_their_json_path(body: dict[str, Any], field: str) -> None:
    assert [f for f, _ in issues(body)] == [field]


def test_a_cross_field_error_is_named_by_its_message_prefix() -> None:
    assert issues({**VALID, "minReplicas": 2, "maxReplicas": 1}) == [
        ("maxReplicas", "1 is below minReplicas 2")
    ]


def test_the_value_error_prefix_is_removed() -> None:
    [(_, message)] = issues({"name": "iris"})
    assert message == "required (or modelFormat, for a ServingRuntime predictor)"


def test_an_error_without_a_location_is_about_the_body() -> None:
    assert issues([]) == [
        ("body", "Input should be a valid dictionary or instance of DeployRequest")
    ]


def test_a_colon_in_a_field_message_does_not_rename_the_field() -> None:
    assert issues({**VALID, "minReplicas": "x: 1"}) == [
        ("minReplicas", "Input should be a valid integer, unable to parse string as an integer")
    ]
