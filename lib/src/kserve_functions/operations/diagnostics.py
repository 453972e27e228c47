"""What explains a model: its predictor's logs and the Kubernetes Events about it.

``GET /models/{ns}/{name}/logs``: a container's log from the model's newest pod
(or the ``pod`` asked for), through the apiserver's ``pods/log``, passed through
as text; ``follow=true`` streams it as the container writes, bounded like a
watch stream (``MAX_STREAMS``, ``STREAM_MAX_SECONDS``).

``GET /models/{ns}/{name}/events``: the Events about the InferenceService, its
predictor Deployment, that Deployment's ReplicaSets and their Pods, newest first.

The caller needs ``get`` on the model and, in its namespace, ``get`` on
``pods/log`` or ``list`` on ``events`` (SubjectAccessReview), as ``kubectl logs``
and ``kubectl events`` would need.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.context import Context
from kserve_functions.core import errors, fields, grammar
from kserve_functions.core.models import ModelEvent, ModelEvents, ValidationIssue
from kserve_functions.core.resources import KSERVE_CONTAINER, POD
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response
from kserve_functions.kube import predictor_deployment_name
from kserve_functions.operations import watch_streams

log = logging.getLogger("kserve_functions")
LOG_CONTENT_TYPE = "text/plain; charset=utf-8"
# Bounds of the query parameters (422 beyond): a day of lines, thirty days back.
MAX_TAIL_LINES = 100_000
MAX_SINCE_SECONDS = 30 * 24 * 3600
# A log read without follow is cut at this many bytes (the kubelet's limitBytes).
MAX_LOG_BYTES = 16 * 1024 * 1024
# Events: how many are read at most to find a model's, and returned at most.
MAX_EVENTS_SCANNED = 5_000
DEFAULT_EVENTS = 100
MAX_EVENTS = 1_000
# How long a followed log's answer waits for the kubelet's first byte before it starts.
FOLLOW_START_SECONDS = 1.0
_CONTAINER = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_POD_SAMPLE = 50


def _container(request: Request) -> str:
    """The ``container`` query parameter (``kserve-container`` when absent).

    Raises:
        errors.Invalid: not a container name (a DNS-1123 label), an empty one included.
    """
    name = request.query_value("container")
    if name is None:
        return KSERVE_CONTAINER
    if not _CONTAINER.fullmatch(name):
        raise errors.Invalid(
            "query parameter container is invalid",
            errors=[ValidationIssue(field="container", message="must be a container name")],
        )
    return name


def _pod(request: Request) -> str | None:
    """The ``pod`` query parameter; None when absent.

    Raises:
        errors.Invalid: not a pod name (a DNS-1123 subdomain).
    """
    name = request.query_value("pod")
    if name is not None and not (
        len(name) <= grammar.DNS1123_SUBDOMAIN_MAX and re.fullmatch(grammar.DNS1123_SUBDOMAIN, name)
    ):
        raise errors.Invalid(
            "query parameter pod is invalid",
            errors=[ValidationIssue(field="pod", message="must be a pod name")],
        )
    return name


def newest_pod(pods: list[dict[str, Any]], wanted: str | None) -> str | None:
    """The name of the pod to read: ``wanted`` if it is one of ``pods``, else the newest.

    None when there is none to read (no pods, or ``wanted`` is not among them).
    Pods being deleted come last: their replacement is the one that explains now.
    """
    if wanted is not None:
        names = [fields.text(pod, "metadata", "name") for pod in pods]
        return wanted if wanted in names else None

    def age(pod: dict[str, Any]) -> tuple[bool, str]:
        return (
            fields.get(pod, "metadata", "deletionTimestamp") is None,
            fields.text(pod, "metadata", "creationTimestamp") or "",
        )

    ordered = sorted(pods, key=age, reverse=True)
    # The apiserver names every pod; one without a name would be none to read.
    return fields.text(ordered[0], "metadata", "name") if ordered else None


async def model_logs(context: Context, request: Request, namespace: str, name: str) -> Response:
    """``GET /models/{namespace}/{name}/logs`` (the caller is authorized already).

    Raises (before any byte of the log, so as problems):
        errors.Invalid: a query parameter out of its bounds.
        errors.NotFound: no such model, or ``pod`` is not one of its pods.
        errors.Conflict: the model has no pod (yet), or its container has no log yet.
        errors.Unavailable: ``follow=true`` and ``MAX_STREAMS`` streams are open.
    """
    container = _container(request)
    tail_lines = queries.bounded(request, "tailLines", MAX_TAIL_LINES)
    since_seconds = queries.bounded(request, "sinceSeconds", MAX_SINCE_SECONDS)
    follow = queries.flag(request, "follow")
    previous = queries.flag(request, "previous")
    wanted = _pod(request)
    await context.kube.get(namespace, name)  # 404 for a model that does not exist
    pods = await context.kube.model_pods(namespace, name, limit=_POD_SAMPLE)
    pod = newest_pod(pods, wanted)
    if pod is None and wanted is not None:
        raise errors.NotFound(f"pod {wanted[:100]} is not a pod of model {namespace}/{name}")
    if pod is None:
        raise errors.Conflict(
            f"model {namespace}/{name} has no pod yet: KServe has not created one, "
            "or the model is stopped; see its events"
        )
    slot = watch_streams.take_slot(context.streams, "logs") if follow else None
    opening = asyncio.ensure_future(
        context.kube.pod_log(
            namespace,
            pod,
            container=container,
            tail_lines=tail_lines,
            since_seconds=since_seconds,
            follow=follow,
            previous=previous,
            limit_bytes=None if follow else MAX_LOG_BYTES,
            seconds=context.settings.stream_max_seconds if follow else 0.0,
        )
    )
    # A failure nobody awaits any more (the caller left first) is not reported as lost.
    opening.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        if follow:
            # The kubelet sends a followed log's headers with its first byte, so a
            # container that has written nothing would hold the answer until the
            # apiserver call timed out (a 503 that says nothing true): after a short
            # wait the answer starts, and the log follows when it comes.
            await asyncio.wait({opening}, timeout=FOLLOW_START_SECONDS)
        chunks = await opening if opening.done() or not follow else _when_open(opening)
    except errors.BadRequest as e:
        if slot is not None:
            slot.aclose_now()
        # The kubelet's "container ... is waiting to start": not the caller's fault.
        raise errors.Conflict(f"pod {pod} has no log to show yet: {e.detail}") from e
    except BaseException:
        opening.cancel()
        if slot is not None:
            slot.aclose_now()
        raise
    body = _until(chunks, context.settings.stream_max_seconds) if follow else chunks
    headers = {
        "X-Pod": pod,
        "X-Container": container,
        **({"Cache-Control": "no-cache"} if follow else {}),
    }
    return Response(
        status=200,
        body=slot.holding(body) if slot is not None else body,
        content_type=LOG_CONTENT_TYPE,
        headers=headers,
    )


async def _when_open(
    opening: asyncio.Future[AsyncGenerator[bytes, None]],
) -> AsyncGenerator[bytes, None]:
    """The chunks of a followed log whose answer had not started; nothing if it fails.

    The answer's status is sent already, so a failure can only end the body.
    """
    chunks: AsyncGenerator[bytes, None] | None = None
    try:
        try:
            chunks = await opening
        except errors.ApiError as e:
            log.warning("a followed log could not be opened: %s", e.detail)
            return
        async for chunk in chunks:
            yield chunk
    finally:
        opening.cancel()
        if chunks is not None:
            await chunks.aclose()


async def _until(
    chunks: AsyncGenerator[bytes, None], seconds: float
) -> AsyncGenerator[bytes, None]:
    """``chunks`` for at most ``seconds``: a followed log ends like a watch stream.

    Each wait for the next chunk is bounded by what is left (a deadline kept
    here, not a timeout around the yields, which would cancel the sender).
    """
    deadline = time.monotonic() + seconds
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(anext(chunks, None), remaining)
            except TimeoutError:
                return
            if chunk is None:
                return
            yield chunk
    finally:
        await chunks.aclose()


# -- events ----------------------------------------------------------------------------


def concerns(regarding: Mapping[str, Any], model: str) -> bool:
    """Whether an Event's ``regarding`` object is the model or what KServe made for it.

    The InferenceService itself; the Deployment ``<model>-predictor``; its
    ReplicaSets ``<model>-predictor-<hash>``; their Pods ``<rs>-<suffix>`` —
    names matched exactly by shape, so model ``a`` does not claim the objects of
    a model named ``a-predictor-b``.
    """
    kind, name = regarding.get("kind"), str(regarding.get("name") or "")
    deployment = predictor_deployment_name(model)
    if kind == "InferenceService":
        return name == model
    if kind == "Deployment":
        return name == deployment
    prefix = re.escape(deployment)
    if kind == "ReplicaSet":
        return re.fullmatch(rf"{prefix}-[a-z0-9]{{1,10}}", name) is not None
    if kind == POD.kind:
        return re.fullmatch(rf"{prefix}-[a-z0-9]{{1,10}}-[a-z0-9]{{5}}", name) is not None
    return False


def read_event(event: Mapping[str, Any]) -> ModelEvent:
    """The answer's view of an ``events.k8s.io/v1`` Event (old core fields understood)."""
    regarding = fields.mapping(event, "regarding")
    series = fields.mapping(event, "series")
    created = fields.get(event, "metadata", "creationTimestamp")
    first = event.get("deprecatedFirstTimestamp") or event.get("eventTime") or created
    last = (
        series.get("lastObservedTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("eventTime")
        or created
    )
    count = series.get("count") or event.get("deprecatedCount")
    reporter = event.get("reportingController") or fields.get(
        event, "deprecatedSource", "component"
    )
    return ModelEvent(
        type=event.get("type"),
        reason=event.get("reason"),
        message=event.get("note"),
        object=f"{regarding.get('kind')}/{regarding.get('name')}",
        count=count if isinstance(count, int) else None,
        firstTime=str(first) if first else None,
        lastTime=str(last) if last else None,
        reporter=reporter or None,
    )


async def model_events(context: Context, request: Request, namespace: str, name: str) -> Response:
    """``GET /models/{namespace}/{name}/events`` (the caller is authorized already).

    Raises:
        errors.Invalid: ``limit`` out of its bounds.
        errors.NotFound: no such model.
    """
    limit = queries.bounded(request, "limit", MAX_EVENTS) or DEFAULT_EVENTS
    await context.kube.get(namespace, name)  # 404 for a model that does not exist
    found: list[ModelEvent] = []
    scanned = 0
    async for page in context.kube.event_pages(namespace, page_size=500):
        found.extend(
            read_event(event)
            for event in page.items
            if concerns(fields.mapping(event, "regarding"), name)
        )
        scanned += len(page.items)
        if scanned >= MAX_EVENTS_SCANNED:
            break
    # RFC 3339 strings of one format sort by time; events without a time go last.
    found.sort(key=lambda event: event.last_time or "", reverse=True)
    shown = found[:limit]
    return json_response(200, ModelEvents(events=shown, count=len(shown)))


# -- the routes --------------------------------------------------------------------------


async def get_logs(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}/logs``: the caller needs the model and ``pods/log``."""
    namespace, name = queries.path_model(params)
    caller = request.caller
    await context.auth.authorize_for(caller, permissions.LOGS, namespace)
    return await model_logs(context, request, namespace, name)


async def get_events(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}/events``: the caller needs the model and ``events``."""
    namespace, name = queries.path_model(params)
    await context.auth.authorize_for(request.caller, permissions.EVENTS, namespace)
    return await model_events(context, request, namespace, name)
