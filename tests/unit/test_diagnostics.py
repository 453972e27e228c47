"""Which Events and pods explain a model (``diagnostics``, the pure parts)."""

from __future__ import annotations

from typing import Any

import pytest
from kserve_functions.core import errors
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request
from kserve_functions.operations import diagnostics


@pytest.mark.parametrize(
    ("kind", "name", "concerned"),
    [
        ("InferenceService", "iris", True),
        ("InferenceService", "iris-2", False),
        ("Deployment", "iris-predictor", True),
        ("ReplicaSet", "iris-predictor-7d9f8c6b5", True),
        ("Pod", "iris-predictor-7d9f8c6b5-x2k9q", True),
        ("Pod", "iris-predictor-b-predictor-7d9f8c6b5-x2k9q", False),
        ("Deployment", "iris-predictor-b-predictor", False),
        ("Service", "iris-predictor", False),
        ("Pod", "other-predictor-7d9f8c6b5-x2k9q", False),
    ],
)
def test_an_event_concerns_the_model_and_what_kserve_made_for_it_only(
    kind: str, name: str, concerned: bool
) -> None:
    assert diagnostics.concerns({"kind": kind, "name": name}, "iris") is concerned


def test_a_new_style_event_reads_its_series() -> None:
    event: dict[str, Any] = {
        "type": "Warning",
        "reason": "BackOff",
        "note": "Back-off restarting failed container",
        "regarding": {"kind": "Pod", "name": "iris-predictor-1-abcde"},
        "eventTime": "2026-11-29T12:00:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2026-11-29T12:03:00.000000Z"},
        "reportingController": "kubelet",
    }

    read = diagnostics.read_event(event)

    assert read.model_dump(by_alias=True, exclude_none=True) == {
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "object": "Pod/iris-predictor-1-abcde",
        "count": 4,
        "firstTime": "2026-11-29T12:00:00.000000Z",
        "lastTime": "2026-11-29T12:03:00.000000Z",
        "reporter": "kubelet",
    }


def test_an_old_style_event_reads_its_deprecated_fields() -> None:
    event: dict[str, Any] = {
        "reason": "Scheduled",
        "regarding": {"kind": "Pod", "name": "p"},
        "deprecatedFirstTimestamp": "2026-11-29T11:00:00Z",
        "deprecatedLastTimestamp": "2026-11-29T11:05:00Z",
        "deprecatedCount": 2,
        "deprecatedSource": {"component": "default-scheduler"},
    }

    read = diagnostics.read_event(event)

    assert (read.first_time, read.last_time, read.count, read.reporter) == (
        "2026-11-29T11:00:00Z",
        "2026-11-29T11:05:00Z",
        2,
        "default-scheduler",
    )


def pod(name: str, created: str, *, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-29T12:00:00Z"
    return {"metadata": metadata}


def test_the_newest_pod_is_read_and_a_leaving_one_last() -> None:
    pods = [
        pod("old", "2026-11-29T10:00:00Z"),
        pod("leaving", "2026-11-29T12:00:00Z", deleting=True),
        pod("new", "2026-11-29T11:00:00Z"),
    ]

    assert diagnostics.newest_pod(pods, None) == "new"
    assert diagnostics.newest_pod(pods, "old") == "old"
    assert diagnostics.newest_pod(pods, "someone-elses") is None
    assert diagnostics.newest_pod([], None) is None


@pytest.mark.parametrize(("raw", "value"), [(None, None), ("1", 1), ("100", 100)])
def test_a_bounded_parameter_is_a_whole_number_in_range(raw: str | None, value: int | None) -> None:
    request = Request("GET", "/", {} if raw is None else {"tailLines": [raw]}, {})

    assert queries.bounded(request, "tailLines", 100) == value


@pytest.mark.parametrize("raw", ["0", "101", "-1", "1.5", "many", ""])
def test_a_bounded_parameter_out_of_range_is_invalid_naming_it(raw: str) -> None:
    request = Request("GET", "/", {"tailLines": [raw]}, {})

    with pytest.raises(errors.Invalid) as invalid:
        queries.bounded(request, "tailLines", 100)

    assert [issue.field for issue in invalid.value.errors] == ["tailLines"]
