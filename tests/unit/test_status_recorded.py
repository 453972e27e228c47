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
from kserve_functions.config import ModelUrls
from kserve_functions.objects import status

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "kserve-v0.20.0-inference-services.json").read_text()
)
URLS = ModelUrls()


def test_a_ready_model_reads_ready_with_kserves_url() -> None:
    isvc = RECORDED["ready"]

    read = status.detail_of(isvc, urls=URLS)

    assert (read.ready, read.reason, read.message) == (True, None, None)
    assert read.url == "http://iris-default.example.com" == isvc["status"]["url"]
    assert read.deployment_mode == "Standard"
    assert read.observed_generation == read.generation == 1


def test_a_crash_looping_model_reads_kserves_failure_with_the_exit_code() -> None:
    read = status.summary_of(RECORDED["crash-loop"], urls=URLS)

    assert (read.ready, read.reason, read.message) == (
        False,
        "ModelLoadFailed",
        "model file is corrupt: bad magic (exit code 3)",
    )


def test_an_unschedulable_model_reads_kserves_ready_condition() -> None:
    read = status.summary_of(RECORDED["unschedulable"], urls=URLS)

    assert (read.ready, read.reason, read.message) == (
        False,
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    )


def test_a_failure_kserve_keeps_after_recovering_is_history() -> None:
    isvc = json.loads(json.dumps(RECORDED["crash-loop"]))
    isvc["status"]["modelStatus"]["states"]["targetModelState"] = "Loaded"
    isvc["status"]["modelStatus"]["transitionStatus"] = "InProgress"

    read = status.summary_of(isvc, urls=URLS)

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

    read = status.summary_of(isvc, urls=URLS)

    assert (read.reason, read.message) == ("ModelLoadFailed", message)


def test_a_model_being_deleted_is_not_ready_whatever_its_last_status() -> None:
    isvc = json.loads(json.dumps(RECORDED["ready"]))
    isvc["metadata"]["deletionTimestamp"] = "2026-11-29T08:50:20Z"

    read = status.summary_of(isvc, urls=URLS)

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

    read = status.summary_of(isvc, urls=URLS)

    assert (read.ready, read.reason) == (False, "RolloutInProgress")
    assert status.is_ready(isvc) is False
    # The same status in Knative mode says nothing about a Deployment.
    isvc["status"]["deploymentMode"] = "Knative"
    assert status.is_ready(isvc) is True


def _updated() -> tuple[dict[str, Any], dict[str, Any]]:
    """A model updated at once after its create, and KServe's Deployment for it."""
    isvc = json.loads(json.dumps(RECORDED["updated-before-first-reconcile"]))
    deployment = json.loads(json.dumps(RECORDED["updated-before-first-reconcile-deployment"]))
    return isvc, deployment


def test_kserves_observed_generation_is_the_deployments_not_the_models() -> None:
    # Recorded: generation 2, KServe's observedGeneration 1 (the Deployment's), yet the
    # Deployment serves generation 2's restart token. The counters are unrelated.
    isvc, deployment = _updated()
    assert (isvc["metadata"]["generation"], isvc["status"]["observedGeneration"]) == (2, 1)
    assert deployment["status"]["observedGeneration"] == 1

    rollout = status.predictor_rollout(isvc, deployment)

    assert rollout == status.Rollout(complete=True)
    assert status.is_ready(isvc, rollout=rollout) is True


def test_a_deployment_with_an_older_restart_token_has_not_got_the_current_spec() -> None:
    isvc, deployment = _updated()
    isvc["spec"]["predictor"]["annotations"]["kserve-functions.dev/restart-token"] = "newer"

    rollout = status.predictor_rollout(isvc, deployment)

    assert rollout == status.Rollout(
        complete=False, message="KServe has not applied the current spec yet"
    )
    read = status.summary_of(isvc, urls=URLS, standing=status.model_state(isvc, rollout=rollout))
    assert (read.ready, read.reason, read.message) == (
        False,
        "RolloutInProgress",
        "KServe has not applied the current spec yet",
    )


@pytest.mark.parametrize(
    ("change", "complete"),
    [
        (lambda d: d["metadata"].update(generation=2), False),
        (lambda d: d["status"]["conditions"][1].update(reason="ReplicaSetUpdated"), False),
        (lambda d: d["status"]["conditions"].pop(), False),
        (lambda d: d["spec"]["template"]["metadata"]["annotations"].clear(), False),
        (lambda d: None, True),
    ],
    ids=["not-yet-observed", "replicas-updating", "no-progressing", "no-token", "rolled-out"],
)
def test_the_deployment_has_rolled_out_only_once_its_controller_says_so(
    change: Any, complete: bool
) -> None:
    isvc, deployment = _updated()
    assert deployment["status"]["conditions"][1]["type"] == "Progressing"
    change(deployment)

    rollout = status.predictor_rollout(isvc, deployment)

    assert rollout is not None
    assert rollout.complete is complete


def test_without_a_deployment_kserve_has_not_created_the_predictor() -> None:
    isvc, _ = _updated()

    assert status.predictor_rollout(isvc, None) == status.Rollout(
        complete=False, message="KServe has not created the predictor yet"
    )


def test_a_model_made_elsewhere_has_no_token_to_match() -> None:
    isvc, deployment = _updated()
    del isvc["spec"]["predictor"]["annotations"]
    deployment["spec"]["template"]["metadata"]["annotations"].clear()

    assert status.predictor_rollout(isvc, deployment) == status.Rollout(complete=True)


def test_knative_models_have_no_deployment_to_compare() -> None:
    isvc, deployment = _updated()
    isvc["status"]["deploymentMode"] = "Knative"

    assert status.predictor_rollout(isvc, deployment) is None


def test_a_rollout_carries_the_deployments_resource_version_to_watch_from() -> None:
    isvc, deployment = _updated()
    deployment["metadata"]["resourceVersion"] = "4711"
    deployment["status"]["conditions"][1]["reason"] = "ReplicaSetUpdated"

    rollout = status.predictor_rollout(isvc, deployment)

    assert rollout == status.Rollout(
        complete=False, message=status.ROLLOUT_MESSAGE, resource_version="4711"
    )
