"""The function object func-python serves: its hooks, routing and error handling.

func-python calls ``new()`` of a function package and serves the returned
object: ``handle(scope, receive, send)`` for every request except its own
``/health/liveness`` and ``/health/readiness``, and plain-``def`` hooks
``start(cfg)``, ``stop()``, ``alive()``, ``ready()``. func-python 0.8.1 turns an
exception escaping ``handle`` into a broken text 500 and swallows one raised in
``start``, so ``handle`` catches everything and answers problem+json itself,
and a failed ``start`` shows up as not ready (with the reason) instead.

Which routes and events a function takes is assembled in
``kserve_functions.functions`` (one module per function), so each function
imports only what its own routes need: this module imports no operation, and no
event parsing (a function that takes events at ``/`` is given an
``EventIntake``, ``intake``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeGuard

from kserve_functions.api import openapi
from kserve_functions.api.routing import Route, Router
from kserve_functions.auth.authorizer import Authorizer
from kserve_functions.cloudevents.sink import EventSink, SinkConfigError
from kserve_functions.config import AuthMode, ConfigError, EventAuth, Settings, log_format
from kserve_functions.context import Context, StreamSlots
from kserve_functions.core import errors
from kserve_functions.http.asgi import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    problem_response,
    read_request,
    send_response,
)
from kserve_functions.kube import Kube, KubeConfigError, check_configuration
from kserve_functions.telemetry import logs, metrics, spans, trace

log = logging.getLogger("kserve_functions")

VERSION = "0.1.0"

# Connections to the apiserver beyond one per watch stream: for the calls that
# answer requests (and the waits of wait=true) while every stream is open.
CALL_CONNECTIONS = 100

# OpenTelemetry's http.request.method: the known methods, any other as _OTHER
# (a label must not take whatever a client sends).
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
UNMATCHED = "unmatched"
"""``http_route`` of a request no route took (404, 405) or that failed before routing."""

REQUEST_ID_HEADER = b"x-request-id"
"""``X-Request-Id`` as ASGI names headers (lower case, bytes)."""
MAX_REQUEST_ID = 128

EventIntake = Callable[[Context, Request], Awaitable[Response | None]]
"""The answer to a request at ``/`` that is an event or a webhook; None for plain HTTP."""


class ModelFunction:
    """A function instance serving ``routes`` plus ``/openapi.json``.

    ``intake``, when given, is asked first about every request at ``/`` (events,
    registry webhooks); what it leaves (None) goes to the routes. ``work``: what
    the function does, whose metric series start at zero (``metrics.start_at_zero``;
    all of them unless it says less).
    """

    def __init__(
        self,
        name: str,
        routes: Iterable[Route],
        *,
        intake: EventIntake | None = None,
        sends_events: bool = False,
        work: Iterable[metrics.Work] = tuple(metrics.Work),
    ) -> None:
        self.name = name
        self._intake = intake
        # Sends events of its own to K_SINK (notify): not ready without one.
        self._sends_events = sends_events
        served = list(routes)
        # Built on first use, for the settings (some parameters' bounds are configured).
        describe = openapi.describer(
            tuple(served), title=f"KServe Model Functions: {name}", version=VERSION
        )
        # Open, as /health: the document says what the API takes, nothing about models.
        served.append(Route("GET", "/openapi.json", describe, authenticated=False))
        # Open too, and not routed to the public host (k8s/httproute.yaml): scraped
        # in-cluster; the series carry no model, namespace or user.
        served.append(Route("GET", "/metrics", _metrics, authenticated=False))
        metrics.INFO.labels(name, VERSION).set(1)
        metrics.start_at_zero(work)
        self._router = Router(served)
        self._context: Context | None = None
        self._not_ready = "not started"
        self._closing: asyncio.Task[None] | None = None

    # -- func-python's hooks (called without await) ------------------------

    def start(self, cfg: Mapping[str, str]) -> None:
        """Read the configuration; on failure stay not-ready with the reason."""
        try:
            # First, so that a start failing on another setting logs in this format too.
            logs.configure(log_format(cfg))
            if spans.wanted(cfg):
                # Only then: without an endpoint the OpenTelemetry SDK is never imported.
                spans.configure(self.name, VERSION)
            settings = Settings.from_environment(cfg)
            source = check_configuration(settings.kubeconfig)
        except (ConfigError, KubeConfigError) as e:
            self._not_ready = str(e)
            log.error("%s cannot start: %s", self.name, e)  # noqa: TRY400 - the message is the point
            return
        sink: EventSink | None = None
        if self._sends_events:
            try:
                sink = _event_sink(settings)
            except (ConfigError, SinkConfigError) as e:
                self._not_ready = str(e)
                log.error("%s cannot start: %s", self.name, e)  # noqa: TRY400 - the message is the point
                return
        kube = Kube(
            kubeconfig=settings.kubeconfig,
            timeout_seconds=settings.kube_timeout_seconds,
            # Every watch stream holds a connection; the other calls need room beside them.
            max_connections=settings.max_streams + CALL_CONNECTIONS,
        )
        authorizer = Authorizer(settings, kube, audience=self.name)
        self._context = Context(
            settings=settings,
            kube=kube,
            auth=authorizer,
            streams=StreamSlots(settings.max_streams),
            sink=sink,
            reporter=f"{self.name}@{socket.gethostname()}",
        )
        self._not_ready = ""
        if settings.auth_mode is AuthMode.NONE:
            log.warning(
                "AUTH_MODE=none: callers are NOT authenticated; anyone who reaches %s can "
                "do what its own Kubernetes identity may do. For local development only.",
                self.name,
            )
        elif self._intake is not None and settings.event_auth is EventAuth.TRUST_BROKER:
            log.warning(
                "EVENT_AUTH=trust-broker: %s accepts events without a token; safe only "
                "behind a NetworkPolicy that admits the broker alone.",
                self.name,
            )
        log.info("%s started (Kubernetes API from %s)", self.name, source)

    def stop(self) -> None:
        """Stop serving; the Kubernetes session is closed on the running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: called outside a server
            asyncio.run(self.aclose())
            return
        # func-python calls stop() without await from inside its loop.
        self._closing = loop.create_task(self.aclose())

    async def aclose(self) -> None:
        """Close the Kubernetes client's session and send the spans still batched (when
        exported); the function is not ready afterwards."""
        context, self._context = self._context, None
        self._not_ready = "stopped"
        if context is not None:
            await context.kube.close()
            if context.sink is not None:
                await context.sink.close()
        await spans.flush()

    def alive(self) -> bool:
        """The process can serve; liveness never depends on the cluster."""
        return True

    def ready(self) -> tuple[bool, str]:
        """Ready once ``start`` read a usable configuration."""
        if self._not_ready:
            return False, self._not_ready
        return True, "OK"

    # -- requests -----------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request; never lets an exception escape.

        The request gets an id (its ``X-Request-Id`` when usable, else a new one),
        echoed in the response and in a problem+json body (``requestId``), and a
        span of the trace its ``traceparent`` names (``trace.continued``): both
        are on every log line written while it is handled.
        """
        if scope.get("type") != "http":
            return
        started = time.perf_counter()
        method = str(scope.get("method", "GET")).upper()
        method = method if method in KNOWN_METHODS else "_OTHER"
        active = metrics.active_requests(method)
        active.inc()
        given_id, parent = _tracing_headers(scope)
        request_id = given_id if usable_request_id(given_id) else trace.new_request_id()
        # With spans exported, the request is handled in its server span's context.
        span, context = spans.server(trace.continued(parent), method)
        traced = trace.CURRENT.set(context)
        bound = logs.bind(request_id=request_id)
        handled = _Handled()
        try:
            try:
                response = _naming_request_id(
                    await self._answer(scope, receive, handled), request_id
                )
                try:
                    await send_response(
                        send,
                        response,
                        receive,
                        headers=((REQUEST_ID_HEADER, request_id.encode("latin-1")),),
                    )
                except Exception:
                    log.exception(
                        "sending the answer to %s %r failed", scope.get("method"), scope.get("path")
                    )
            finally:
                active.dec()
            elapsed = time.perf_counter() - started
            metrics.request_duration(handled.route, method, response.status).observe(elapsed)
            spans.end_server(
                span,
                method=method,
                route=None if handled.route == UNMATCHED else handled.route,
                status=response.status,
                request_id=request_id,
            )
            # The access line's arguments are computed only when INFO is written.
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %r %d %.1fms",
                    scope.get("method"),
                    str(scope.get("path", ""))[:200],
                    response.status,
                    elapsed * 1000,
                    # Fields of a JSON line (LOG_FORMAT=json); the text line is the message.
                    extra={
                        "http_route": handled.route,
                        "http_request_method": method,
                        "http_response_status_code": response.status,
                        "duration_ms": round(elapsed * 1000, 3),
                    }
                    if logs.FIELDS_WRITTEN
                    else None,
                )
        finally:
            logs.unbind(bound)
            trace.CURRENT.reset(traced)

    async def _answer(self, scope: Scope, receive: Receive, handled: _Handled) -> Response:
        """The response to the request of ``scope``; ``handled.route`` becomes the
        template of the route that took it (``/`` for an event), for the request's
        metrics. The path's model and the caller's user name become log fields."""
        context = self._context
        if context is None:
            return problem_response(
                errors.Unavailable(f"the function is not configured: {self._not_ready}")
            )
        try:
            request = await read_request(
                scope, receive, max_body_bytes=context.settings.max_body_bytes
            )
            if request.path == "/" and self._intake is not None:
                answered = await self._intake(context, request)
                if answered is not None:
                    handled.route = "/"
                    return answered
            route, params = self._router.resolve(request.method, request.path)
            handled.route = route.path
            if "namespace" in params:
                logs.bind(namespace=params["namespace"], model=params.get("name"))
            if route.authenticated:
                # Once, here, before the handler reads anything of the request: an
                # unknown path or method stays 404/405, a bad token is 401 before
                # any 422 of the handler's parameters.
                request = await context.auth.authenticated(request)
                if request.caller is not None:
                    logs.bind(user=request.caller.user)
            return await route.handler(context, request, params)
        except errors.ApiError as e:
            return problem_response(e)
        except Exception:
            log.exception("unexpected failure on %s %r", scope.get("method"), scope.get("path"))
            return problem_response(errors.Internal("the request failed inside the service"))


@dataclasses.dataclass(slots=True)
class _Handled:
    """What ``_answer`` found out about a request, for its metrics and access line."""

    route: str = UNMATCHED


def _tracing_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's ``X-Request-Id`` and ``traceparent`` headers (None when absent),
    read before the request is (it may fail, and its problem names the request id)."""
    request_id: str | None = None
    parent: str | None = None
    for name, value in scope.get("headers", ()):
        lowered = name.lower()
        if lowered == REQUEST_ID_HEADER:
            request_id = value.decode("latin-1")
        elif lowered == b"traceparent":
            parent = value.decode("latin-1")
    return request_id, parent


def usable_request_id(given: str | None) -> TypeGuard[str]:
    """Whether a caller's request id is taken as it is: 1-``MAX_REQUEST_ID`` visible
    ASCII characters (HTTP's VCHAR), safe to echo in a header and to write in a log."""
    return (
        given is not None
        and 0 < len(given) <= MAX_REQUEST_ID
        and given.isascii()
        and given.isprintable()
        and " " not in given
    )


def _naming_request_id(response: Response, request_id: str) -> Response:
    """``response`` with, as a problem+json body, the member ``requestId``; any
    other response as it is (the id goes in the ``X-Request-Id`` header, added as
    it is sent).

    A copy: a route may answer with a response it keeps (its body is not ours to change).
    """
    body = response.body
    if not (
        response.content_type == errors.PROBLEM_CONTENT_TYPE
        and isinstance(body, bytes)
        and body.startswith(b"{")
        and body.endswith(b"}")
        and len(body) > 2  # noqa: PLR2004 - more than "{}": a member before ours
    ):
        return response
    # The problem's compact JSON (``asgi.dump``), one member longer.
    body = b'%s,"requestId":%s}' % (body[:-1], json.dumps(request_id).encode())
    return dataclasses.replace(response, body=body)


async def _metrics(_context: Context, request: Request, _params: Mapping[str, str]) -> Response:
    """``GET /metrics``: the Prometheus exposition of this process's metrics
    (OpenMetrics when the scraper asks for it, as the client library negotiates)."""
    body, content_type = metrics.exposition(request.header("accept") or "")
    return Response(status=200, body=body, content_type=content_type)


def _event_sink(settings: Settings) -> EventSink:
    """The sink of a function that sends events: ``K_SINK`` (a SinkBinding injects it).

    Raises:
        ConfigError: ``K_SINK`` is not set.
        SinkConfigError: ``K_CA_CERTS`` cannot be used.
    """
    if settings.event_sink is None:
        raise ConfigError(
            "K_SINK is not set: bind the function to its sink (a SinkBinding, "
            "k8s/eventing/sinkbinding.yaml) or set it to the URL events go to"
        )
    return EventSink(
        settings.event_sink,
        timeout_seconds=settings.kube_timeout_seconds,
        ca_certs=settings.event_sink_ca_certs,
        token_file=settings.event_sink_token_file,
    )
