"""Compare-and-swap: made again on a concurrent writer, a bounded number of times (``retries``)."""

from __future__ import annotations

import pytest
from kserve_functions.core import errors
from kserve_functions.operations import retries

pytestmark = pytest.mark.asyncio


class Writer:
    """An attempt that meets ``conflicts`` concurrent writers, then writes."""

    def __init__(self, conflicts: int, error: errors.ApiError | None = None) -> None:
        self.conflicts = conflicts
        self.error = error or errors.Conflict("changed since it was read")
        self.seen: list[bool] = []

    async def __call__(self, stale: bool) -> str:
        self.seen.append(stale)
        if len(self.seen) <= self.conflicts:
            raise self.error
        return "written"


async def test_a_conflict_is_made_again_on_a_fresh_read() -> None:
    writer = Writer(conflicts=2)

    assert await retries.compare_and_swap(writer) == "written"
    # Only the first attempt may decide on what the caller read before.
    assert writer.seen == [False, True, True]


async def test_past_the_attempts_it_gives_up_with_the_last_conflict_as_cause() -> None:
    writer = Writer(conflicts=retries.CAS_ATTEMPTS)

    with pytest.raises(retries.Contended) as raised:
        await retries.compare_and_swap(writer)

    assert len(writer.seen) == retries.CAS_ATTEMPTS == raised.value.attempts
    assert raised.value.__cause__ is writer.error


async def test_the_attempts_and_what_is_made_again_are_the_callers() -> None:
    gone = Writer(conflicts=1, error=errors.NotFound("gone since the read"))

    assert await retries.compare_and_swap(gone, again_on=(errors.NotFound,)) == "written"
    with pytest.raises(retries.Contended):
        await retries.compare_and_swap(Writer(conflicts=2), attempts=2)


async def test_other_errors_pass_through_at_once() -> None:
    refused = Writer(conflicts=1, error=errors.Forbidden("may not"))

    with pytest.raises(errors.Forbidden):
        await retries.compare_and_swap(refused)
    assert refused.seen == [False]


async def test_what_an_event_makes_due_is_redelivered_when_the_model_keeps_changing() -> None:
    gone_once = Writer(conflicts=1, error=errors.NotFound("gone since the read"))
    assert (
        await retries.compare_and_swap_or_redeliver(gone_once, model="ml/iris", purpose="do it")
        == "written"
    )

    with pytest.raises(errors.Unavailable) as raised:
        await retries.compare_and_swap_or_redeliver(
            Writer(conflicts=retries.CAS_ATTEMPTS), model="ml/iris", purpose="finish its canary"
        )

    assert raised.value.detail == (
        "model ml/iris changed under each of 5 attempts to finish its canary; redeliver the event"
    )
    assert raised.value.status == 503
