"""A model's history: one ``apps/v1`` ControllerRevision per change made through the API.

KServe keeps no record of what was deployed, so the API keeps one, the way a
StatefulSet or DaemonSet keeps its own: a ControllerRevision per change, in the
model's namespace,

- owned by the InferenceService (``ownerReferences`` with its uid,
  ``controller: false`` — KServe is the model's controller — and
  ``blockOwnerDeletion: false``, which needs no rights on the model's
  finalizers), so the garbage collector deletes the history with the model;
- labelled ``serving.kserve.io/inferenceservice=<model>`` (KServe's own label
  for what belongs to a model), ``kserve-functions.dev/revision-of=<model>``
  (the project's, which lists it) and ``kserve-functions.dev/revision=<N>`` (which
  prunes it);
- named ``<model>-rev-<N>`` with ``revision`` = N, a per-model increasing
  number: the name makes the number unique (two writers picking the same N meet
  as AlreadyExists, and the second takes N+1);
- ``data``: what was asked — ``{"action": "deploy", "request": <the
  DeployRequest JSON>}``; a rollback the same plus ``rollbackOf``; a
  registry-push ``{"action": "rollout", "change": {"image": {"from", "to"}},
  "request": <the previous request with the new image>}``; ``stop``/``resume``
  with no request;
- annotations: who asked, when and how (``audit``'s keys and format), the
  model's ``metadata.generation`` after the change, and the restart token.

A bounded number is kept per model (``REVISION_HISTORY_LIMIT``, the *limit*):
the API shows the newest *limit* (``shown``), and the store holds at most twice
as many — once a new one makes more, every one beyond the newest *limit* is
deleted in one request (``to_prune``, by their number label), so pruning costs
one request per *limit* + 1 changes, not one per change.

Pure: the caller lists, creates and deletes (``operations.changes``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kserve_functions.core import errors, fields
from kserve_functions.core.models import RESERVED_PREFIX, ModelRevision
from kserve_functions.core.resources import (
    CONTROLLER_REVISION,
    INFERENCE_SERVICE,
    MODEL_LABEL,
    RESTART_TOKEN_ANNOTATION,
    REVISION_NUMBER_LABEL,
    REVISION_OF_LABEL,
)
from kserve_functions.objects import audit

GENERATION_ANNOTATION = f"{RESERVED_PREFIX}generation"

# promote and abort: the canary's changes (``canary``), recorded the same way.
Action = Literal["deploy", "rollout", "rollback", "stop", "resume", "promote", "abort"]


@dataclass(frozen=True)
class Change:
    """What one change through the API did, as its revision records it.

    ``request`` is the DeployRequest JSON applied (None for stop, resume, and a
    rollout, whose request is derived from the model's previous one);
    ``image_change`` a rollout's ``(from, to)``; ``restart_token`` the token the
    change set (a retried deploy with the same Idempotency-Key or event id sets
    the same one and records no second revision); ``rollback_of`` the revision a
    rollback re-applied.
    """

    action: Action
    request: Mapping[str, Any] | None = None
    image_change: tuple[str, str] | None = None
    restart_token: str | None = None
    rollback_of: int | None = None


def revision_name(model: str, number: int) -> str:
    """The ControllerRevision name of ``model``'s revision ``number``."""
    return f"{model}-rev-{number}"


def number(revision: Mapping[str, Any]) -> int:
    """A stored revision's number (0 when it has none, which the apiserver does not allow)."""
    return fields.integer(revision, "revision") or 0


def newest_first(revisions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``revisions`` by number, newest first."""
    return sorted(revisions, key=number, reverse=True)


def next_number(revisions: Sequence[Mapping[str, Any]]) -> int:
    """The number the next revision gets: one past the highest (1 for the first)."""
    return max((number(r) for r in revisions), default=0) + 1


def repeats(revisions: Sequence[Mapping[str, Any]], change: Change) -> int | None:
    """The newest revision's number when ``change`` is a retry of it, else None.

    A retry sends the same request and sets the same restart token (an
    Idempotency-Key, an event's id): it changed nothing, so it gets no revision
    of its own.
    """
    if not revisions or change.restart_token is None:
        return None
    newest = newest_first(revisions)[0]
    recorded = _data(newest)
    same = (
        fields.text(newest, "metadata", "annotations", RESTART_TOKEN_ANNOTATION)
        == change.restart_token
        and recorded.get("action") == change.action
        and recorded.get("request") == (dict(change.request) if change.request else None)
    )
    return number(newest) if same else None


def data(change: Change, revisions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``data`` of ``change``'s revision, given the model's ``revisions`` so far.

    A rollout records the model's previous request with the pushed image, so a
    rollback to it restores that image; without a previous request (a model
    deployed before history was kept, or by ``modelFormat``) it records none.
    """
    recorded: dict[str, Any] = {"action": change.action}
    if change.request is not None:
        recorded["request"] = dict(change.request)
    if change.rollback_of is not None:
        recorded["rollbackOf"] = change.rollback_of
    if change.action in {"promote", "abort"} and change.request is None:
        previous = latest_request(revisions)
        if previous is not None and isinstance(previous.get("canary"), Mapping):
            recorded["request"] = finished_canary(previous, promoted=change.action == "promote")
    if change.image_change is not None:
        before, after = change.image_change
        recorded["change"] = {"image": {"from": before, "to": after}}
        if change.request is None:
            previous = latest_request(revisions)
            if previous is not None and isinstance(previous.get("image"), str):
                recorded["request"] = {**previous, "image": after}
    return recorded


def revision(
    isvc: Mapping[str, Any],
    *,
    revision_number: int,
    recorded: Mapping[str, Any],
    actor: audit.Actor,
    at: datetime.datetime,
    restart_token: str | None = None,
) -> dict[str, Any]:
    """The ControllerRevision recording a change of ``isvc`` (the model as written).

    Raises:
        ValueError: ``isvc`` has no uid (not a stored object: a dry run's answer).
    """
    namespace, name = fields.namespaced_name(isvc)
    uid = fields.text(isvc, "metadata", "uid")
    if not uid:
        raise ValueError(f"model {namespace}/{name} has no uid: only a stored model has history")
    annotations = audit.change_annotations(actor, at)
    generation = fields.integer(isvc, "metadata", "generation")
    if generation is not None:
        annotations[GENERATION_ANNOTATION] = str(generation)
    if restart_token:
        annotations[RESTART_TOKEN_ANNOTATION] = restart_token
    return {
        "apiVersion": CONTROLLER_REVISION.api_version,
        "kind": CONTROLLER_REVISION.kind,
        "metadata": {
            "name": revision_name(name, revision_number),
            "namespace": namespace,
            "labels": {
                MODEL_LABEL: name,
                REVISION_OF_LABEL: name,
                REVISION_NUMBER_LABEL: str(revision_number),
            },
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": INFERENCE_SERVICE.api_version,
                    "kind": INFERENCE_SERVICE.kind,
                    "name": name,
                    "uid": uid,
                    # KServe is the model's controller; the history only goes with it.
                    "controller": False,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "revision": revision_number,
        "data": dict(recorded),
    }


# The canary fields that, promoted, replace the stable predictor's.
_CANARY_FIELDS = ("image", "envs", "resources", "storageUri")


def finished_canary(request: Mapping[str, Any], *, promoted: bool) -> dict[str, Any]:
    """The deploy request a finished canary leaves: ``request`` (which started the
    canary) without its ``canary``, and, when ``promoted``, with the canary's
    fields in place of the stable ones. A rollback to it deploys what then ran.
    """
    finished = {key: value for key, value in request.items() if key != "canary"}
    canary = request.get("canary")
    if promoted and isinstance(canary, Mapping):
        finished.update({key: canary[key] for key in _CANARY_FIELDS if key in canary})
    return finished


def stored_limit(limit: int) -> int:
    """How many revisions of a model the store may hold: twice the ``limit`` shown.

    The slack lets one request prune ``limit`` + 1 revisions at once.
    """
    return 2 * max(limit, 1)


def shown(revisions: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """The revisions the API shows: the newest ``limit`` (at least one), newest first.

    The store may hold older ones still (``stored_limit``); to a caller they are
    pruned already, so listing, rollback and the store's slack agree.
    """
    return newest_first(revisions)[: max(limit, 1)]


def to_prune(revisions: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """The revisions to delete now, oldest first: none while the model has at most
    ``stored_limit(limit)``, else every one beyond the newest ``limit``."""
    if len(revisions) <= stored_limit(limit):
        return []
    return list(reversed(newest_first(revisions)[max(limit, 1) :]))


def numbered(revision: Mapping[str, Any]) -> bool:
    """Whether ``revision`` carries its number as a label (written since the label was
    added: pruned by it; older ones are deleted by name)."""
    label = fields.text(revision, "metadata", "labels", REVISION_NUMBER_LABEL)
    return label == str(number(revision))


def name_of(revision: Mapping[str, Any]) -> str:
    """A stored revision's name."""
    return fields.text(revision, "metadata", "name") or ""


def remembered(revisions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``revisions`` as a function instance keeps them between changes of the model.

    The newest and the newest holding a request stay whole (``repeats`` and
    ``data`` read them); the others keep only their number, name and labels
    (``next_number`` and ``to_prune`` read those), so an instance that knows many
    models' histories holds little of each.
    """
    ordered = newest_first(revisions)
    newest_request = next((number(r) for r in ordered if request_of(r) is not None), None)
    whole = {number(r) for r in ordered[:1]} | {newest_request}
    return [_whole(r) if number(r) in whole else _skeleton(r) for r in ordered]


def _whole(revision: Mapping[str, Any]) -> dict[str, Any]:
    """``revision`` without its managedFields (written by the apiserver, read by no one here)."""
    metadata = {
        k: v for k, v in fields.mapping(revision, "metadata").items() if k != "managedFields"
    }
    return {**revision, "metadata": metadata}


def _skeleton(revision: Mapping[str, Any]) -> dict[str, Any]:
    """``revision``'s number, name and labels: what numbering and pruning read."""
    labels = fields.mapping(revision, "metadata", "labels")
    return {"revision": number(revision), "metadata": {"name": name_of(revision), "labels": labels}}


def latest_request(revisions: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The request of the newest revision that holds one (the model's current request)."""
    for stored in newest_first(revisions):
        request = request_of(stored)
        if request is not None:
            return request
    return None


def rollback_target(
    revisions: Sequence[Mapping[str, Any]], wanted: int | None
) -> Mapping[str, Any]:
    """The revision a rollback re-applies: ``wanted``, or by default the previous one.

    The previous one is the second-newest revision holding a request: the
    newest holding one is what the model runs now (a stop or resume in between
    changed no request). Rolling back twice therefore swaps back, as
    ``kubectl rollout undo`` does.

    Raises:
        errors.NotFound: no revision ``wanted`` (it never existed, or was pruned).
        errors.Conflict: ``wanted`` holds no request (a stop, a resume, a rollout of
            a model whose request is unknown), or by default: no previous revision.
    """
    if wanted is not None:
        for stored in revisions:
            if number(stored) == wanted:
                if request_of(stored) is None:
                    action = _data(stored).get("action") or "change"
                    raise errors.Conflict(
                        f"revision {wanted} is a {action} and holds no deploy request to re-apply"
                    )
                return stored
        known = ", ".join(str(number(r)) for r in newest_first(revisions)) or "none"
        raise errors.NotFound(f"the model has no revision {wanted} (revisions: {known})")
    with_request = [r for r in newest_first(revisions) if request_of(r) is not None]
    if len(with_request) < 2:  # noqa: PLR2004 - the current one and one before it
        raise errors.Conflict(
            "the model has no previous revision to roll back to "
            f"({len(with_request)} revision(s) with a deploy request)"
        )
    return with_request[1]


def owned_by(
    revisions: Sequence[Mapping[str, Any]], isvc: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The revisions of the model ``isvc`` itself (its uid): not those of an earlier
    model of the same name, which the garbage collector is about to delete."""
    uid = fields.text(isvc, "metadata", "uid")
    return [
        r
        for r in revisions
        if any(
            fields.text(owner, "uid") == uid
            for owner in fields.items(r, "metadata", "ownerReferences")
        )
    ]


def request_of(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The deploy request a revision holds (None for a stop or resume)."""
    request = _data(stored).get("request")
    return request if isinstance(request, dict) else None


def read(stored: Mapping[str, Any]) -> ModelRevision:
    """A stored revision as ``GET …/revisions`` reports it."""
    annotations = fields.mapping(stored, "metadata", "annotations")
    recorded = _data(stored)
    generation = annotations.get(GENERATION_ANNOTATION)
    request, change = recorded.get("request"), recorded.get("change")
    rollback_of = recorded.get("rollbackOf")
    return ModelRevision(
        revision=number(stored),
        by=annotations.get(audit.CHANGED_BY),
        at=annotations.get(audit.CHANGED_AT),
        how=annotations.get(audit.CHANGED_HOW),
        generation=int(generation)
        if isinstance(generation, str) and generation.isdigit()
        else None,
        action=str(recorded.get("action") or "deploy"),
        rollbackOf=rollback_of if isinstance(rollback_of, int) else None,
        request=request if isinstance(request, dict) else None,
        change=change if isinstance(change, dict) else None,
    )


def _data(stored: Mapping[str, Any]) -> Mapping[str, Any]:
    return fields.mapping(stored, "data")
