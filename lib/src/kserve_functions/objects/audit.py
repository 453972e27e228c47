"""Who changed a model, when and how: annotations on the model and a Kubernetes Event.

Every change made through the API or an event records its ``Actor`` twice:

- on the InferenceService, in annotations under the project's reserved prefix
  (``kserve-functions.dev/changed-by``, ``…/changed-at``, ``…/changed-how``),
  so ``kubectl get -o yaml`` shows the last change;
- as a Kubernetes Event (``events.k8s.io/v1``) regarding the InferenceService
  (``Deployed``, ``Updated``, ``Deleted``, ``RolledOut``), so ``kubectl events``
  and ``GET /models/{ns}/{name}/events`` show the history.

KServe copies an InferenceService's annotations into its predictor's pod
template (Standard mode), so these keys belong in KServe's
``serviceAnnotationDisallowedList`` (``AUDIT_ANNOTATIONS``): otherwise a retried
deploy (same Idempotency-Key, so the same spec) would roll the pods once more
for its new ``changed-at``. The local cluster's KServe configuration lists them.

Pure: the caller gives the time.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve_functions.core import fields
from kserve_functions.core.models import RESERVED_PREFIX
from kserve_functions.core.resources import INFERENCE_SERVICE

CHANGED_BY = f"{RESERVED_PREFIX}changed-by"
CHANGED_AT = f"{RESERVED_PREFIX}changed-at"
CHANGED_HOW = f"{RESERVED_PREFIX}changed-how"
AUDIT_ANNOTATIONS = (CHANGED_BY, CHANGED_AT, CHANGED_HOW)

DEPLOYED = "Deployed"
UPDATED = "Updated"
DELETED = "Deleted"
ROLLED_OUT = "RolledOut"

REPORTING_CONTROLLER = "kserve-functions.dev/api"
# An Event's note is at most 1 KiB (the apiserver refuses longer ones).
_NOTE_LIMIT = 1024
# Annotation values are not bounded one by one, but an actor is a name and a
# short phrase; a caller cannot make them long (user names come from the cluster).
_VALUE_LIMIT = 512
ANONYMOUS = "anonymous (AUTH_MODE=none)"
TRUSTED_BROKER = "the broker (EVENT_AUTH=trust-broker)"


@dataclass(frozen=True)
class Actor:
    """Who asked for a change (a user, or an event's sender) and how (route or event)."""

    by: str
    how: str


def http_actor(user: str | None, method: str, path: str) -> Actor:
    """A caller of the HTTP API; ``user`` None when callers are not authenticated."""
    return Actor(by=user or ANONYMOUS, how=f"{method} {path}")


def mcp_actor(user: str | None, tool: str) -> Actor:
    """A caller of the MCP server's tool ``tool``; ``user`` None when callers are not
    authenticated."""
    return Actor(by=user or ANONYMOUS, how=f"mcp tool {tool}")


def event_actor(user: str | None, event_type: str, source: str, event_id: str) -> Actor:
    """The sender of a CloudEvent; ``user`` None when the broker is trusted."""
    return Actor(by=user or TRUSTED_BROKER, how=f"event {event_type} from {source} (id {event_id})")


def timestamp(at: datetime.datetime) -> str:
    """RFC 3339 in UTC with microseconds, as Kubernetes writes a MicroTime."""
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def change_annotations(actor: Actor, at: datetime.datetime) -> dict[str, str]:
    """The annotations that record ``actor``'s change at ``at`` on the model."""
    return {
        CHANGED_BY: actor.by[:_VALUE_LIMIT],
        CHANGED_AT: timestamp(at),
        CHANGED_HOW: actor.how[:_VALUE_LIMIT],
    }


def event(
    isvc: Mapping[str, Any],
    *,
    reason: str,
    note: str,
    actor: Actor,
    at: datetime.datetime,
    reporter: str,
) -> dict[str, Any]:
    """A ``events.k8s.io/v1`` Event regarding the InferenceService ``isvc`` (as stored).

    ``reporter`` names the function instance that writes it; the note ends with
    who asked and how. Named as client-go's recorder names Events: the object's
    name and the time in hexadecimal nanoseconds.
    """
    namespace, name = fields.namespaced_name(isvc)
    regarding = {
        "apiVersion": INFERENCE_SERVICE.api_version,
        "kind": INFERENCE_SERVICE.kind,
        "namespace": namespace,
        "name": name,
    }
    for key in ("uid", "resourceVersion"):
        if value := fields.get(isvc, "metadata", key):
            regarding[key] = str(value)
    text = f"{note} by {actor.by} ({actor.how})"
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{_nanoseconds(at):x}", "namespace": namespace},
        "eventTime": timestamp(at),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": reporter[:128],
        "action": reason,
        "reason": reason,
        "type": "Normal",
        "regarding": regarding,
        "note": text[:_NOTE_LIMIT],
    }


def _nanoseconds(at: datetime.datetime) -> int:
    """``at`` in nanoseconds since the epoch (microsecond precision, as Python keeps it)."""
    delta = at - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
