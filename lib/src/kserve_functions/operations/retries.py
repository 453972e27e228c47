"""Compare-and-swap: read, decide, write only if nothing changed since the read; else again.

Every guarded write of the project is one: the canary's patch guarded by the
generation read (``canary``), the adoption of its fields and notify's record,
guarded by the resourceVersion read (``intake.notify``), a revision's create,
whose name is its number (``changes``). A concurrent writer makes the write
fail as ``errors.Conflict``; the attempt is then made again on a fresh read, a
bounded number of times (``CAS_ATTEMPTS``) shared by all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from kserve_functions.core import errors
from kserve_functions.telemetry import metrics

T = TypeVar("T")

CAS_ATTEMPTS = 5
"""Attempts of one compare-and-swap: a concurrent writer (KServe writing a model's
status while it rolls, a second replica, a redelivered event) costs one each;
past these the caller gives up (and says how: a 503 to redeliver, a log line)."""


class Contended(Exception):
    """Every attempt of a compare-and-swap met a concurrent writer (``__cause__``: the last)."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"changed under each of {attempts} attempts")
        self.attempts = attempts


async def compare_and_swap(
    attempt: Callable[[bool], Awaitable[T]],
    *,
    attempts: int = CAS_ATTEMPTS,
    again_on: tuple[type[errors.ApiError], ...] = (errors.Conflict,),
    writes: tuple[str, str] = ("patch", "inferenceservices"),
) -> T:
    """What ``attempt`` returns, made again while it raises one of ``again_on``.

    ``attempt(stale)``: ``stale`` is False for the first attempt and True for
    every later one, which must read afresh what it decides on (the previous
    read is what a concurrent writer changed). Other errors pass through. Each
    attempt made again is counted in ``kserve_functions_apiserver_retries_total``
    under the verb and resource the attempt ``writes``.

    Raises:
        Contended: each of ``attempts`` attempts raised one of ``again_on``.
    """
    last: errors.ApiError | None = None
    for made in range(attempts):
        if made:
            metrics.APISERVER_RETRIES.labels(*writes).inc()
        try:
            return await attempt(made > 0)
        except again_on as e:
            last = e
    raise Contended(attempts) from last


async def compare_and_swap_or_redeliver(
    attempt: Callable[[bool], Awaitable[T]], *, model: str, purpose: str
) -> T:
    """``compare_and_swap`` for what an event makes due on ``model`` (``namespace/name``):
    made again when the model changed or went away since the attempt's read
    (``errors.Conflict``, ``errors.NotFound``).

    Raises:
        errors.Unavailable: it changed under every attempt (503: the Broker
            redelivers the event, and the decision is taken again).
    """
    try:
        return await compare_and_swap(attempt, again_on=(errors.Conflict, errors.NotFound))
    except Contended as e:
        raise errors.Unavailable(
            f"model {model} changed under each of {e.attempts} attempts to {purpose}; "
            "redeliver the event"
        ) from e
