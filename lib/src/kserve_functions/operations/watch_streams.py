"""Watch streams (``watch=true``): Server-Sent Events of what the API reports about models.

``GET /models/{ns}/{name}?watch=true`` and ``GET /models?namespace=…&watch=true``
answer ``text/event-stream``. Events:

- ``model``: a model as ``GET`` reports it (the summary), sent first for the
  current state, then whenever what the API reports changes — not for every
  write KServe makes (a status timestamp alone sends nothing). A list stream's
  first listing reads KServe's status only, as ``GET /models`` does; each
  change after it is read like ``GET /models/{ns}/{name}`` reads one model;
- ``deleted``: ``{"name", "namespace"}`` of a model that is gone; a
  single-model stream then ends;
- ``synced``: a list stream sent every model it knew of (after the start, and
  after a ``resync``); ``resync``: the apiserver had forgotten where the stream
  was (410), so what follows until ``synced`` is the whole current state and a
  model not in it is gone;
- ``error``: a problem+json body; the stream ends and the client may resume.

Every event's ``id`` is the resourceVersion it reflects (bookmarks advance it
with an ``id``-only frame), so a client reconnecting with ``Last-Event-ID``
resumes the apiserver's watch from there and loses nothing. A stream lasts at
most ``STREAM_MAX_SECONDS`` (below Knative's request timeout), sends a comment
line every ``STREAM_HEARTBEAT_SECONDS`` without a change, and holds one
apiserver watch; a function serves at most ``MAX_STREAMS`` at once (503
beyond). A slow client slows its own watch: nothing is buffered beyond one
event.

Roll-outs that end without a change to the model: a Standard-mode model that
KServe's status calls Ready while its predictor Deployment still rolls out the
current spec is ``updating``, and when that roll-out completes KServe often
writes nothing more to the InferenceService, so the watch sees nothing. While
a stream has sent models in that state (``waits_on_rollout``), it re-reads
them (their Deployment, as ``GET`` does) every ``ROLLOUT_RECHECK_SECONDS``, at
most ``ROLLOUT_RECHECKS`` at a time and in turn, and sends those whose summary
changed, with the ``id`` the stream had reached (the model itself did not
change, and every change up to that id has been sent). Streams re-reading the
same model within one such interval share one read. A stream follows at most
``ROLLOUT_FOLLOWED`` such models (beyond, the one re-read longest ago is
dropped and left to KServe's next write). A stream with none makes no call
besides its watch.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Final, Literal

from kserve_functions.context import Context, StreamSlots
from kserve_functions.core import errors, fields
from kserve_functions.core.models import ModelSummary
from kserve_functions.http.asgi import Request, Response, dump
from kserve_functions.kube import BOOKMARK, SYNC, SYNCED, Change, Page
from kserve_functions.objects import status
from kserve_functions.operations import summaries
from kserve_functions.telemetry import metrics

EVENT_STREAM = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# How soon an EventSource reconnects after the stream ends (milliseconds).
RECONNECT_MILLISECONDS = 1000
# A resourceVersion is opaque, but the apiserver's are decimal numbers; anything
# else cannot be one this API sent.
_RESOURCE_VERSION = re.compile(r"[0-9]{1,20}")
_HEARTBEAT = b": keep-alive\n\n"
# Models waiting only on their predictor Deployment's roll-out (module docstring):
# how often a stream re-reads them, how many per re-read (one Deployment read
# each), and how many a stream keeps (each as its last change, a few KiB).
ROLLOUT_RECHECK_SECONDS = 1.0
ROLLOUT_RECHECKS = 20
ROLLOUT_FOLLOWED = 1000


def frame(event: str | None, data: bytes | None = None, event_id: str | None = None) -> bytes:
    """One SSE frame: ``id`` alone (no event: only moves ``Last-Event-ID``), or an event.

    ``data`` is one line of JSON (it never holds a newline), so one ``data:`` field.
    """
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
        lines.append("data: " + (data or b"{}").decode())
    return ("\n".join(lines) + "\n\n").encode()


def resume_version(request: Request) -> str | None:
    """The resourceVersion of the client's ``Last-Event-ID``; None for a new stream.

    Raises:
        errors.BadRequest: the header holds no resourceVersion this API sends.
    """
    last = request.header("last-event-id")
    if last is None or not last.strip():
        return None
    if not _RESOURCE_VERSION.fullmatch(last.strip()):
        raise errors.BadRequest(
            "Last-Event-ID must be the id of an event this stream sent (a resourceVersion)"
        )
    return last.strip()


async def model_stream(context: Context, request: Request, namespace: str, name: str) -> Response:
    """``GET /models/{namespace}/{name}?watch=true`` (the caller is authorized already).

    Raises (before the stream starts, so as a problem):
        errors.NotFound: a new stream for a model that does not exist.
        errors.Unavailable: ``MAX_STREAMS`` streams are open.
    """
    version = resume_version(request)
    first: bytes | None = None
    sent: tuple[dict[str, Any], ModelSummary] | None = None
    slot = take_slot(context.streams, "model")
    try:
        if version is None:
            isvc = await context.kube.get(namespace, name)
            version = fields.resource_version(isvc)
            summary = await summaries.read_summary(context, isvc)
            first, sent = frame("model", dump(summary), version), (isvc, summary)
    except BaseException:
        slot.aclose_now()
        raise
    deadline = time.monotonic() + context.settings.stream_max_seconds
    events = _model_events(context, namespace, name, version, deadline, sent=sent)
    return _response(slot.holding(_starting_with(first, events)))


async def models_stream(
    context: Context,
    request: Request,
    namespace: str | None,
    label_selector: str | None,
) -> Response:
    """``GET /models?namespace=…&watch=true`` (the caller is authorized already).

    ``namespace`` None watches every namespace. The current models are listed
    first (page by page), then followed from the list's resourceVersion.

    Raises (before the stream starts, so as a problem):
        errors.BadRequest, errors.Invalid: the apiserver refused the selector.
        errors.Unavailable: ``MAX_STREAMS`` streams are open.
    """
    version = resume_version(request)
    page_size = context.settings.list_page_size
    slot = take_slot(context.streams, "models")
    try:
        # The first page is read before answering, so a refused selector is a
        # problem with its status; a resumed stream reads one item to check it.
        first = await context.kube.list_page(
            namespace,
            label_selector=label_selector,
            limit=1 if version is not None else page_size,
            continue_token=None,
        )
    except BaseException:
        slot.aclose_now()
        raise
    deadline = time.monotonic() + context.settings.stream_max_seconds
    events = _list_events(
        context,
        namespace,
        label_selector,
        first=None if version is not None else first,
        version=version or first.resource_version,
        deadline=deadline,
    )
    return _response(slot.holding(events))


def _response(body: AsyncIterator[bytes]) -> Response:
    return Response(status=200, body=body, content_type=EVENT_STREAM, headers=dict(HEADERS))


async def _starting_with(
    first: bytes | None, events: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n".encode()
    if first is not None:
        yield first
    async with contextlib.aclosing(events) as rest:
        async for chunk in rest:
            yield chunk


class _Follower(abc.ABC):
    """What a stream does after its start, one change of the watch at a time.

    The loop both kinds of stream share (``run``): the changes as they come, a
    heartbeat while none comes, the models waiting on their roll-out re-read
    when due (``_RollingOut``), every event's ``id`` the resourceVersion
    reached (a bookmark sends it alone). Each kind says what differs: what a
    change sends (``changed``), what a quiet interval sends (``quiet``), and
    what its client has been sent already (``unsent``).
    """

    def __init__(self, context: Context, version: str) -> None:
        self.context = context
        # The resourceVersion reached: every event's id.
        self.version = version
        self.rolling = _RollingOut()
        # Set by ``changed`` when the stream ends after what it returned.
        self.ended = False

    async def run(
        self,
        followed: AsyncGenerator[Change, None],
        *,
        first: AsyncIterator[bytes] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """``first``'s events (a list stream's listing), then those of ``followed``'s
        changes; a failure of the Kubernetes API is the last event (``error``)."""
        try:
            if first is not None:
                async for listed in first:
                    yield listed
            heartbeat = self.context.settings.stream_heartbeat_seconds
            async for change in _with_heartbeats(followed, heartbeat, self.rolling.due_in):
                if isinstance(change, _Due):
                    for isvc in self.rolling.take():
                        if (chunk := await self.read(isvc, again=self.rolling.round())) is not None:
                            yield chunk
                elif change is None:
                    yield await self.quiet()
                else:
                    self.version = change.resource_version or self.version
                    if change.type == BOOKMARK:
                        yield frame(None, event_id=self.version)
                        continue
                    for chunk in await self.changed(change):
                        yield chunk
                    if self.ended:
                        return
        except errors.ApiError as e:
            yield frame("error", dump(e.problem()), None)

    async def read(self, isvc: dict[str, Any], again: int | None = None) -> bytes | None:
        """The ``model`` event of ``isvc`` (read like ``GET`` reads one model: its
        roll-out and pods as needed; ``again`` as ``summaries.read_summary``'s), or
        None if its client was sent the same already."""
        summary = await summaries.read_summary(self.context, isvc, again=again)
        self.rolling.note(isvc, summary)
        body = self.unsent(summary)
        return None if body is None else frame("model", body, self.version)

    @abc.abstractmethod
    def unsent(self, summary: ModelSummary) -> bytes | None:
        """``summary``'s event data, noted as sent; None if the last sent said the same."""

    async def quiet(self) -> bytes:
        """What to send when nothing came for a heartbeat interval."""
        return _HEARTBEAT

    @abc.abstractmethod
    async def changed(self, change: Change) -> list[bytes]:
        """The events of ``change`` (not a bookmark); sets ``ended`` to end the stream."""


class _ModelFollower(_Follower):
    """A single-model stream: ends when the model is gone."""

    def __init__(
        self,
        context: Context,
        namespace: str,
        name: str,
        version: str,
        sent: tuple[dict[str, Any], ModelSummary] | None,
    ) -> None:
        super().__init__(context, version)
        self._model = (namespace, name)
        # The model as last changed, and the summary last sent.
        self._latest: dict[str, Any] | None = sent[0] if sent is not None else None
        self._last: ModelSummary | None = sent[1] if sent is not None else None
        self._relisted = False  # a re-list (410) found the model: SYNC before its SYNCED
        if self._latest is not None and self._last is not None:
            self.rolling.note(self._latest, self._last)

    def unsent(self, summary: ModelSummary) -> bytes | None:
        if summary == self._last:
            return None
        self._last = summary
        return dump(summary)

    async def quiet(self) -> bytes:
        # A model still starting may have failed where only its pods tell (the
        # scheduler found no node), so it is read again.
        starting = self._last is not None and self._last.state == "starting"
        if starting and self._latest and (chunk := await self.read(self._latest)) is not None:
            return chunk
        return _HEARTBEAT

    async def changed(self, change: Change) -> list[bytes]:
        if change.type == "DELETED" or (change.type == SYNCED and not self._relisted):
            self.ended = True
            return [frame("deleted", _name_of(*self._model), self.version or None)]
        if change.type == SYNCED:
            self._relisted = False
            return [frame(None, event_id=self.version)]
        self._relisted = change.type == SYNC
        self._latest = change.object
        return [await self.read(change.object) or frame(None, event_id=self.version)]


class _ListFollower(_Follower):
    """A list stream: ``deleted`` for a model that is gone, ``resync`` after a 410.

    What each model's last event said is kept as a digest: a stream over many
    models keeps 16 bytes per model, not a summary.
    """

    def __init__(self, context: Context, version: str) -> None:
        super().__init__(context, version)
        self.sent: dict[tuple[str, str], bytes] = {}
        self._resyncing = False

    def unsent(self, summary: ModelSummary) -> bytes | None:
        return _unsent(summary, self.sent)

    async def changed(self, change: Change) -> list[bytes]:
        if change.type == SYNCED:
            self._resyncing = False
            return [frame("synced", b"{}", self.version or None)]
        chunks = []
        if change.type == SYNC and not self._resyncing:
            self._resyncing = True
            self.sent.clear()
            # What follows is the whole current state: a model not in it is gone.
            self.rolling.clear()
            chunks.append(frame("resync", b"{}"))
        if change.type == "DELETED":
            key = fields.namespaced_name(change.object)
            self.sent.pop(key, None)
            self.rolling.forget(key)
            return [*chunks, frame("deleted", _name_of(*key), self.version)]
        # A change is read like GET reads one model (its roll-out and pods as
        # needed): from KServe's status alone, an update would read ready until
        # KServe reconciles it.
        return [*chunks, await self.read(change.object) or frame(None, event_id=self.version)]


async def _model_events(
    context: Context,
    namespace: str,
    name: str,
    version: str,
    deadline: float,
    *,
    sent: tuple[dict[str, Any], ModelSummary] | None,
) -> AsyncGenerator[bytes, None]:
    """The events of one model after ``version``, until it is deleted or ``deadline``.

    ``sent`` is the model and its summary as the stream's first event sent
    them (None for a resumed stream).
    """
    follower = _ModelFollower(context, namespace, name, version, sent)
    followed = context.kube.follow_models(
        namespace, resource_version=version, deadline=deadline, name=name
    )
    async for chunk in follower.run(followed):
        yield chunk


async def _list_events(
    context: Context,
    namespace: str | None,
    label_selector: str | None,
    *,
    first: Page[dict[str, Any]] | None,
    version: str,
    deadline: float,
) -> AsyncGenerator[bytes, None]:
    """The current models (unless resumed), ``synced``, then every change until ``deadline``."""
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n".encode()
    follower = _ListFollower(context, version)
    listing = None
    if first is not None:
        listing = _listing(
            context, namespace, label_selector, first, sent=follower.sent, version=version
        )
        # The listing holds the first page only while it lasts: the stream may last minutes.
        first = None
    followed = context.kube.follow_models(
        namespace, resource_version=version, deadline=deadline, label_selector=label_selector
    )
    async for chunk in follower.run(followed, first=listing):
        yield chunk


async def _listing(
    context: Context,
    namespace: str | None,
    label_selector: str | None,
    first: Page[dict[str, Any]],
    *,
    sent: dict[tuple[str, str], bytes],
    version: str,
) -> AsyncGenerator[bytes, None]:
    """A ``model`` event for every model listed, from ``first`` on, each noted in
    ``sent``; then ``synced`` at ``version`` (the list's)."""
    pages = context.kube.model_pages(
        namespace,
        label_selector=label_selector,
        page_size=context.settings.list_page_size,
        continue_token=first.continue_token or None,
    )
    page: Page[dict[str, Any]] | None = first
    while page is not None:
        for item in page.items:
            summary = status.summary_of(item, urls=context.settings.model_urls)
            body = dump(summary)
            sent[(summary.namespace, summary.name)] = _digest(body)
            yield frame("model", body)
        page = await anext(pages, None) if page.continue_token else None
    yield frame("synced", b"{}", version)


def waits_on_rollout(isvc: Mapping[str, Any], summary: ModelSummary) -> bool:
    """``summary`` (read from ``isvc``) is ``updating`` only because the predictor
    Deployment has not rolled out the current spec.

    KServe's status alone calls the model ready (``status.is_ready`` without a
    roll-out: KServe reports no roll-out of its own), so the roll-out may
    complete without KServe writing to the model again.
    """
    return summary.state == "updating" and status.is_ready(isvc)


class _RollingOut:
    """The models a stream sent as waiting on their roll-out (``waits_on_rollout``).

    Each is kept as the stream's last change of it (``managedFields`` dropped),
    so a re-read shows nothing the stream has not seen but the Deployment. Due
    every ``ROLLOUT_RECHECK_SECONDS`` while any is kept; ``take`` hands out the
    ones kept longest, at most ``ROLLOUT_RECHECKS``, and the caller ``note``s
    each again with its new summary (so they take turns).
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], dict[str, Any]] = {}
        self._due = 0.0

    def note(self, isvc: Mapping[str, Any], summary: ModelSummary) -> None:
        """Keep ``isvc`` if ``summary`` (read from it) waits on its roll-out; else forget it."""
        key = (summary.namespace, summary.name)
        self._models.pop(key, None)
        if not waits_on_rollout(isvc, summary):
            return
        if not self._models:
            self._due = time.monotonic() + ROLLOUT_RECHECK_SECONDS
        elif len(self._models) >= ROLLOUT_FOLLOWED:
            del self._models[next(iter(self._models))]
        metadata = {
            k: v for k, v in fields.mapping(isvc, "metadata").items() if k != "managedFields"
        }
        self._models[key] = {**isvc, "metadata": metadata}

    def forget(self, key: tuple[str, str]) -> None:
        """Stop following ``(namespace, name)`` (it is gone)."""
        self._models.pop(key, None)

    def clear(self) -> None:
        """Follow none (a resync re-reads every model)."""
        self._models.clear()

    def due_in(self) -> float:
        """Seconds until ``take`` has models to hand out (infinite while none is kept)."""
        if not self._models:
            return math.inf
        return max(0.0, self._due - time.monotonic())

    def take(self) -> list[dict[str, Any]]:
        """The models to re-read now, no longer kept (none unless due)."""
        now = time.monotonic()
        if not self._models or now < self._due:
            return []
        self._due = now + ROLLOUT_RECHECK_SECONDS
        keys = list(itertools.islice(self._models, ROLLOUT_RECHECKS))
        return [self._models.pop(key) for key in keys]

    @staticmethod
    def round() -> int:
        """Which ``ROLLOUT_RECHECK_SECONDS`` interval it is: streams re-reading a
        model within one share the read (``summaries.read_summary``'s ``again``)."""
        return int(time.monotonic() // ROLLOUT_RECHECK_SECONDS)


class _Due:
    """The type of ``_DUE``."""


# What ``_with_heartbeats`` yields when the stream's own deadline (``due_in``) came.
_DUE: Final = _Due()
_END = object()
_QUIET = object()


async def _with_heartbeats(
    changes: AsyncGenerator[Change, None],
    interval: float,
    due_in: Callable[[], float] = lambda: math.inf,
) -> AsyncGenerator[Change | _Due | None, None]:
    """``changes`` as they come, None whenever none came for ``interval`` seconds,
    and ``_DUE`` whenever ``due_in()`` (asked before each wait) seconds passed.

    A task reads ``changes`` into a queue of one, so a slow consumer stops the
    reading (and the watch behind it) rather than growing a buffer. ``_DUE`` is
    yielded even while changes keep coming; the consumer must push ``due_in``
    forward when it gets one.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for change in changes:
                await queue.put(change)
        except errors.ApiError as e:
            await queue.put(e)
        else:
            await queue.put(_END)

    task = asyncio.create_task(pump())
    beat = time.monotonic() + interval
    try:
        while True:
            # A deadline that has come is served before a waiting change, so a
            # busy watch cannot hold off the consumer's re-reads.
            wait = min(beat - time.monotonic(), due_in())
            item: object = _QUIET
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(queue.get(), wait)
            if item is _QUIET:
                if time.monotonic() >= beat:
                    beat = time.monotonic() + interval
                    yield None
                else:
                    yield _DUE
                continue
            beat = time.monotonic() + interval
            if item is _END:
                return
            if isinstance(item, errors.ApiError):
                raise item
            if isinstance(item, Change):
                yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await changes.aclose()


def _unsent(summary: ModelSummary, sent: dict[tuple[str, str], bytes]) -> bytes | None:
    """``summary``'s event data, noted in ``sent``; None if its last event said the same."""
    body = dump(summary)
    key = (summary.namespace, summary.name)
    if sent.get(key) == (digest := _digest(body)):
        return None
    sent[key] = digest
    return body


def _digest(body: bytes) -> bytes:
    """A short fingerprint of an event's data, to tell a changed summary from a repeat."""
    return hashlib.blake2b(body, digest_size=16).digest()


def _name_of(namespace: str, name: str) -> bytes:
    return json.dumps({"name": name, "namespace": namespace}, separators=(",", ":")).encode()


class HeldSlot:
    """A taken stream slot, released exactly once: when the body ends or is closed,
    or at once if the stream never starts."""

    def __init__(self, slots: StreamSlots, kind: str) -> None:
        self._slots: StreamSlots | None = slots
        self._open = metrics.STREAMS_OPEN.labels(kind)
        self._open.inc()

    def aclose_now(self) -> None:
        """Release the slot (idempotent)."""
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.release()
            self._open.dec()

    def holding(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``body``, releasing the slot when it ends or is closed (``aclose``)."""
        return _SlotHolding(body, self)


class _SlotHolding:
    """An async iterator of chunks that releases its slot on ``aclose`` or at its end.

    Not a generator, so ``aclose`` releases the slot even if iteration never started.
    """

    def __init__(self, body: AsyncIterator[bytes], slot: HeldSlot) -> None:
        self._body = body
        self._slot = slot

    def __aiter__(self) -> _SlotHolding:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._body)
        except StopAsyncIteration:
            self._slot.aclose_now()
            raise

    async def aclose(self) -> None:
        """End the stream: release the slot, close the body."""
        self._slot.aclose_now()
        close = getattr(self._body, "aclose", None)
        if close is not None:
            await close()


def take_slot(slots: StreamSlots, kind: Literal["models", "model", "logs"]) -> HeldSlot:
    """A stream slot for a stream of ``kind`` (a list's, a model's, a followed log).

    Raises:
        errors.Unavailable: all ``MAX_STREAMS`` are taken.
    """
    if not slots.take():
        metrics.STREAM_REFUSALS.unlabelled.inc()
        raise errors.Unavailable(
            f"this function already serves {slots.limit} watch streams (MAX_STREAMS); "
            "try again later or watch fewer",
            retry_after_seconds=5,
        )
    return HeldSlot(slots, kind)
