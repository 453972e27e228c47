"""One change made through the API, and its records (DESIGN §3).

Every change a caller or an event asks for — a deploy or a rollback
(``deploy``), a stop or a resume (``lifecycle``), a promote or an abort
(``canary``), a registry-push rollout (``rollouts``) — is the one step ``make``:

1. one time for the whole change;
2. the audit annotations (``audit.change_annotations``: who, when, how), which
   the write puts on the model with the change itself;
3. the write, the caller's own (an apply, a guarded patch), which says what it
   did (``Written``);
4. its records, side by side: a Kubernetes Event on the model (``record_event``)
   and a revision in its history (``record_revision``).

Both records are best effort: the change is made when they are written, so one
that cannot be (RBAC, the apiserver) is logged, not reported as the change's
failure (the answer then has no ``revision``). The answer waits for them,
concurrent with each other: a change answered 2xx has its Event and revision.

A crash between the write and its records leaves the change without them, and
its caller without a 2xx answer (an HTTP caller sees the connection fail, the
Broker redelivers an event it got no reply for). The change's audit annotations
are on the model whatever happens: they were written with it. A retry records
what is missing: a deploy or rollback retried with the same ``Idempotency-Key``
or event id changes nothing and, finding no revision of its restart token
(``history.repeats``), writes the revision and Event the crash left out; one
without a key, a stop or a resume records itself as a change of its own. A
promote or abort retried finds the canary finished (409) and a redelivered push
finds the image pinned: their revision stays missing, the model's annotations
say who made the change, when and how, and the next revision holds the whole
request again (``history.data`` derives it from the newest one holding it).

Numbering without a read: the instance remembers each model's revisions as it
last wrote or read them (``Context.revisions``), so the next change of the
model takes the next number at once. A memory another writer made stale (a
second replica, ``kubectl``) costs one collision: the create of a number already
taken is AlreadyExists, and the step re-reads and takes the next
(``retries.compare_and_swap``). A model the instance does not remember has its
revisions read from the apiserver's cache while the write is in flight.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kserve_functions.context import Context
from kserve_functions.core import errors, fields
from kserve_functions.objects import audit, history
from kserve_functions.operations import retries
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")


@dataclass(frozen=True)
class Written:
    """What a change's write did: the model as written, and how its Event names the change.

    ``created``: the write created the model (a deploy's apply answered 201).
    """

    model: dict[str, Any]
    reason: str
    note: str
    created: bool = False


@dataclass(frozen=True)
class Made:
    """A change made: the model as written, whether it was created, the number of its
    revision (None: a dry run, or not recorded), and when it was made."""

    model: dict[str, Any]
    created: bool
    revision: int | None
    at: datetime.datetime


Write = Callable[[dict[str, str]], Awaitable[Written]]
"""A change's write, given the audit annotations it puts on the model."""


async def make(
    context: Context,
    namespace: str,
    name: str,
    write: Write,
    *,
    actor: audit.Actor,
    change: history.Change,
    dry_run: bool = False,
    known: Sequence[Mapping[str, Any]] | None = None,
) -> Made:
    """Make one change of the model ``namespace/name`` as ``actor``, and record it.

    ``write`` makes it with the audit annotations given; ``change`` is what its
    revision records. ``known``: the model's revisions as the caller read them
    a moment ago (``Kube.revisions_by_model``). A ``dry_run`` records nothing.

    Raises:
        errors.ApiError: what ``write`` raised (nothing was recorded).
    """
    at = datetime.datetime.now(datetime.UTC)
    reading = None
    if not dry_run and known is None and (namespace, name) not in context.revisions:
        # Read while the write is in flight, so the records wait for no read.
        reading = asyncio.ensure_future(context.kube.revisions(namespace, name, from_cache=True))
    try:
        written = await write(audit.change_annotations(actor, at))
        revision = None
        if not dry_run:
            first = _first_read(context, written, known=known, reading=reading)
            _, revision = await asyncio.gather(
                record_event(
                    context,
                    written.model,
                    reason=written.reason,
                    note=written.note,
                    actor=actor,
                    at=at,
                ),
                record_revision(
                    context, written.model, change, actor=actor, at=at, first_read=first
                ),
            )
    finally:
        if reading is not None:
            _let_go(reading)
    return Made(model=written.model, created=written.created, revision=revision, at=at)


def _let_go(reading: asyncio.Future[Any]) -> None:
    """Stop a read no longer needed (the write failed, or the memory answered first)."""
    if not reading.done():
        reading.cancel()
    elif not reading.cancelled():
        reading.exception()  # retrieved: a failure of a read no one needed is moot


async def record_event(
    context: Context,
    isvc: Mapping[str, Any],
    *,
    reason: str,
    note: str,
    actor: audit.Actor,
    at: datetime.datetime,
) -> None:
    """Record a change as a Kubernetes Event on the model (``audit.event``), best effort.

    The change is made when this runs; an Event that cannot be written (RBAC, the
    apiserver) is logged, not reported as the change's failure.
    """
    event = audit.event(
        isvc, reason=reason, note=note, actor=actor, at=at, reporter=context.reporter
    )
    try:
        await context.kube.record_event(event)
    except errors.ApiError as e:
        metrics.RECORDS_FAILED.labels("event").inc()
        log.warning("could not record the %s Event (%s): %s", reason, note, e.detail)


FirstRead = Callable[[], Awaitable[list[dict[str, Any]]]]
"""The model's revisions a revision's first attempt numbers from (``_first_read``)."""


async def record_revision(
    context: Context,
    isvc: Mapping[str, Any],
    change: history.Change,
    *,
    actor: audit.Actor,
    at: datetime.datetime,
    first_read: FirstRead,
) -> int | None:
    """Record a change of ``isvc`` (the model as written) in its history; its number.

    Best effort, like ``record_event``: failing now would make a caller retry a
    change that happened, so a revision that cannot be written is logged and None
    returned. A retry of the newest revision's change (same restart token, as a
    consistent read shows it) returns that revision's number and writes nothing.
    The first attempt numbers from ``first_read``; two writers that pick the same
    number meet as AlreadyExists, and the second re-reads (consistently) and
    takes the next.
    Once the model has more revisions than ``history.stored_limit`` allows, the
    oldest are pruned (``history.to_prune``).
    """
    namespace, name = fields.namespaced_name(isvc)

    async def attempt(stale: bool) -> int:
        existing = await (context.kube.revisions(namespace, name) if stale else first_read())
        own = history.owned_by(existing, isvc)
        repeated = history.repeats(own, change)
        if repeated is not None and not stale:
            # The first read may lag (the instance's memory, the apiserver's cache):
            # another writer's revision may have followed the one this repeats, and
            # then this change is one of its own. Rare (a retry), so read consistently.
            existing = await context.kube.revisions(namespace, name)
            own = history.owned_by(existing, isvc)
            repeated = history.repeats(own, change)
        if repeated is not None:
            return repeated
        number = history.next_number(existing)
        body = history.revision(
            isvc,
            revision_number=number,
            recorded=history.data(change, own),
            actor=actor,
            at=at,
            restart_token=change.restart_token,
        )
        kept = [*existing, await context.kube.create_revision(body)]
        _remember(context, isvc, kept)
        await _prune(context, isvc, kept)
        return number

    try:
        return await retries.compare_and_swap(attempt, writes=("create", "controllerrevisions"))
    except retries.Contended:
        log.warning("could not record a revision of %s/%s: numbers kept colliding", namespace, name)
    except (errors.ApiError, ValueError) as e:
        detail = e.detail if isinstance(e, errors.ApiError) else str(e)
        log.warning("could not record a revision of %s/%s: %s", namespace, name, detail)
    metrics.RECORDS_FAILED.labels("revision").inc()
    return None


def _first_read(
    context: Context,
    written: Written,
    *,
    known: Sequence[Mapping[str, Any]] | None,
    reading: Awaitable[list[dict[str, Any]]] | None,
) -> FirstRead:
    """Where a change's revision is numbered from first, fastest first: the revisions the
    caller read, the instance's memory of the model, those read during the write, none for
    a model the write created, else a read from the apiserver's cache (a moment behind:
    a number it missed is a collision, and the re-read is consistent)."""
    namespace, name = fields.namespaced_name(written.model)
    uid = fields.text(written.model, "metadata", "uid")

    async def read() -> list[dict[str, Any]]:
        if known is not None:
            return [dict(r) for r in known]
        known_uid, remembered = context.revisions.get((namespace, name), ("", []))
        if known_uid and known_uid == uid:
            return list(remembered)
        if reading is not None:
            return await reading
        if written.created:
            # A new uid has no revisions; another model's of the same name, not yet
            # garbage-collected, make the create collide, and the re-read finds them.
            return []
        return await context.kube.revisions(namespace, name, from_cache=True)

    return read


def _remember(
    context: Context,
    isvc: Mapping[str, Any],
    revisions: Sequence[Mapping[str, Any]],
    *,
    forget: Collection[int] = (),
) -> None:
    """Keep ``revisions`` as the model's history in the instance's memory, merged with
    what it knew (concurrent changes of one model each add their own), less ``forget``."""
    key = fields.namespaced_name(isvc)
    uid = fields.text(isvc, "metadata", "uid") or ""
    known_uid, before = context.revisions.get(key, ("", []))
    merged: dict[int, Mapping[str, Any]] = {
        history.number(r): r for r in (before if known_uid == uid else [])
    }
    merged.update((history.number(r), r) for r in revisions)
    for number in forget:
        merged.pop(number, None)
    context.revisions[key] = (uid, history.remembered(list(merged.values())))


async def _prune(
    context: Context, isvc: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]
) -> None:
    """Delete the revisions ``history.to_prune`` names, best effort (logged).

    Those labelled with their number go in one request (``Kube.delete_revisions``);
    older ones, written before the label was, one by one.
    """
    doomed = history.to_prune(revisions, context.settings.revision_history_limit)
    if not doomed:
        return
    namespace, name = fields.namespaced_name(isvc)
    try:
        await context.kube.delete_revisions(
            namespace, name, [history.number(r) for r in doomed if history.numbered(r)]
        )
        for unlabelled in (r for r in doomed if not history.numbered(r)):
            await context.kube.delete_revision(namespace, history.name_of(unlabelled))
    except errors.ApiError as e:
        log.warning("could not prune the revisions of %s/%s: %s", namespace, name, e.detail)
        return
    _remember(context, isvc, (), forget={history.number(r) for r in doomed})
