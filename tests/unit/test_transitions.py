"""Which status-change event each (last event sent, state now) pair calls for (``transitions``)."""

from __future__ import annotations

import pytest
from kserve_functions.core.models import ModelState, ModelSummary
from kserve_functions.objects import transitions

STATES: tuple[ModelState, ...] = ("starting", "ready", "updating", "failed", "stopped", "deleting")
GONE = "gone"


def _summary(state: ModelState, generation: int | None = 2) -> ModelSummary:
    return ModelSummary(
        name="iris",
        namespace="ml",
        url="http://iris-ml.example.com",
        ready=state == "ready",
        state=state,
        generation=generation,
    )


# For every (last event sent, state now): the event due (None: none). "gone": the
# model no longer exists.
EXPECTED: dict[tuple[str | None, str], str | None] = {
    # Nothing sent yet: a model becoming ready or failing is news; starting is not.
    (None, "starting"): None,
    (None, "ready"): "ready",
    (None, "updating"): None,
    (None, "failed"): "failed",
    (None, "stopped"): None,
    (None, "deleting"): "deleted",
    (None, GONE): "deleted",
    # Told ready: anything but ready is news.
    ("ready", "starting"): "unready",
    ("ready", "ready"): None,
    ("ready", "updating"): "unready",
    ("ready", "failed"): "failed",
    ("ready", "stopped"): "unready",
    ("ready", "deleting"): "deleted",
    ("ready", GONE): "deleted",
    # Told unready: ready, failed or deleted are news; not being ready is not.
    ("unready", "starting"): None,
    ("unready", "ready"): "ready",
    ("unready", "updating"): None,
    ("unready", "failed"): "failed",
    ("unready", "stopped"): None,
    ("unready", "deleting"): "deleted",
    ("unready", GONE): "deleted",
    # Told failed: the same failure seen again, or a start over, is not news.
    ("failed", "starting"): None,
    ("failed", "ready"): "ready",
    ("failed", "updating"): None,
    ("failed", "failed"): None,
    ("failed", "stopped"): None,
    ("failed", "deleting"): "deleted",
    ("failed", GONE): "deleted",
    # Told deleted: while the object lingers (KServe's finalizer) it reads "deleting";
    # a live one carrying the record was re-created from a copy: its state is news.
    ("deleted", "starting"): None,
    ("deleted", "ready"): "ready",
    ("deleted", "updating"): None,
    ("deleted", "failed"): "failed",
    ("deleted", "stopped"): None,
    ("deleted", "deleting"): None,
    ("deleted", GONE): None,
}


@pytest.mark.parametrize(("previous", "now"), sorted(EXPECTED, key=str))
def test_the_event_due_for_each_pair(previous: str | None, now: str) -> None:
    current = None if now == GONE else _summary(now)  # type: ignore[arg-type]

    assert transitions.decide(previous, current) == EXPECTED[(previous, now)]


def test_every_pair_is_covered() -> None:
    previous = {None, *transitions.TRANSITIONS}
    assert set(EXPECTED) == {(p, s) for p in previous for s in (*STATES, GONE)}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("previous", [None, *transitions.TRANSITIONS])
def test_the_record_of_an_event_makes_the_same_state_report_nothing(
    previous: str | None, state: ModelState
) -> None:
    # The notify function's own write of the record is a change of the model too.
    due = transitions.decide(previous, _summary(state))
    if due is not None:
        assert transitions.decide(due, _summary(state)) is None


@pytest.mark.parametrize("generation", [1, 2, 3, None])
def test_the_generation_does_not_decide(generation: int | None) -> None:
    # After a redeploy KServe's status describes the previous spec for a moment:
    # a failed model then reads "failed" at the new generation without failing again.
    assert transitions.decide("failed", _summary("failed", generation)) is None
    assert transitions.decide("ready", _summary("ready", generation)) is None


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("ready", "ready"),
        ("unready", "unready"),
        ("failed", "failed"),
        ("deleted", "deleted"),
        (None, None),
        ("", None),
        ("Ready", None),
        ("ready@2", None),
        ("starting", None),
        (3, None),
    ],
)
def test_a_record_is_read_back_or_counts_as_none(value: object, parsed: str | None) -> None:
    assert transitions.parse_reported(value) == parsed


def test_an_unreadable_record_reports_the_state_again() -> None:
    assert transitions.decide("garbage", _summary("ready")) == "ready"
    assert transitions.decide("garbage", _summary("starting")) is None
