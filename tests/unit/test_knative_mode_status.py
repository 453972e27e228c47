"""The hand-built Knative-mode status has KServe's shape (see ``support.knative_mode_status``)."""

from __future__ import annotations

import datetime

from support.knative_mode_status import FailureInfo, build_status

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_ready_status_has_url_revisions_and_traffic() -> None:
    status = build_status(name="iris", namespace="ml", generation=3, ready=True, now=NOW)

    assert status["observedGeneration"] == 3
    assert status["url"] == "http://iris.ml.example.com"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    predictor = status["components"]["predictor"]
    assert predictor["latestReadyRevision"] == predictor["latestCreatedRevision"]
    assert predictor["traffic"][0]["percent"] == 100


def test_not_ready_status_carries_reason_message_and_failure() -> None:
    status = build_status(
        name="iris",
        namespace="ml",
        generation=2,
        ready=False,
        reason="RevisionFailed",
        message="boom",
        failure=FailureInfo(exit_code=137),
        now=NOW,
    )

    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "RevisionFailed",
        "boom",
    )
    assert "url" not in status
    assert "latestReadyRevision" not in status["components"]["predictor"]
    assert status["modelStatus"]["transitionStatus"] == "BlockedByFailedLoad"
    assert status["modelStatus"]["lastFailureInfo"]["exitCode"] == 137


def test_observed_generation_can_lag_the_spec() -> None:
    status = build_status(
        name="iris", namespace="ml", generation=5, ready=True, observed_generation=4, now=NOW
    )
    assert status["observedGeneration"] == 4
