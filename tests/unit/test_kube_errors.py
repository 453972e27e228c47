"""Apiserver answers onto the API's errors: one table (``kube.map_status``)."""

from __future__ import annotations

from typing import Any

import pytest
from kserve_functions import kube
from kserve_functions.core import errors
from kserve_functions.core.models import ValidationIssue

WHAT = "model ml/iris"


@pytest.mark.parametrize(
    ("status", "error_class", "detail"),
    [
        (400, errors.BadRequest, "the cluster refused model ml/iris: boom"),
        (401, errors.Unavailable, "the Kubernetes API refused this service's credentials"),
        (403, errors.Forbidden, "this service's own identity may not access model ml/iris: boom"),
        (404, errors.NotFound, "model ml/iris not found"),
        (409, errors.Conflict, "model ml/iris: boom"),
        (410, errors.Gone, "model ml/iris: the continue token has expired; list again without it"),
        (422, errors.Invalid, "the cluster refused model ml/iris: boom"),
        (429, errors.Unavailable, "the Kubernetes API is throttling requests for model ml/iris"),
        (500, errors.Unavailable, "the Kubernetes API failed on model ml/iris (500)"),
        (504, errors.Unavailable, "the Kubernetes API failed on model ml/iris (504)"),
    ],
)
def test_each_status_maps_to_its_error_and_detail(
    status: int, error_class: type[errors.ApiError], detail: str
) -> None:
    error = kube.map_status(status, {"message": "boom"}, what=WHAT)

    assert type(error) is error_class
    assert error.detail == detail
    assert error.retryable is (error_class is errors.Unavailable)


@pytest.mark.parametrize(
    ("details", "retry_after"),
    [
        ({"retryAfterSeconds": 2}, "2"),
        ({"retryAfterSeconds": 0}, "5"),
        ({"retryAfterSeconds": "2"}, "5"),
        ({}, "5"),
    ],
)
def test_the_apiservers_retry_after_seconds_is_honoured(
    details: dict[str, Any], retry_after: str
) -> None:
    error = kube.map_status(429, {"message": "slow down", "details": details}, what=WHAT)

    assert error.headers == {"Retry-After": retry_after}


def test_a_webhook_refusal_is_the_requests_fault() -> None:
    message = (
        'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the '
        'request: the InferenceService "iris" is invalid: PYTHONPATH is blocked'
    )

    error = kube.map_status(403, {"message": message}, what=WHAT)

    assert type(error) is errors.Invalid
    assert error.detail == f"KServe refused model ml/iris: {message}"


@pytest.mark.parametrize("status", [500, 503])
def test_a_webhook_the_apiserver_could_not_call_is_retryable(status: int) -> None:
    message = (
        'Internal error occurred: failed calling webhook "inferenceservice.kserve-webhook-'
        'server.defaulter": failed to call webhook: Post "https://127.0.0.1:1/mutate": '
        "connection refused"
    )

    error = kube.map_status(status, {"message": message}, what=WHAT)

    assert type(error) is errors.Unavailable
    assert error.retryable
    assert error.detail.startswith("an admission webhook did not answer for model ml/iris")


def test_validation_causes_name_each_field() -> None:
    body = {
        "message": "invalid",
        "details": {
            "causes": [
                {"field": "spec.predictor.minReplicas", "message": "must be >= 0"},
                "not a cause",
            ]
        },
    }

    error = kube.map_status(422, body, what=WHAT)

    assert error.errors == [
        ValidationIssue(field="spec.predictor.minReplicas", message="must be >= 0")
    ]


def test_a_long_message_is_cut() -> None:
    error = kube.map_status(409, {"message": "x" * 5000}, what=WHAT)

    assert len(error.detail) == len("model ml/iris: ") + 500
