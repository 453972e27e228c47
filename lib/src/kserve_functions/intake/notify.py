"""Status-change events: a model became ready, unready, failed, or was deleted (DESIGN §5).

A Knative ApiServerSource (``k8s/eventing/apiserversource.yaml``) watches the
InferenceServices and KServe's predictor pods and sends every change, in
Resource mode, through the Broker to the notify function:
``dev.knative.apiserver.resource.add|update|delete`` with the object as data.
Such an event only says which model to look at. Events come late, twice, out of
order and to several replicas at once, so the model is read afresh, with its
predictor Deployment and pods, as ``GET /models/{namespace}/{name}`` reads it
(``readings``), and ``transitions`` decides from that and from what was sent
last whether ``dev.kserve-functions.model.ready|unready|failed|deleted`` is due.
The event goes to ``K_SINK`` (the Broker, through a SinkBinding), subject
``namespace/name``, data the model summary.

Exactly once per transition: what was sent last is recorded on the model itself
(``resources.REPORTED_STATE_ANNOTATION``) by a compare-and-swap, a JSON patch
that applies only at the resourceVersion read. Of several writers deciding on
the same read (replicas, a redelivery) one patch succeeds, and only its writer
sends; the others re-read and find the record. The record's own write is an
update event too; re-read, the state equals the record and nothing is sent. A
send that fails puts the previous record back (another compare-and-swap) and
answers 503, so the Broker redelivers and the decision is taken again.

Deletion: ``deleted`` is sent once the model has a deletionTimestamp: KServe's
finalizer keeps it a moment, long enough to record it. When the model is gone
first, a ``resource.delete`` event whose object does not record ``deleted``
sends it without a record to swap: the one path on which a redelivery (or two
replicas given the same event) can send ``deleted`` twice. Every ``deleted`` of
a model carries the same id (``<uid>/deleted``), so a consumer that drops
repeated source + id sees one.

Answers: 200 with an empty body when done (a Broker accepts only an empty body
or a CloudEvent as a subscriber's reply, and the status event went to the sink
already); 400 for an event that cannot be read or is about another kind of
object; 503 when the apiserver or the sink failed, so the Broker redelivers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.cloudevents import envelope
from kserve_functions.cloudevents.sink import EventSink
from kserve_functions.context import Context
from kserve_functions.core import errors, fields, grammar
from kserve_functions.core.models import ModelSummary
from kserve_functions.core.resources import (
    INFERENCE_SERVICE,
    MODEL_LABEL,
    POD,
    REPORTED_STATE_ANNOTATION,
)
from kserve_functions.http.asgi import Response
from kserve_functions.kube import Caller
from kserve_functions.objects import status, transitions
from kserve_functions.operations import canary, retries, summaries
from kserve_functions.telemetry import metrics

log = logging.getLogger("kserve_functions")


def watched_model(event: envelope.Event) -> tuple[str, str]:
    """The model an ApiServerSource event is about: ``(namespace, name)``.

    The event's object is the InferenceService itself, or a pod KServe made for
    it (labelled ``serving.kserve.io/inferenceservice: <model>``).

    Raises:
        errors.BadRequest: the object is neither, or does not name a model.
    """
    data = event.data
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if kind == INFERENCE_SERVICE.kind and str(api_version).split("/")[0] == INFERENCE_SERVICE.group:
        name = fields.text(data, "metadata", "name")
    elif (kind, api_version) == (POD.kind, POD.api_version):
        name = fields.text(data, "metadata", "labels", MODEL_LABEL)
    else:
        raise errors.BadRequest(
            f"event {event.type[:100]} is about {str(api_version)[:100]} {str(kind)[:100]}, "
            "not an InferenceService or a model's pod"
        )
    namespace = fields.text(data, "metadata", "namespace")
    if not (
        namespace is not None
        and grammar.is_dns1123_label(namespace)
        and name is not None
        and grammar.is_dns1035_label(name)
    ):
        raise errors.BadRequest(f"event {event.type[:100]}: its {kind} names no model")
    return namespace, name


async def on_model_change(
    context: Context, event: envelope.Event, source: str, caller: Caller | None
) -> Response:
    """An ApiServerSource event: send the status-change event it makes due, if any.

    The sender must be allowed to ``get`` the model (what the event leads to is
    the model's state, which such a sender can read anyway).

    Raises:
        errors.BadRequest: the event is not about a model (``watched_model``).
        errors.Forbidden: the sender or the namespace allowlist refuses it.
        errors.Unavailable: the apiserver or the sink failed; redeliver.
    """
    namespace, name = watched_model(event)
    await context.auth.authorize_for(caller, permissions.READ, namespace)
    sink = context.sink
    if sink is None:  # start() keeps a function without K_SINK not ready
        raise errors.Unavailable("this function has no event sink (K_SINK)")
    sent = await report(context, sink, namespace, name, event=event, source=source)
    if sent is not None:
        log.info("%s/%s: sent %s", namespace, name, sent)
    # After the status event: a canary that opted in to autoPromote is finished
    # on the same change that made it due (canary.auto_finish).
    if canary.may_concern_a_canary(event.data, name):
        await canary.auto_finish(context, sink, namespace, name, source=source)
    # Empty: a Broker takes a subscriber's reply only as a CloudEvent or nothing,
    # and counts any other body as a failed delivery.
    return Response(status=200, body=b"", content_type="text/plain")


async def report(
    context: Context,
    sink: EventSink,
    namespace: str,
    name: str,
    *,
    event: envelope.Event,
    source: str,
) -> transitions.Transition | None:
    """Send the status-change event due for the model now, once; what was sent, or None.

    Raises:
        errors.Unavailable: the apiserver or the sink failed, or the model kept
            changing under every attempt: nothing was sent, redeliver.
    """

    async def attempt(stale: bool) -> transitions.Transition | None:
        try:
            isvc = await context.kube.get(namespace, name)
        except errors.NotFound:
            return await _report_gone(context, sink, event, source)
        summary = await summaries.read_summary(context, isvc)
        previous = _record(isvc)
        due = transitions.decide(previous, summary)
        if due is None:
            return None
        if due != "deleted":
            await _refuse_where_kserve_copies_the_record(context, isvc)
        # A Conflict or NotFound: changed or gone since the read; read and decide again.
        written = await context.kube.annotate_if_unchanged(isvc, REPORTED_STATE_ANNOTATION, due)
        try:
            await _send(sink, written, due, summary, source)
        except errors.Unavailable:
            await _put_back(context, written, due, previous)
            raise
        return due

    return await retries.compare_and_swap_or_redeliver(
        attempt, model=f"{namespace}/{name}", purpose="record its status"
    )


async def _report_gone(
    context: Context, sink: EventSink, event: envelope.Event, source: str
) -> transitions.Transition | None:
    """The model no longer exists: ``deleted``, if this is its delete event and none was sent.

    Nothing is left to record on, so this send is not swapped in (see the
    module's docstring); other events about a gone model have nothing to say.
    """
    last = event.data
    if event.type != envelope.APISERVER_DELETE or last.get("kind") != INFERENCE_SERVICE.kind:
        return None
    due = transitions.decide(_record(last), None)
    if due is None:
        return None
    summary = status.summary_of(_as_deleted(last), urls=context.settings.model_urls)
    await _send(sink, last, due, summary, source)
    return due


async def _send(
    sink: EventSink,
    isvc: Mapping[str, Any],
    due: transitions.Transition,
    summary: ModelSummary,
    source: str,
) -> None:
    """Send ``due`` about ``isvc`` (as recorded) to the sink.

    The id is the model's uid with what was recorded and where: unique per
    record written, so a consumer can drop a repeat; ``deleted`` has one id per
    model, whichever path sends it.

    Raises:
        errors.Unavailable: the sink did not take it.
    """
    uid = fields.text(isvc, "metadata", "uid") or f"{summary.namespace}/{summary.name}"
    if due == "deleted":
        event_id = f"{uid}/deleted"
    else:
        event_id = f"{uid}/{due}/{fields.resource_version(isvc)}"
    headers, body = envelope.binary_message(
        envelope.STATUS_TYPES[due],
        source=source,
        event_id=event_id,
        subject=f"{summary.namespace}/{summary.name}",
        time=datetime.now(UTC),
        data=summary.model_dump(by_alias=True, exclude_none=True, mode="json"),
    )
    try:
        await sink.send(headers, body)
    except errors.ApiError:
        metrics.STATUS_EVENTS.labels(envelope.STATUS_TYPES[due], "failed").inc()
        raise
    metrics.STATUS_EVENTS.labels(envelope.STATUS_TYPES[due], "sent").inc()


async def _put_back(
    context: Context,
    written: Mapping[str, Any],
    due: transitions.Transition,
    previous: str | None,
) -> None:
    """Undo the record of an event the sink did not take: ``previous`` again (None: no record).

    By compare-and-swap too, and only while the record is still ours: a writer
    that moved it on meanwhile decided from it, and its record stands. A
    failure here is logged: the event is then lost until the model's next
    transition (the record says it was sent).
    """
    current: Mapping[str, Any] = written
    namespace, name = fields.namespaced_name(written)

    async def attempt(stale: bool) -> None:
        nonlocal current
        if stale:  # changed since: read again, and put back only if still ours
            current = await context.kube.get(namespace, name)
        if _record(current) == due:
            await context.kube.annotate_if_unchanged(current, REPORTED_STATE_ANNOTATION, previous)

    try:
        await retries.compare_and_swap(attempt)
    except errors.NotFound:
        return  # gone: nothing recorded to put back
    except retries.Contended as e:
        failure = f"it changed under each of {e.attempts} attempts"
    except errors.ApiError as e:
        failure = e.detail
    else:
        return
    log.error(
        "%s/%s: %s was not sent but stays recorded (%s); it is lost until the next transition",
        namespace,
        name,
        due,
        failure,
    )


async def _refuse_where_kserve_copies_the_record(context: Context, isvc: Mapping[str, Any]) -> None:
    """Refuse to record where KServe copies the record into the model's pods.

    KServe copies a model's annotations onto its predictor's pod template unless
    its ``inferenceservice-config`` lists them in
    ``serviceAnnotationDisallowedList``. Without that, each record would roll
    the model's pods: a restart per event, and a loop (ready, recorded, rolled,
    unready, recorded, rolled, …). A Standard-mode model's Deployment shows it
    once a record was written; the first one costs that model one roll-out.

    Raises:
        errors.Unavailable: KServe copied the record: the installation must list
            the annotation in ``serviceAnnotationDisallowedList``.
    """
    if _record(isvc) is None or status.deployment_mode(isvc) != status.STANDARD_MODE:
        return
    namespace, name = fields.namespaced_name(isvc)
    try:
        deployment = await context.kube.predictor_deployment(namespace, name)
    except errors.Forbidden as e:
        log.warning("cannot check the Deployment of %s/%s: %s", namespace, name, e.detail)
        return
    copied = fields.mapping(deployment, "spec", "template", "metadata", "annotations")
    if REPORTED_STATE_ANNOTATION in copied:
        log.error(
            "KServe copies %s into the pods of %s/%s, so each status record restarts them; "
            "add it to serviceAnnotationDisallowedList in KServe's inferenceservice-config",
            REPORTED_STATE_ANNOTATION,
            namespace,
            name,
        )
        raise errors.Unavailable(
            f"KServe copies the annotation {REPORTED_STATE_ANNOTATION} into the pods of model "
            f"{namespace}/{name}, so recording its status would restart it: list the annotation "
            "in serviceAnnotationDisallowedList (KServe's inferenceservice-config)"
        )


def _record(isvc: Mapping[str, Any]) -> str | None:
    """The model's record of the last event sent (the raw annotation value), or None."""
    return fields.text(isvc, "metadata", "annotations", REPORTED_STATE_ANNOTATION)


def _as_deleted(isvc: Mapping[str, Any]) -> dict[str, Any]:
    """``isvc`` as a model being deleted, for the summary a ``deleted`` event carries.

    A delete event's object normally has its deletionTimestamp (KServe's
    finalizer made the delete wait); one deleted without a finalizer does not.
    """
    metadata = dict(fields.mapping(isvc, "metadata"))
    metadata.setdefault("deletionTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {**isvc, "metadata": metadata}


HANDLERS = {
    envelope.APISERVER_ADD: on_model_change,
    envelope.APISERVER_UPDATE: on_model_change,
    envelope.APISERVER_DELETE: on_model_change,
}
