"""The hand-built Knative-mode status has the shape the real KServe controller writes.

``support.knative_mode_status.build_status`` stands in for what the local
cluster cannot produce (Knative mode needs Knative Serving). Where Standard
mode writes the same fields, this compares the two on live models of the
session's cluster, so a KServe upgrade that changes them fails here first.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from support import workloads
from support.knative_mode_status import FailureInfo, build_status
from support.objects import read_inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
# Conditions KServe writes in both modes.
SHARED_CONDITIONS = {"Ready", "PredictorReady", "IngressReady"}


def _shape(value: object) -> object:
    """The JSON shape of ``value``: keys and value types, not values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def _condition_shapes(status: dict[str, Any]) -> dict[str, set[str]]:
    """The shared conditions by type, with the keys every condition carries.

    ``reason`` and ``message`` are optional in both modes (KServe copies them
    from whatever component it reads), so only the required keys are compared.
    """
    required = {"type", "status", "lastTransitionTime"}
    return {
        c["type"]: required & set(c) for c in status["conditions"] if c["type"] in SHARED_CONDITIONS
    }


async def test_a_ready_status_matches_kserves_where_both_modes_write(
    api: Any, namespace: str, admin_api: Any
) -> None:
    answer = await api("deploy").post(
        "/deploy",
        params={"wait": "true"},
        json={"name": "live", "image": "r/m:1", "namespace": namespace},
    )
    assert answer.json()["ready"] is True
    real = read_inference_service(admin_api, namespace, "live")["status"]
    built = build_status(name="live", namespace=namespace, generation=1, ready=True, now=NOW)

    assert _condition_shapes(built) == _condition_shapes(real)
    for field in ("url", "observedGeneration", "address"):
        assert _shape(built[field]) == _shape(real[field]), field
    assert set(built["modelStatus"]["states"]) == set(real["modelStatus"]["states"])
    assert built["modelStatus"]["states"] == real["modelStatus"]["states"]
    assert built["modelStatus"]["transitionStatus"] == real["modelStatus"]["transitionStatus"]
    # Knative mode's name since KServe 0.17; the local cluster runs Standard.
    assert (built["deploymentMode"], real["deploymentMode"]) == ("Knative", "Standard")


async def test_a_failed_load_matches_kserves_failure_info(
    api: Any, namespace: str, admin_api: Any
) -> None:
    labels = workloads.crash_looping()["labels"]
    body = {"name": "crashing", "image": "r/m:1", "namespace": namespace, "labels": labels}
    assert (await api("deploy").post("/deploy", json=body)).status_code == 201

    def failure() -> dict[str, Any] | None:
        status = read_inference_service(admin_api, namespace, "crashing").get("status", {})
        return status if "lastFailureInfo" in status.get("modelStatus", {}) else None

    real = workloads.wait_for(failure, what="KServe reporting the failed load")
    built = build_status(
        name="crashing",
        namespace=namespace,
        generation=1,
        ready=False,
        failure=FailureInfo(exit_code=1),
        now=NOW,
    )

    real_info, built_info = (
        real["modelStatus"]["lastFailureInfo"],
        built["modelStatus"]["lastFailureInfo"],
    )
    assert _shape(built_info) == _shape(real_info)
    assert built["modelStatus"]["transitionStatus"] == real["modelStatus"]["transitionStatus"]
    assert (
        built["modelStatus"]["states"]["targetModelState"]
        == real["modelStatus"]["states"]["targetModelState"]
    )
    assert _condition_shapes(built) == _condition_shapes(real)
