"""A model's history as ControllerRevisions (``history``, pure)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from kserve_functions.core import errors
from kserve_functions.http import queries
from kserve_functions.objects import audit, history

AT = datetime.datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=datetime.UTC)
ACTOR = audit.Actor(by="alice", how="POST /deploy")
ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris", "namespace": "ml", "uid": "u-1", "generation": 4},
}


def stored(number: int, recorded: dict[str, Any], *, uid: str = "u-1", token: str = "") -> Any:
    """A revision as the apiserver would answer it."""
    return history.revision(
        {**ISVC, "metadata": {**ISVC["metadata"], "uid": uid}},
        revision_number=number,
        recorded=recorded,
        actor=ACTOR,
        at=AT,
        restart_token=token or None,
    )


def deploy(image: str) -> dict[str, Any]:
    return {"action": "deploy", "request": {"name": "iris", "namespace": "ml", "image": image}}


def test_a_revision_is_owned_by_the_model_labelled_and_annotated() -> None:
    body = history.revision(
        ISVC, revision_number=3, recorded=deploy("r/m:1"), actor=ACTOR, at=AT, restart_token="t"
    )

    assert body["apiVersion"] == "apps/v1"
    assert body["kind"] == "ControllerRevision"
    assert body["revision"] == 3
    assert body["data"] == deploy("r/m:1")
    metadata = body["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("iris-rev-3", "ml")
    assert metadata["labels"] == {
        "serving.kserve.io/inferenceservice": "iris",
        "kserve-functions.dev/revision-of": "iris",
        "kserve-functions.dev/revision": "3",
    }
    assert history.numbered(body)
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "name": "iris",
            "uid": "u-1",
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]
    assert metadata["annotations"] == {
        "kserve-functions.dev/changed-by": "alice",
        "kserve-functions.dev/changed-at": "2026-11-29T12:00:00.123456Z",
        "kserve-functions.dev/changed-how": "POST /deploy",
        "kserve-functions.dev/generation": "4",
        "kserve-functions.dev/restart-token": "t",
    }


def test_a_model_without_uid_has_no_history() -> None:
    with pytest.raises(ValueError, match="no uid"):
        history.revision(
            {"metadata": {"name": "iris", "namespace": "ml"}},
            revision_number=1,
            recorded={},
            actor=ACTOR,
            at=AT,
        )


def test_numbers_grow_from_the_highest_and_start_at_one() -> None:
    assert history.next_number([]) == 1
    assert history.next_number([stored(2, {}), stored(7, {}), stored(3, {})]) == 8


def names(revisions: Any) -> list[str]:
    return [history.name_of(r) for r in revisions]


def test_the_oldest_beyond_the_limit_are_pruned_at_once_past_twice_the_limit() -> None:
    revisions = [stored(n, {}) for n in (4, 1, 3, 2, 5, 7, 6)]

    assert history.stored_limit(3) == 6
    # Seven of at most six: all but the newest three go, oldest first.
    assert names(history.to_prune(revisions, 3)) == [f"iris-rev-{n}" for n in (1, 2, 3, 4)]
    # Six of at most six (limit 3 without the seventh): none yet.
    assert history.to_prune(revisions[:-1], 3) == []
    assert history.to_prune(revisions, 10) == []
    # At least the newest is always kept (the limit counts as 1).
    assert history.stored_limit(0) == 2
    assert names(history.to_prune(revisions, 0)) == [f"iris-rev-{n}" for n in range(1, 7)]


def test_the_api_shows_the_newest_within_the_limit() -> None:
    revisions = [stored(n, {}) for n in (4, 1, 3, 2, 5)]

    assert [history.number(r) for r in history.shown(revisions, 3)] == [5, 4, 3]
    assert [history.number(r) for r in history.shown(revisions, 10)] == [5, 4, 3, 2, 1]
    assert [history.number(r) for r in history.shown(revisions, 0)] == [5]


def test_a_revision_written_before_the_number_label_is_not_numbered() -> None:
    older = stored(2, {})
    del older["metadata"]["labels"]["kserve-functions.dev/revision"]

    assert not history.numbered(older)
    assert history.numbered(stored(2, {}))


def test_a_remembered_history_keeps_whole_what_numbering_repeats_and_data_read() -> None:
    newest = stored(4, {"action": "stop"}, token="t")
    newest["metadata"]["managedFields"] = [{"manager": "kserve-functions"}]
    revisions = [stored(1, deploy("r/m:1")), stored(3, deploy("r/m:3")), stored(2, {}), newest]

    kept = history.remembered(revisions)

    assert [history.number(r) for r in kept] == [4, 3, 2, 1]
    # The newest and the newest holding a request, whole (less managedFields).
    assert "managedFields" not in kept[0]["metadata"]
    assert kept[0]["data"] == {"action": "stop"}
    assert kept[1] == revisions[1]
    # The others: number, name and labels only.
    assert kept[2] == {
        "revision": 2,
        "metadata": {"name": "iris-rev-2", "labels": revisions[2]["metadata"]["labels"]},
    }
    assert history.next_number(kept) == history.next_number(revisions)
    assert history.latest_request(kept) == history.latest_request(revisions)
    retry = history.Change(action="stop", restart_token="t")
    assert history.repeats(kept, retry) == history.repeats(revisions, retry) == 4
    assert names(history.to_prune(kept, 1)) == names(history.to_prune(revisions, 1))
    assert all(history.numbered(r) for r in kept)
    assert history.remembered([]) == []


def test_a_retry_with_the_same_token_and_request_is_the_newest_revision() -> None:
    revisions = [stored(1, deploy("r/m:1")), stored(2, deploy("r/m:2"), token="key-1")]
    request = deploy("r/m:2")["request"]

    retry = history.Change(action="deploy", request=request, restart_token="key-1")
    other_request = history.Change(
        action="deploy", request=deploy("r/m:3")["request"], restart_token="key-1"
    )
    fresh = history.Change(action="deploy", request=request, restart_token="key-2")

    assert history.repeats(revisions, retry) == 2
    assert history.repeats(revisions, other_request) is None
    assert history.repeats(revisions, fresh) is None
    assert history.repeats([], retry) is None


def test_a_rollout_records_the_image_change_and_the_previous_request_with_its_image() -> None:
    revisions = [stored(1, deploy("r/m:1")), stored(2, {"action": "stop"})]
    change = history.Change(action="rollout", image_change=("r/m:1", "r/m@sha256:abc"))

    assert history.data(change, revisions) == {
        "action": "rollout",
        "change": {"image": {"from": "r/m:1", "to": "r/m@sha256:abc"}},
        "request": {"name": "iris", "namespace": "ml", "image": "r/m@sha256:abc"},
    }
    # No earlier request: only the change.
    assert "request" not in history.data(change, [])


def test_a_rollback_records_its_request_and_what_it_rolled_back() -> None:
    change = history.Change(action="rollback", request={"name": "iris"}, rollback_of=1)

    assert history.data(change, []) == {
        "action": "rollback",
        "request": {"name": "iris"},
        "rollbackOf": 1,
    }


def test_the_default_rollback_target_is_the_request_before_the_current_one() -> None:
    revisions = [
        stored(1, deploy("r/m:1")),
        stored(2, deploy("r/m:2")),
        stored(3, {"action": "stop"}),
        stored(4, deploy("r/m:3")),
        stored(5, {"action": "resume"}),
    ]

    assert history.number(history.rollback_target(revisions, None)) == 2
    assert history.number(history.rollback_target(revisions, 1)) == 1


def test_a_rollback_to_a_missing_revision_is_not_found() -> None:
    with pytest.raises(errors.NotFound, match="no revision 9 \\(revisions: 2, 1\\)"):
        history.rollback_target([stored(1, deploy("a/b:1")), stored(2, deploy("a/b:2"))], 9)


@pytest.mark.parametrize(
    "revisions",
    [[], [stored(1, deploy("a/b:1"))], [stored(1, deploy("a/b:1")), stored(2, {"action": "stop"})]],
)
def test_without_a_previous_request_the_default_rollback_conflicts(revisions: Any) -> None:
    with pytest.raises(errors.Conflict, match="no previous revision"):
        history.rollback_target(revisions, None)


def test_a_rollback_to_a_stop_conflicts() -> None:
    with pytest.raises(errors.Conflict, match="revision 2 is a stop"):
        history.rollback_target([stored(1, deploy("a/b:1")), stored(2, {"action": "stop"})], 2)


def test_only_the_models_own_revisions_count() -> None:
    mine, earlier = stored(2, deploy("a/b:2")), stored(1, deploy("a/b:1"), uid="old")

    assert history.owned_by([mine, earlier], ISVC) == [mine]


def test_a_revision_reads_as_who_when_how_generation_and_request() -> None:
    read = history.read(stored(3, {**deploy("r/m:1"), "action": "rollback", "rollbackOf": 1}))

    assert read.model_dump(by_alias=True, exclude_none=True) == {
        "revision": 3,
        "by": "alice",
        "at": "2026-11-29T12:00:00.123456Z",
        "how": "POST /deploy",
        "generation": 4,
        "action": "rollback",
        "rollbackOf": 1,
        "request": {"name": "iris", "namespace": "ml", "image": "r/m:1"},
    }


def test_newest_first_orders_by_number() -> None:
    ordered = history.newest_first([stored(n, {}) for n in (2, 10, 1)])

    assert [history.number(r) for r in ordered] == [10, 2, 1]


def test_a_recorded_deploy_request_parses_back_to_the_same_request() -> None:
    sent = {
        "name": "iris",
        "namespace": "ml",
        "image": "registry.example.com/m:1",
        "envs": {"A": "1"},
        "minReplicas": 1,
        "resources": {"limits": {"cpu": "1"}},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "annotations": {"team": "x"},
    }
    request = queries.parse_deploy_request(sent)
    recorded = request.model_dump(mode="json", by_alias=True, exclude_unset=True)

    assert queries.parse_deploy_request(recorded) == request


def test_a_finished_canary_leaves_the_request_that_now_runs() -> None:
    started = {
        "name": "iris",
        "image": "r/m:1",
        "envs": {"A": "1"},
        "canary": {"trafficPercent": 20, "image": "r/m:2", "envs": {"A": "2"}},
    }

    promoted = history.finished_canary(started, promoted=True)
    aborted = history.finished_canary(started, promoted=False)

    assert promoted == {"name": "iris", "image": "r/m:2", "envs": {"A": "2"}}
    assert aborted == {"name": "iris", "image": "r/m:1", "envs": {"A": "1"}}
