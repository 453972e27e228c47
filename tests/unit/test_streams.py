"""Server-Sent Events framing and resumption (``streams``, the pure parts)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from kserve_functions.config import ModelUrls
from kserve_functions.context import SharedReads, StreamSlots
from kserve_functions.core import errors
from kserve_functions.core.models import ModelSummary
from kserve_functions.core.resources import DEPLOYMENT_MODE_ANNOTATION
from kserve_functions.http.asgi import Request
from kserve_functions.kube import Change
from kserve_functions.objects import status
from kserve_functions.operations import watch_streams
from support import objects


def request(last_event_id: str | None) -> Request:
    headers = {} if last_event_id is None else {"last-event-id": last_event_id}
    return Request(method="GET", path="/models", query={}, headers=headers)


def test_an_event_frame_has_id_type_and_one_data_line() -> None:
    assert watch_streams.frame("model", b'{"name":"iris"}', "42") == (
        b'id: 42\nevent: model\ndata: {"name":"iris"}\n\n'
    )


def test_an_id_only_frame_moves_the_last_event_id_without_an_event() -> None:
    assert watch_streams.frame(None, event_id="43") == b"id: 43\n\n"


def test_an_event_without_id_leaves_the_last_event_id() -> None:
    assert watch_streams.frame("error", b"{}") == b"event: error\ndata: {}\n\n"


@pytest.mark.parametrize(("header", "version"), [(None, None), ("", None), (" 4711 ", "4711")])
def test_a_resume_starts_at_the_last_event_id(header: str | None, version: str | None) -> None:
    assert watch_streams.resume_version(request(header)) == version


@pytest.mark.parametrize("header", ["abc", "-1", "1" * 21, "12 34"])
def test_a_last_event_id_that_is_no_resource_version_is_a_bad_request(header: str) -> None:
    with pytest.raises(errors.BadRequest, match="Last-Event-ID"):
        watch_streams.resume_version(request(header))


def test_stream_slots_are_bounded_and_given_back() -> None:
    slots = StreamSlots(2)

    assert [slots.take(), slots.take(), slots.take()] == [True, True, False]
    slots.release()
    assert slots.take() is True
    assert slots.open == 2


@pytest.mark.asyncio
async def test_concurrent_readers_of_one_change_share_one_read() -> None:
    reads = SharedReads[str, int](ttl=60, size=8)
    computed: list[str] = []
    release = asyncio.Event()

    async def read() -> int:
        computed.append("read")
        await release.wait()
        return 7

    waiting = [asyncio.ensure_future(reads.get("m@1", read)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()

    assert await asyncio.gather(*waiting) == [7] * 5
    assert await reads.get("m@1", read) == 7
    assert computed == ["read"]


@pytest.mark.asyncio
async def test_a_failed_shared_read_is_not_kept() -> None:
    reads = SharedReads[str, int](ttl=60, size=8)
    attempts: list[int] = []

    async def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise errors.Unavailable("the apiserver did not answer")
        return 3

    with pytest.raises(errors.Unavailable):
        await reads.get("m@2", flaky)
    assert await reads.get("m@2", flaky) == 3


async def _busy_watch(changes: int) -> AsyncGenerator[Change, None]:
    """A watch with a change every 10 ms: never quiet long enough for a heartbeat."""
    for n in range(changes):
        await asyncio.sleep(0.01)
        yield Change("MODIFIED", {"metadata": {"resourceVersion": str(n)}})


@pytest.mark.asyncio
async def test_a_due_re_read_is_served_while_changes_keep_coming() -> None:
    due_at = time.monotonic() + 0.1

    def due_in() -> float:
        return max(0.0, due_at - time.monotonic())

    seen: list[str] = []
    async for item in watch_streams._with_heartbeats(_busy_watch(30), 5.0, due_in):
        if item is watch_streams._DUE:
            seen.append("due")
            due_at = math.inf  # the consumer pushes its deadline forward
        else:
            seen.append("change" if item is not None else "heartbeat")

    assert seen.count("due") == 1
    assert seen.count("change") == 30
    assert "heartbeat" not in seen
    assert 0 < seen.index("due") < len(seen) - 1  # between changes, not after them all


@pytest.mark.asyncio
async def test_without_a_deadline_a_quiet_watch_gets_heartbeats_only() -> None:
    async def quiet() -> AsyncGenerator[Change, None]:
        await asyncio.sleep(0.35)
        yield Change("MODIFIED", {})

    seen = [item async for item in watch_streams._with_heartbeats(quiet(), 0.1)]

    assert seen[:3] == [None, None, None]
    assert isinstance(seen[-1], Change)
    assert watch_streams._DUE not in seen


def _rolling_out_model(name: str) -> tuple[dict[str, Any], ModelSummary]:
    """A Standard-mode model KServe calls Ready whose Deployment still rolls out, read."""
    isvc = objects.inference_service(
        "default",
        name,
        metadata={
            "annotations": {DEPLOYMENT_MODE_ANNOTATION: status.STANDARD_MODE},
            "managedFields": [{"manager": "kserve-functions"}],
        },
    )
    isvc["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    standing = status.model_state(isvc, rollout=status.Rollout(complete=False))
    summary = status.summary_of(isvc, urls=ModelUrls(domain="example.com"), standing=standing)
    return isvc, summary


def test_a_stream_follows_roll_outs_in_turns_and_within_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch_streams, "ROLLOUT_RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(watch_streams, "ROLLOUT_RECHECKS", 2)
    monkeypatch.setattr(watch_streams, "ROLLOUT_FOLLOWED", 3)
    rolling = watch_streams._RollingOut()
    assert rolling.due_in() == math.inf  # nothing followed: no re-read ever due
    models = [_rolling_out_model(f"m{n}") for n in range(4)]
    assert all(summary.state == "updating" for _, summary in models)

    for isvc, summary in models:
        rolling.note(isvc, summary)
    first, second = rolling.take(), rolling.take()

    # Four noted, three followed: the one noted first was dropped.
    assert [m["metadata"]["name"] for m in first] == ["m1", "m2"]
    assert [m["metadata"]["name"] for m in second] == ["m3"]
    assert all("managedFields" not in m["metadata"] for m in first + second)
    assert rolling.due_in() == math.inf  # all taken; the caller notes each again


def test_a_model_no_longer_rolling_out_is_not_followed() -> None:
    rolling = watch_streams._RollingOut()
    isvc, summary = _rolling_out_model("m")
    rolling.note(isvc, summary)
    assert rolling.due_in() < math.inf

    rolling.note(isvc, summary.model_copy(update={"state": "ready", "ready": True}))

    assert rolling.due_in() == math.inf
    assert rolling.take() == []
