"""What a function takes at ``/`` besides its routes: CloudEvents and registry webhooks.

Only the functions that take events (deploy, delete, notify, the root function)
import this module, and with it CloudEvents parsing and the registry payloads;
``app`` only calls the ``EventIntake`` it was given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from kserve_functions.cloudevents import envelope
from kserve_functions.context import Context
from kserve_functions.http.asgi import Request, Response
from kserve_functions.intake import commands


def event_intake(
    name: str, handlers: Mapping[str, commands.EventHandler], *, registry_webhooks: bool = False
) -> Callable[[Context, Request], Awaitable[Response | None]]:
    """The answer of function ``name`` to requests at ``/``: None for plain HTTP.

    ``OPTIONS`` is the webhook handshake; a ``POST`` that is a CloudEvent goes to
    the handler of its type (``commands.handle``; reply events name the source
    ``/kserve-functions/{name}``), and, with ``registry_webhooks``, a Docker
    Distribution envelope to the registry roll-out. Everything else is left to
    the function's routes.
    """
    source = f"/kserve-functions/{name}"
    handled = dict(handlers)

    async def answer(context: Context, request: Request) -> Response | None:
        if request.method == "OPTIONS":
            return abuse_protection_handshake(request)
        if request.method != "POST":
            return None
        if envelope.is_event(request):
            return await commands.handle(context, request, handled, source)
        if registry_webhooks and envelope.is_distribution_envelope(request):
            return await commands.on_distribution_envelope(context, request)
        return None

    return answer


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
