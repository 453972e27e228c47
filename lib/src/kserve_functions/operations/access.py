"""``GET /access``: who the caller is and what RBAC lets them do in a namespace.

For the console, which enables a button only when its route would be allowed:
each action is checked with the very ``permissions`` its route authorizes with,
so a refusal here carries the words of the route's own 403. The reviews are the
authorizer's, cached like the routes' (``AUTH_CACHE_TTL_SECONDS``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from kserve_functions.auth import permissions
from kserve_functions.config import AuthMode
from kserve_functions.context import Context
from kserve_functions.core import errors, grammar
from kserve_functions.core.models import Access, ActionAccess
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, json_response


async def get_access(context: Context, request: Request, _params: Mapping[str, str]) -> Response:
    """``GET /access[?namespace=…]``: the caller, the namespaces they may list and,
    with ``namespace``, each action of ``permissions.BY_ACTION`` there."""
    namespace = _namespace(request)
    caller = request.caller
    actions: dict[str, ActionAccess] = {}
    if namespace is not None:
        names = list(permissions.BY_ACTION)
        answers = await asyncio.gather(
            *(_may(context, request, permissions.BY_ACTION[n], namespace) for n in names)
        )
        actions = dict(zip(names, answers, strict=True))
    return json_response(
        200,
        Access(
            authentication="none" if context.settings.auth_mode is AuthMode.NONE else "kubernetes",
            user=caller.user if caller else None,
            namespaces=await context.auth.listable_namespaces(caller),
            namespace=namespace,
            actions=actions,
        ),
    )


def _namespace(request: Request) -> str | None:
    """The ``namespace`` parameter; None when absent.

    Raises:
        errors.Invalid: not a namespace name (``queries.MODEL_NAMESPACE_SCHEMA``).
    """
    raw = request.query_value("namespace")
    if raw is not None and not grammar.is_dns1123_label(raw):
        raise queries.invalid_query("namespace", "must be a namespace name")
    return raw


async def _may(
    context: Context, request: Request, permission: permissions.Permission, namespace: str
) -> ActionAccess:
    try:
        await context.auth.authorize_for(request.caller, permission, namespace)
    except errors.Forbidden as refused:
        return ActionAccess(allowed=False, reason=refused.detail)
    return ActionAccess(allowed=True)
