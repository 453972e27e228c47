"""What every operation needs, in one value: the settings, the Kubernetes client, the authorizer.

Its own module so that everything above the Kubernetes layer (operations,
rollouts, eventing, routing) can depend on it without depending on each other.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import cachetools

from kserve_functions.auth import authorizer
from kserve_functions.cloudevents.sink import EventSink
from kserve_functions.config import Settings
from kserve_functions.core import errors
from kserve_functions.core.models import ModelSummary
from kserve_functions.http.asgi import Request, Response
from kserve_functions.kube import Kube
from kserve_functions.objects import audit, history, status

_K = TypeVar("_K")
_V = TypeVar("_V")
# How long a change's summary is shared: long enough for every stream to read
# it, short enough that a Deployment's roll-out is read afresh for a new ask.
SHARED_READ_SECONDS = 1.0
SHARED_READS = 4096


class SharedReads(Generic[_K, _V]):
    """Answers that concurrent callers share: one computation per key, kept ``ttl`` seconds.

    The first caller of a key computes it; callers arriving meanwhile await the
    same task; later callers get the kept answer until it expires. A failed
    computation is not kept.
    """

    def __init__(self, *, ttl: float, size: int) -> None:
        self._done: cachetools.TTLCache[_K, _V] = cachetools.TTLCache(maxsize=size, ttl=ttl)
        self._running: dict[_K, asyncio.Future[_V]] = {}

    async def get(self, key: _K, compute: Callable[[], Awaitable[_V]]) -> _V:
        """The answer for ``key``: kept, being computed, or computed now by ``compute``."""
        try:
            return self._done[key]
        except KeyError:
            pass
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(compute())
            self._running[key] = running
            running.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(running)

    def _finished(self, key: _K, done: asyncio.Future[_V]) -> None:
        self._running.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self._done[key] = done.result()


class StreamSlots:
    """How many watch streams a function has open, against its limit (``MAX_STREAMS``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> bool:
        """Take a slot; False when all are taken (the caller refuses the stream)."""
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """Give back a slot ``take`` gave."""
        self.open -= 1


log = logging.getLogger("kserve_functions")

# Writers racing for a model's next revision number: each collision costs one attempt.
_REVISION_ATTEMPTS = 5


@dataclass(frozen=True)
class Context:
    """The settings, the Kubernetes client and the authorizer of one started function,
    and its open watch streams."""

    settings: Settings
    kube: Kube
    auth: authorizer.Authorizer
    streams: StreamSlots = field(default_factory=lambda: StreamSlots(0))
    # One model's summary per change, shared by the streams that see it (readings).
    summaries: SharedReads[tuple[str, str, str], ModelSummary] = field(
        default_factory=lambda: SharedReads(ttl=SHARED_READ_SECONDS, size=SHARED_READS)
    )
    # Who writes the Kubernetes Events of the changes it makes: function and host.
    reporter: str = "kserve-functions"
    # Where status-change events go (K_SINK); only the notify function has one.
    sink: EventSink | None = None

    async def record(
        self,
        isvc: Mapping[str, Any],
        *,
        reason: str,
        note: str,
        actor: audit.Actor,
        at: datetime.datetime,
    ) -> None:
        """Record a change as a Kubernetes Event on the model (``audit.event``), best effort.

        The change is made when this runs; an Event that cannot be written (RBAC,
        the apiserver) is logged, not reported as the change's failure.
        """
        event = audit.event(
            isvc, reason=reason, note=note, actor=actor, at=at, reporter=self.reporter
        )
        try:
            await self.kube.record_event(event)
        except errors.ApiError as e:
            log.warning("could not record the %s Event (%s): %s", reason, note, e.detail)

    async def record_change(
        self,
        isvc: Mapping[str, Any],
        change: history.Change,
        *,
        reason: str,
        note: str,
        actor: audit.Actor,
        at: datetime.datetime,
        known: Sequence[Mapping[str, Any]] | None = None,
    ) -> int | None:
        """Record a change of ``isvc`` both ways, side by side: its Kubernetes Event
        (``record``) and its revision (``record_revision``, whose number this returns).

        Both are best effort and independent of each other.
        """
        _, revision = await asyncio.gather(
            self.record(isvc, reason=reason, note=note, actor=actor, at=at),
            self.record_revision(isvc, change, actor=actor, at=at, known=known),
        )
        return revision

    async def record_revision(
        self,
        isvc: Mapping[str, Any],
        change: history.Change,
        *,
        actor: audit.Actor,
        at: datetime.datetime,
        known: Sequence[Mapping[str, Any]] | None = None,
    ) -> int | None:
        """Record a change of ``isvc`` (the model as written) in its history; its number.

        ``known``: the model's revisions as the caller read them a moment ago
        (``Kube.revisions_by_model``), taken in place of the first read.

        Best effort, like ``record``: the change is made when this runs, and
        failing it now would make a caller retry a change that happened, so a
        revision that cannot be written (RBAC, the apiserver) is logged and None
        returned. A retry of the newest revision's change (same restart token)
        returns that revision's number and writes nothing. Two writers that pick
        the same number meet as AlreadyExists: the second re-reads and takes the
        next (a few attempts). After writing, revisions beyond
        ``REVISION_HISTORY_LIMIT`` are pruned, oldest first.
        """
        metadata = isvc.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        try:
            for attempt in range(_REVISION_ATTEMPTS):
                # The first read from the apiserver's cache (1-2 ms, where a consistent
                # list right after the model's write waits up to 100 ms); a number it
                # missed fails the create as AlreadyExists, and the re-reads are
                # consistent: a retried change then finds its own revision.
                if attempt == 0 and known is not None:
                    existing: Sequence[Mapping[str, Any]] = known
                else:
                    existing = await self.kube.revisions(namespace, name, from_cache=attempt == 0)
                repeated = history.repeats(existing, change)
                if repeated is not None:
                    return repeated
                number = history.next_number(existing)
                body = history.revision(
                    isvc,
                    revision_number=number,
                    recorded=history.data(change, existing),
                    actor=actor,
                    at=at,
                    restart_token=change.restart_token,
                )
                try:
                    created = await self.kube.create_revision(body)
                except errors.Conflict:
                    continue  # another writer took the number: re-read, take the next
                limit = self.settings.revision_history_limit
                for old in history.to_prune([*existing, created], limit):
                    await self.kube.delete_revision(namespace, old)
                return number
        except (errors.ApiError, ValueError) as e:
            detail = e.detail if isinstance(e, errors.ApiError) else str(e)
            log.warning("could not record a revision of %s/%s: %s", namespace, name, detail)
            return None
        log.warning("could not record a revision of %s/%s: numbers kept colliding", namespace, name)
        return None

    def summary_url(self, isvc: Mapping[str, Any]) -> str | None:
        """The model's URL: KServe's, else predicted for its mode (``status.model_url``)."""
        return status.model_url(isvc, self.settings.model_urls)


# An operation as a route calls it: the function's context, the request, the
# path parameters; it answers or raises ``errors.ApiError``.
Handler = Callable[[Context, Request, Mapping[str, str]], Awaitable[Response]]
