"""The readers against InferenceServices exactly as the real KServe v0.20.0 wrote them.

``data/kserve-v0.20.0-inference-services.json`` was recorded from the local
cluster (KServe's controller, Standard mode, pods run or crashed by kwok): a
Ready model, one whose container crash-loops, and one no node can schedule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kserve_functions import status

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "kserve-v0.20.0-inference-services.json").read_text()
)
URLS = status.ModelUrls()


def test_a_ready_model_reads_ready_with_kserves_url() -> None:
    isvc = RECORDED["ready"]

    read = status.read_detail(isvc, urls=URLS)

    assert (read.ready, read.reason, read.message) == (True, None, None)
    assert read.url == "http://iris-default.example.com" == isvc["status"]["url"]
    assert read.deployment_mode == "Standard"
    assert read.observed_generation == read.generation == 1


def test_a_crash_looping_model_reads_kserves_failure_with_the_exit_code() -> None:
    read = status.read_summary(RECORDED["crash-loop"], urls=URLS)

    assert (read.ready, read.reason, read.message) == (
        False,
        "ModelLoadFailed",
        "model file is corrupt: bad magic (exit code 3)",
    )


def test_an_unschedulable_model_reads_kserves_ready_condition() -> None:
    read = status.read_summary(RECORDED["unschedulable"], urls=URLS)

    assert (read.ready, read.reason, read.message) == (
        False,
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    )


def test_a_failure_kserve_keeps_after_recovering_is_history() -> None:
    isvc = json.loads(json.dumps(RECORDED["crash-loop"]))
    isvc["status"]["modelStatus"]["states"]["targetModelState"] = "Loaded"
    isvc["status"]["modelStatus"]["transitionStatus"] = "InProgress"

    read = status.read_summary(isvc, urls=URLS)

    assert (read.reason, read.message) == (
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    )


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"reason": "ModelLoadFailed", "message": "oom", "exitCode": 137}, "oom (exit code 137)"),
        ({"reason": "ModelLoadFailed", "message": "gone"}, "gone"),
        ({"reason": "ModelLoadFailed", "exitCode": 1}, "exit code 1"),
        ({"message": "no reason given", "exitCode": 0}, "no reason given"),
    ],
)
def test_failure_message_carries_the_exit_code_when_there_is_one(
    info: dict[str, Any], message: str
) -> None:
    isvc = json.loads(json.dumps(RECORDED["crash-loop"]))
    isvc["status"]["modelStatus"]["lastFailureInfo"] = info

    read = status.read_summary(isvc, urls=URLS)

    assert (read.reason, read.message) == ("ModelLoadFailed", message)


def test_a_model_being_deleted_is_not_ready_whatever_its_last_status() -> None:
    isvc = json.loads(json.dumps(RECORDED["ready"]))
    isvc["metadata"]["deletionTimestamp"] = "2026-11-29T08:50:20Z"

    read = status.read_summary(isvc, urls=URLS)

    assert (read.ready, read.reason, read.message) == (
        False,
        "Deleting",
        "the model is being deleted; KServe is removing what it made for it",
    )


def test_a_standard_model_whose_deployment_still_rolls_out_is_not_ready() -> None:
    # KServe's PredictorReady while the old pods keep the Deployment Available.
    isvc = json.loads(json.dumps(RECORDED["ready"]))
    predictor = next(c for c in isvc["status"]["conditions"] if c["type"] == "PredictorReady")
    predictor["reason"] = "MinimumReplicasAvailable"
    predictor["message"] = "Deployment has minimum availability."

    read = status.read_summary(isvc, urls=URLS)

    assert (read.ready, read.reason) == (False, "RolloutInProgress")
    assert status.is_ready(isvc) is False
    # The same status in Knative mode says nothing about a Deployment.
    isvc["status"]["deploymentMode"] = "Knative"
    assert status.is_ready(isvc) is True
