"""CloudEvents in and out (DESIGN §5), with the official ``cloudevents`` 2.x SDK.

A request is an event when it has ``ce-*`` headers (binary mode) or the
``application/cloudevents+json`` content type (structured mode). The SDK reads
it; this module adds what the SDK leaves to us: it insists on the required
attributes being *sent* (the SDK invents a missing ``id``, which would defeat
redelivery detection), on JSON object data, and it builds the reply event —
``dev.kserve-functions.model.deployed`` / ``.deleted`` / ``.failed`` — that a
Knative Broker routes onward.

Tracing: an incoming event's ``traceparent`` extension (CloudEvents'
distributed-tracing extension) is read into ``Event.traceparent``; every event
built here carries the current trace (``trace.CURRENT``) in that extension.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http_event, to_binary_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent

from kserve_functions.core import errors
from kserve_functions.core.models import ValidationIssue
from kserve_functions.http.asgi import Request, Response
from kserve_functions.telemetry import trace

PREFIX = "dev.kserve-functions.model"
DEPLOY = f"{PREFIX}.deploy"
DELETE = f"{PREFIX}.delete"
DEPLOYED = f"{PREFIX}.deployed"
DELETED = f"{PREFIX}.deleted"
FAILED = f"{PREFIX}.failed"
# Status changes the notify function sends to K_SINK (DESIGN §5). "failed" and
# "deleted" share their names with the replies above; the source tells them apart
# (/kserve-functions/notify, and the data is the model summary).
READY = f"{PREFIX}.ready"
UNREADY = f"{PREFIX}.unready"
STATUS_TYPES = {"ready": READY, "unready": UNREADY, "failed": FAILED, "deleted": DELETED}
# What a Knative ApiServerSource in Resource mode sends: the watched object as data.
APISERVER_ADD = "dev.knative.apiserver.resource.add"
APISERVER_UPDATE = "dev.knative.apiserver.resource.update"
APISERVER_DELETE = "dev.knative.apiserver.resource.delete"
HARBOR_PUSH = "harbor.artifact.pushed"
ACR_PUSH = "Microsoft.ContainerRegistry.ImagePushed"
DISTRIBUTION_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")


@dataclass(frozen=True)
class Event:
    """An incoming event: its attributes and its JSON object data."""

    type: str
    source: str
    id: str
    subject: str | None
    data: dict[str, Any]
    # The distributed-tracing extension: the trace the event belongs to, if it says.
    traceparent: str | None = None

    @property
    def delivery_token(self) -> str:
        """Stable per (source, id): a redelivered event yields the same token.

        Used as the deploy's restart token, so a redelivery rolls no new revision.
        """
        digest = hashlib.sha256(f"{self.source}\n{self.id}".encode()).hexdigest()
        return f"ce-{digest[:32]}"


def _media_type(request: Request) -> str:
    return (request.header("content-type") or "").split(";")[0].strip().lower()


def is_event(request: Request) -> bool:
    """Whether ``request`` carries a CloudEvent (binary or structured mode)."""
    return any(name.startswith("ce-") for name in request.headers) or (
        _media_type(request) == STRUCTURED_MEDIA_TYPE
    )


def is_distribution_envelope(request: Request) -> bool:
    """Whether ``request`` is a Docker Distribution notification envelope."""
    return _media_type(request) == DISTRIBUTION_MEDIA_TYPE


def parse(request: Request) -> Event:
    """Read the CloudEvent of ``request``.

    Raises:
        errors.BadRequest: not a readable CloudEvent (missing required
            attributes, wrong specversion, a body that is not JSON).
        errors.Invalid: its data is not a JSON object.
    """
    missing = [name for name in REQUIRED_ATTRIBUTES if not _sent(request, name)]
    if missing:
        raise errors.BadRequest(
            f"not a valid CloudEvent: missing required attribute(s) {', '.join(missing)}"
        )
    message = HTTPMessage(headers=dict(request.headers), body=request.body)
    try:
        event = from_http_event(message)
    except BaseCloudEventException as e:
        raise errors.BadRequest(f"not a valid CloudEvent: {str(e)[:300]}") from e
    except ValueError as e:  # the structured body is not JSON
        raise errors.BadRequest("not a valid CloudEvent: the body is not JSON") from e
    data = event.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise errors.Invalid(
            f"the data of event {str(event.get_type())[:200]} must be a JSON object",
            errors=[ValidationIssue(field="data", message="expected a JSON object")],
        )
    subject = event.get_subject()
    traceparent = event.get_extension("traceparent")
    return Event(
        type=str(event.get_type()),
        source=str(event.get_source()),
        id=str(event.get_id()),
        subject=str(subject) if subject else None,
        data=data,
        traceparent=traceparent if isinstance(traceparent, str) else None,
    )


def _sent(request: Request, attribute: str) -> bool:
    if any(name.startswith("ce-") for name in request.headers):
        return bool(request.header(f"ce-{attribute}"))
    try:
        document = json.loads(request.body)
    except ValueError:
        return True  # reported as "not JSON" by the SDK parse
    return isinstance(document, dict) and bool(document.get(attribute))


def binary_message(
    event_type: str,
    *,
    source: str,
    event_id: str,
    subject: str,
    time: datetime,
    data: Mapping[str, Any],
) -> tuple[dict[str, str], bytes]:
    """The headers and body of an event to POST in binary mode (JSON data).

    For events this service sends on its own initiative (to ``K_SINK``), where
    the id is chosen by the caller: a consumer drops a repeated source + id.
    The current trace goes as the event's ``traceparent`` extension and as the
    POST's own ``traceparent`` header (for a traced Broker ingress).
    """
    attributes: dict[str, Any] = {
        "type": event_type,
        "source": source,
        "id": event_id,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
    }
    parent = _traced(attributes)
    message = to_binary_event(CloudEvent(attributes=attributes, data=dict(data)))
    headers = dict(message.headers)
    if parent is not None:
        headers["traceparent"] = parent
    return headers, message.body


def reply(
    event_type: str,
    *,
    source: str,
    subject: str | None,
    data: Mapping[str, Any],
    status: int = 200,
) -> Response:
    """The HTTP response carrying a reply event in binary mode.

    Binary mode keeps the body the same JSON the HTTP route answers, so a
    client that ignores ``ce-*`` headers still reads a familiar answer.
    """
    attributes: dict[str, Any] = {
        "type": event_type,
        "source": source,
        "datacontenttype": "application/json",
    }
    if subject:
        attributes["subject"] = subject
    _traced(attributes)
    message = to_binary_event(CloudEvent(attributes=attributes, data=dict(data)))
    headers = dict(message.headers)
    content_type = headers.pop("content-type", "application/json")
    return Response(status=status, body=message.body, content_type=content_type, headers=headers)


def _traced(attributes: dict[str, Any]) -> str | None:
    """Put the current trace in ``attributes`` (the ``traceparent`` extension); its value."""
    parent = trace.current_traceparent()
    if parent is not None:
        attributes["traceparent"] = parent
    return parent
