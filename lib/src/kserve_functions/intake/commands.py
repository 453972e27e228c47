"""Operations triggered by events, answered with reply events (DESIGN §5).

``POST /`` of the deploy, delete and root functions takes CloudEvents (and
Docker Distribution webhooks); each function handles the event types of its
concern. Outcomes:

- a readable event of a handled type is answered with a reply event —
  ``.deployed`` / ``.deleted`` with the HTTP route's answer as data, or
  ``.failed`` with the problem as data for a final failure (invalid data,
  a conflict): HTTP 200, so a Broker routes the outcome on rather than
  retrying something that cannot succeed;
- a transient failure (the apiserver unreachable) is a 503 problem, so the
  Broker retries the delivery;
- an unreadable event or a type this function does not handle is a 400
  problem: there is nothing to reply about;
- an event without the credentials ``auth`` asks for is a 401 problem; an
  authenticated sender that RBAC or an allowlist refuses gets a ``.failed``
  reply with the 403 problem.

Who may send what (``auth``): model events carry the sender's Knative OIDC
token (``EVENT_AUTH=oidc``), authorized like an HTTP caller for the operation
they trigger, or are trusted (``EVENT_AUTH=trust-broker``, safe only behind a
NetworkPolicy that admits the broker alone). Registry pushes (Harbor, ACR,
Docker Distribution) cannot carry Kubernetes tokens: the shared registry secret
is their trust, and the rollouts they cause use the function's own rights.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import pydantic

from kserve_functions.auth import permissions
from kserve_functions.cloudevents import envelope, registry
from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.core.models import DeleteResponse, Name, Namespace
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.kube import Caller
from kserve_functions.objects import audit
from kserve_functions.operations import delete, deploy, rollouts
from kserve_functions.telemetry import logs, metrics, trace

log = logging.getLogger("kserve_functions")

EventHandler = Callable[[Context, envelope.Event, str, Caller | None], Awaitable[Response]]
REGISTRY_EVENT_TYPES = frozenset({envelope.HARBOR_PUSH, envelope.ACR_PUSH})


class DeleteData(pydantic.BaseModel):
    """The data of a ``dev.kserve-functions.model.delete`` event."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    namespace: Namespace = "default"
    name: Name


def _subject(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _failed(source: str, subject: str | None, error: errors.ApiError) -> Response:
    """The ``.failed`` reply for a final failure; a retryable one is raised instead.

    The one place that decides retry-or-reply: raised, a retryable error
    (``errors.ApiError.retryable``: the cluster was unavailable) becomes a 503
    problem, which makes the Broker redeliver the event.
    """
    if error.retryable:
        raise error
    metrics.note_event_outcome("refused")
    return envelope.reply(
        envelope.FAILED,
        source=source,
        subject=subject,
        data=error.problem().model_dump(by_alias=True, exclude_none=True, mode="json"),
    )


async def on_deploy(
    context: Context, event: envelope.Event, source: str, caller: Caller | None
) -> Response:
    """A deploy event: the ``POST /deploy`` body as data; the event id is the restart token."""
    subject = _data_subject(event.data)
    try:
        deploy_request = queries.parse_deploy_request(event.data)
        await context.auth.authorize_deploy(caller, deploy_request)
        _, answer = await deploy.apply_model(
            context,
            deploy_request,
            restart_token=event.delivery_token,
            actor=_actor(event, caller),
        )
    except errors.ApiError as e:
        return _failed(source, subject, e)
    return envelope.reply(
        envelope.DEPLOYED,
        source=source,
        subject=_subject(answer.namespace, answer.name),
        data=answer.model_dump(by_alias=True, exclude_none=True, mode="json"),
    )


def _actor(event: envelope.Event, caller: Caller | None) -> audit.Actor:
    """Who sent ``event``: the sender's identity (OIDC), or the trusted broker."""
    return audit.event_actor(caller.user if caller else None, event.type, event.source, event.id)


async def on_delete(
    context: Context, event: envelope.Event, source: str, caller: Caller | None
) -> Response:
    """A delete event; deleting a model that is already gone succeeds (redelivery)."""
    try:
        target = DeleteData.model_validate(event.data)
    except pydantic.ValidationError as e:
        problem = errors.Invalid("invalid delete event data", errors=queries.validation_issues(e))
        return _failed(source, _data_subject(event.data), problem)
    subject = _subject(target.namespace, target.name)
    try:
        await context.auth.authorize_for(caller, permissions.DELETE, target.namespace)
        await delete.delete(context, target.namespace, target.name, _actor(event, caller))
    except errors.NotFound:
        log.info("delete %s (event): already absent", subject)
        metrics.note_event_outcome("duplicate")
    except errors.ApiError as e:
        return _failed(source, subject, e)
    answer = DeleteResponse(name=target.name, namespace=target.namespace)
    return envelope.reply(
        envelope.DELETED,
        source=source,
        subject=subject,
        data=answer.model_dump(by_alias=True, exclude_none=True, mode="json"),
    )


def _data_subject(data: Mapping[str, object]) -> str | None:
    name, namespace = data.get("name"), data.get("namespace", "default")
    if isinstance(name, str) and isinstance(namespace, str):
        return _subject(namespace, name)[:253]
    return None


async def on_registry_push(
    context: Context, event: envelope.Event, source: str, caller: Caller | None
) -> Response:
    """A Harbor or ACR push event: roll the opted-in models tracking the pushed tag."""
    parse = registry.harbor_pushes if event.type == envelope.HARBOR_PUSH else registry.acr_pushes
    try:
        pushes = parse(event.data)
    except errors.ApiError as e:
        metrics.REGISTRY_PUSHES.labels("refused").inc()
        return _failed(source, event.subject, e)
    report = await rollouts.roll_out(context, pushes)
    subject = ", ".join(push.tagged for push in pushes)[:253] or None
    return envelope.reply(
        envelope.FAILED if report.failed else envelope.DEPLOYED,
        source=source,
        subject=subject,
        data=report.model_dump(by_alias=True, exclude_none=True, mode="json"),
    )


async def on_distribution_envelope(context: Context, request: Request) -> Response:
    """A Docker Distribution notification (plain JSON, not a CloudEvent): roll, report.

    Raises:
        errors.Unauthorized: without the registry secret (``AUTH_MODE=kubernetes``).
    """
    context.auth.check_registry_secret(request)
    pushes = registry.distribution_pushes(request.json_body())
    report = await rollouts.roll_out(context, pushes)
    return json_response(200, report)


DEPLOY_HANDLERS: dict[str, EventHandler] = {
    envelope.DEPLOY: on_deploy,
    envelope.HARBOR_PUSH: on_registry_push,
    envelope.ACR_PUSH: on_registry_push,
}
DELETE_HANDLERS: dict[str, EventHandler] = {envelope.DELETE: on_delete}


async def handle(
    context: Context, request: Request, handlers: Mapping[str, EventHandler], source: str
) -> Response:
    """Answer an event request with the handler for its type.

    Raises:
        errors.BadRequest: unreadable event, or a type not handled here.
        errors.Unauthorized: without the credentials its type needs.
        errors.Unavailable: the apiserver failed; the sender should retry.
    """
    # Counted by type (a type this function does not take as "other": a label
    # takes no value a sender chooses) and outcome: a problem raised is "retry"
    # when the sender should redeliver (503), else "refused".
    counted = "other"
    metrics.taking_event()
    try:
        event = envelope.parse(request)
        _follow(event)
        handler = handlers.get(event.type)
        if handler is None:
            handled = ", ".join(sorted(handlers)) or "none"
            raise errors.BadRequest(
                f"this function does not handle events of type {event.type[:200]!r}; "
                f"it handles: {handled}"
            )
        counted = event.type
        caller: Caller | None = None
        if event.type in REGISTRY_EVENT_TYPES:
            context.auth.check_registry_secret(request)
        else:
            caller = await context.auth.authenticate_event(request)
            if caller is not None:
                logs.bind(user=caller.user)
        answer = await handler(context, event, source, caller)
    except errors.ApiError as e:
        metrics.note_event_outcome("retry" if e.retryable else "refused")
        raise
    finally:
        metrics.taken_event(counted)
    return answer


def _follow(event: envelope.Event) -> None:
    """Name ``event`` on every log line written while it is handled, and continue the
    trace its ``traceparent`` extension names, when it names one: the trace of the
    event's origin, which the HTTP request's header (the last hop's) may not be."""
    logs.bind(event_id=event.id, event_type=event.type, event_source=event.source)
    if trace.parse(event.traceparent) is not None:
        trace.CURRENT.set(trace.continued(event.traceparent))
