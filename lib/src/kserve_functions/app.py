"""The function object func-python serves, and the route sets of the six functions.

func-python calls ``new()`` of a function package and serves the returned
object: ``handle(scope, receive, send)`` for every request except its own
``/health/liveness`` and ``/health/readiness``, and plain-``def`` hooks
``start(cfg)``, ``stop()``, ``alive()``, ``ready()``. func-python 0.8.1 turns an
exception escaping ``handle`` into a broken text 500 and swallows one raised in
``start``, so ``handle`` catches everything and answers problem+json itself,
and a failed ``start`` shows up as not ready (with the reason) instead.

Each split function answers its canonical routes (the seed's paths, for the
Gateway API route in front of them); deploy, list and health also answer at
``/``, the URL Knative gives the function. The root function answers every
canonical route. The notify function takes only the ApiServerSource's events
(at ``/``) and sends status-change events of its own to ``K_SINK``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kserve_functions import (
    canary,
    diagnostics,
    errors,
    eventing,
    events,
    notify,
    openapi,
    operations,
    revisions,
)
from kserve_functions.asgi import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    problem_response,
    raw_json_response,
    read_request,
    send_response,
)
from kserve_functions.auth import Authorizer
from kserve_functions.config import AuthMode, ConfigError, EventAuth, Settings
from kserve_functions.context import Context, StreamSlots
from kserve_functions.contract import (
    ABORT,
    DELETE,
    DEPLOY,
    EVENTS,
    GET,
    HEALTH,
    LIST,
    LOGS,
    PROMOTE,
    RESUME,
    REVISIONS,
    ROLLBACK,
    STOP,
)
from kserve_functions.kube import Kube, KubeConfigError, check_configuration
from kserve_functions.routing import Route, Router
from kserve_functions.sink import EventSink, SinkConfigError

log = logging.getLogger("kserve_functions")

VERSION = "0.1.0"

# Connections to the apiserver beyond one per watch stream: for the calls that
# answer requests (and the waits of wait=true) while every stream is open.
CALL_CONNECTIONS = 100

# What each function's own identity must be allowed to do (checked by /health);
# "watch" is what wait=true follows a model with.
DEPLOY_VERBS = ("create", "patch", "get", "watch")
MODELS_VERBS = ("list", "get", "watch")
DELETE_VERBS = ("delete", "get", "watch")
# notify reads a model and records the status event it sent on it (a JSON patch).
NOTIFY_VERBS = ("get", "patch")


def deploy_routes() -> list[Route]:
    """``POST /deploy`` (and ``POST /``)."""
    return [
        Route("POST", "/deploy", operations.deploy, DEPLOY),
        Route("POST", "/", operations.deploy),
        Route("POST", "/models/{namespace}/{name}/promote", canary.promote, PROMOTE),
        Route("POST", "/models/{namespace}/{name}/abort", canary.abort, ABORT),
        Route("POST", "/models/{namespace}/{name}/rollback", revisions.rollback, ROLLBACK),
        Route("POST", "/models/{namespace}/{name}/stop", revisions.lifecycle(stop=True), STOP),
        Route("POST", "/models/{namespace}/{name}/resume", revisions.lifecycle(stop=False), RESUME),
    ]


def models_routes() -> list[Route]:
    """``GET /models``, ``GET /models/{namespace}/{name}`` and its ``/logs`` and
    ``/events`` (and the list at ``/``)."""
    return [
        Route("GET", "/models", operations.list_models, LIST),
        Route("GET", "/models/{namespace}/{name}", operations.get_model, GET),
        Route("GET", "/models/{namespace}/{name}/logs", diagnostics.get_logs, LOGS),
        Route("GET", "/models/{namespace}/{name}/events", diagnostics.get_events, EVENTS),
        Route("GET", "/models/{namespace}/{name}/revisions", revisions.list_revisions, REVISIONS),
        Route("GET", "/", operations.list_models),
    ]


def delete_routes() -> list[Route]:
    """``DELETE /models/{namespace}/{name}``.

    No shorter alias such as ``/{namespace}/{name}``: ``DELETE /models/x`` (a
    mistyped path) would then delete model ``x`` of a namespace named "models".
    """
    return [Route("DELETE", "/models/{namespace}/{name}", operations.delete_model, DELETE)]


def health_routes(verbs: Sequence[str], *, at_root: bool) -> list[Route]:
    """``GET /health`` checking ``verbs`` (and ``GET /`` when ``at_root``)."""
    check = operations.health_check(verbs)
    routes = [Route("GET", "/health", check, HEALTH)]
    if at_root:
        routes.append(Route("GET", "/", check))
    return routes


class ModelFunction:
    """A function instance serving ``routes`` plus ``/openapi.json``."""

    def __init__(
        self,
        name: str,
        routes: Iterable[Route],
        *,
        event_handlers: Mapping[str, eventing.EventHandler] | None = None,
        takes_registry_webhooks: bool = False,
        sends_events: bool = False,
    ) -> None:
        self.name = name
        self._event_handlers = dict(event_handlers or {})
        self._takes_registry_webhooks = takes_registry_webhooks
        # Sends events of its own to K_SINK (notify): not ready without one.
        self._sends_events = sends_events
        self._event_source = f"/kserve-functions/{name}"
        served = list(routes)
        document = openapi.build_document(
            served, title=f"KServe Model Functions: {name}", version=VERSION
        )

        async def describe(
            context: Context, request: Request, params: Mapping[str, str]
        ) -> Response:
            return raw_json_response(200, document)

        served.append(Route("GET", "/openapi.json", describe))
        self._router = Router(served)
        self._context: Context | None = None
        self._not_ready = "not started"
        self._closing: asyncio.Task[None] | None = None

    # -- func-python's hooks (called without await) ------------------------

    def start(self, cfg: Mapping[str, str]) -> None:
        """Read the configuration; on failure stay not-ready with the reason."""
        try:
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
        elif self._event_handlers and settings.event_auth is EventAuth.TRUST_BROKER:
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
        """Close the Kubernetes client's session; the function is not ready afterwards."""
        context, self._context = self._context, None
        self._not_ready = "stopped"
        if context is not None:
            await context.kube.close()
            if context.sink is not None:
                await context.sink.close()

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
        """Answer one request; never lets an exception escape."""
        if scope.get("type") != "http":
            return
        started = time.perf_counter()
        response = await self._answer(scope, receive)
        try:
            await send_response(send, response, receive)
        except Exception:
            log.exception(
                "sending the answer to %s %r failed", scope.get("method"), scope.get("path")
            )
        log.info(
            "%s %r %d %.1fms",
            scope.get("method"),
            str(scope.get("path", ""))[:200],
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        context = self._context
        if context is None:
            return problem_response(
                errors.Unavailable(f"the function is not configured: {self._not_ready}")
            )
        try:
            request = await read_request(
                scope, receive, max_body_bytes=context.settings.max_body_bytes
            )
            if request.path == "/" and self._event_handlers:
                answered = await self._answer_event(context, request)
                if answered is not None:
                    return answered
            route, params = self._router.resolve(request.method, request.path)
            return await route.handler(context, request, params)
        except errors.ApiError as e:
            return problem_response(e)
        except Exception:
            log.exception("unexpected failure on %s %r", scope.get("method"), scope.get("path"))
            return problem_response(errors.Internal("the request failed inside the service"))

    async def _answer_event(self, context: Context, request: Request) -> Response | None:
        """The answer to an event or registry webhook at ``/``; None for plain HTTP."""
        if request.method == "OPTIONS":
            return abuse_protection_handshake(request)
        if request.method != "POST":
            return None
        if events.is_event(request):
            return await eventing.handle(context, request, self._event_handlers, self._event_source)
        if self._takes_registry_webhooks and events.is_distribution_envelope(request):
            return await eventing.on_distribution_envelope(context, request)
        return None


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


def abuse_protection_handshake(request: Request) -> Response:
    """Answer the webhook validation of CloudEvents' HTTP binding (Azure Event Grid uses it).

    The sender asks with ``OPTIONS`` and ``WebHook-Request-Origin``; echoing the
    origin in ``WebHook-Allowed-Origin`` allows it to deliver.
    """
    origin = request.header("webhook-request-origin")
    if not origin:
        return Response(status=200, body=b"", headers={"Allow": "POST, OPTIONS"})
    return Response(
        status=200,
        body=b"",
        headers={
            "WebHook-Allowed-Origin": origin[:253],
            "WebHook-Allowed-Rate": "*",
            "Allow": "POST, OPTIONS",
        },
    )


def deploy_function() -> ModelFunction:
    """The deploy function: ``POST /deploy``."""
    return ModelFunction(
        "deploy",
        [*deploy_routes(), *health_routes(DEPLOY_VERBS, at_root=False)],
        event_handlers=eventing.DEPLOY_HANDLERS,
        takes_registry_webhooks=True,
    )


def models_function() -> ModelFunction:
    """The models function: ``GET /models``, ``GET /models/{namespace}/{name}``."""
    return ModelFunction("models", [*models_routes(), *health_routes(MODELS_VERBS, at_root=False)])


def delete_function() -> ModelFunction:
    """The delete function: ``DELETE /models/{namespace}/{name}``."""
    return ModelFunction(
        "delete",
        [*delete_routes(), *health_routes(DELETE_VERBS, at_root=False)],
        event_handlers=eventing.DELETE_HANDLERS,
    )


def health_function() -> ModelFunction:
    """The health function: ``GET /health`` (and ``/``): the cluster and the CRD.

    It does nothing with models itself, so its least-privilege identity has no
    rights on them and it checks none; each split function's own ``/health``
    checks the rights that function needs.
    """
    return ModelFunction("health", health_routes((), at_root=True))


def notify_function() -> ModelFunction:
    """The notify function: status-change events from the ApiServerSource's events (``notify``).

    Only events at ``/`` (and ``GET /health``): it has no route of the seed's
    API, and the all-in-one function does not include it (it needs an
    ApiServerSource and a sink, which only a Knative Eventing install provides).
    """
    return ModelFunction(
        "notify",
        health_routes(NOTIFY_VERBS, at_root=False),
        event_handlers=notify.HANDLERS,
        sends_events=True,
    )


def root_function() -> ModelFunction:
    """The all-in-one function "kserve-api": every route in one process."""
    verbs = tuple(dict.fromkeys((*DEPLOY_VERBS, *MODELS_VERBS, *DELETE_VERBS)))
    routes: list[Any] = [
        route
        for route in (*deploy_routes(), *models_routes(), *delete_routes())
        if route.operation is not None
    ]
    return ModelFunction(
        "kserve-api",
        [*routes, *health_routes(verbs, at_root=False)],
        event_handlers={**eventing.DEPLOY_HANDLERS, **eventing.DELETE_HANDLERS},
        takes_registry_webhooks=True,
    )
