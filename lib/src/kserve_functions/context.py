"""What every operation needs, in one value: the settings, the Kubernetes client, the authorizer.

Its own module so that everything above the Kubernetes layer (operations,
rollouts, eventing, routing) can depend on it without depending on each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import cachetools

from kserve_functions.auth import authorizer
from kserve_functions.cloudevents.sink import EventSink
from kserve_functions.config import Settings
from kserve_functions.core.models import ModelSummary
from kserve_functions.http.asgi import Request, Response
from kserve_functions.kube import Kube
from kserve_functions.objects import status

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


KnownRevisions = cachetools.LRUCache[tuple[str, str], tuple[str, list[dict[str, Any]]]]
"""By model (namespace, name): its uid and its revisions as this instance last wrote or
read them (``operations.changes``, in ``history.remembered``'s form)."""
# Models whose history an instance keeps: a few KiB each.
KNOWN_HISTORIES = 1024


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
    # The histories of the models this instance changed lately, so the next change
    # of one numbers its revision without reading them (``operations.changes``).
    revisions: KnownRevisions = field(
        default_factory=lambda: cachetools.LRUCache(maxsize=KNOWN_HISTORIES)
    )

    def summary_url(self, isvc: Mapping[str, Any]) -> str | None:
        """The model's URL: KServe's, else predicted for its mode (``status.model_url``)."""
        return status.model_url(isvc, self.settings.model_urls)


# An operation as a route calls it: the function's context, the request, the
# path parameters; it answers or raises ``errors.ApiError``.
Handler = Callable[[Context, Request, Mapping[str, str]], Awaitable[Response]]
