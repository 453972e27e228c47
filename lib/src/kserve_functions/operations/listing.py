"""``GET /models`` and ``GET /models/{namespace}/{name}``: one namespace, several, or all;
paged, streamed or watched (DESIGN §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from kserve_functions.auth import permissions
from kserve_functions.context import Context
from kserve_functions.core import continuation, errors
from kserve_functions.core.models import (
    ModelList,
    ModelManifest,
    ModelSummary,
)
from kserve_functions.http import queries
from kserve_functions.http.asgi import Request, Response, dump, json_response
from kserve_functions.kube import Caller, Page
from kserve_functions.objects import status
from kserve_functions.operations import summaries, watch_streams

log = logging.getLogger("kserve_functions")


async def list_models(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models``: the models of one namespace, or of all (``namespace=*``).

    With ``limit``, one page and its ``continue`` token (the apiserver's
    pagination, passed through). Without, every model, streamed as the apiserver
    sends it (``Kube.all_models``), so memory stays flat however many there are.
    """
    caller = request.caller
    namespace = queries.list_namespace(request)
    selector = queries.label_selector(request)
    token = queries.continue_token(request)
    limit = queries.bounded(request, "limit", queries.MAX_LIST_LIMIT)
    if queries.flag(request, "watch"):
        return await _watch_models(context, request, caller, namespace, selector)
    if namespace is not None:
        await context.auth.authorize_for(caller, permissions.LIST, namespace)
    else:
        visible = await context.auth.listable_namespaces(caller)
        if visible is not None:
            return await _list_some_namespaces(context, visible, selector, limit, token)
    if limit is not None:
        page = await context.kube.list_page(
            namespace, label_selector=selector, limit=limit, continue_token=token
        )
        summaries = [_summary(context, item) for item in page.items]
        return json_response(
            200,
            ModelList(
                models=summaries, count=len(summaries), continue_token=page.continue_token or None
            ),
        )
    listed = context.kube.all_models(
        namespace,
        label_selector=selector,
        page_size=context.settings.list_page_size,
        continue_token=token,
    )
    # Fetch the first page before answering, so its errors still get a proper status.
    first = await anext(listed)
    return Response(status=200, body=_stream_pages(context, first, listed))


async def _watch_models(
    context: Context,
    request: Request,
    caller: Caller | None,
    namespace: str | None,
    selector: str | None,
) -> Response:
    """``GET /models?watch=true``: a stream of the models' changes (``streams``).

    One apiserver watch per stream, so ``namespace=*`` needs ``list`` and
    ``watch`` everywhere (no allowlist): a caller allowed some namespaces only
    watches each of them.

    Raises:
        errors.Invalid: ``limit`` or ``continue`` given (a stream has no pages).
        errors.Forbidden: the caller may not list and watch there.
    """
    for name in ("limit", "continue"):
        if request.query_value(name) is not None:
            raise queries.invalid_query(
                name, "does not apply to watch=true (a stream has no pages)"
            )
    if namespace is None and context.settings.allowed_namespaces is not None:
        raise errors.Forbidden(
            "watch=true over every namespace is refused under ALLOWED_NAMESPACES; "
            "watch one namespace at a time"
        )
    await context.auth.authorize_for(caller, permissions.WATCH_LIST, namespace or "")
    return await watch_streams.models_stream(context, request, namespace, selector)


def _summary(context: Context, isvc: Mapping[str, Any]) -> ModelSummary:
    return status.summary_of(isvc, urls=context.settings.model_urls)


async def _list_some_namespaces(
    context: Context,
    namespaces: Sequence[str],
    selector: str | None,
    limit: int | None,
    continue_token: str | None,
) -> Response:
    """``namespace=*`` for a caller who may list only ``namespaces``: their models, in order.

    The continue token names the namespace to go on in and the apiserver's
    token within it (``continuation.encode_continue``).
    """
    start, inner = 0, None
    if continue_token:
        position = continuation.decode_continue(continue_token)
        if position is None or position[0] not in namespaces:
            raise queries.invalid_query("continue", "is not a continue token of this list")
        start, inner = namespaces.index(position[0]), position[1] or None
    if limit is None:
        pages = _pages(context, namespaces[start:], selector, inner)
        first = await anext(pages, None)
        return Response(status=200, body=_stream_pages(context, first, pages))
    items: list[dict[str, Any]] = []
    next_token = ""
    for index in range(start, len(namespaces)):
        if len(items) >= limit:
            next_token = continuation.encode_continue(namespaces[index], "")
            break
        page = await context.kube.list_page(
            namespaces[index],
            label_selector=selector,
            limit=limit - len(items),
            continue_token=inner,
        )
        inner = None
        items.extend(page.items)
        if page.continue_token:
            next_token = continuation.encode_continue(namespaces[index], page.continue_token)
            break
    summaries = [_summary(context, item) for item in items]
    return json_response(
        200, ModelList(models=summaries, count=len(summaries), continue_token=next_token or None)
    )


async def _pages(
    context: Context, namespaces: Sequence[str], selector: str | None, token: str | None
) -> AsyncIterator[Page[dict[str, Any]]]:
    """Every page of models of ``namespaces``, one apiserver page at a time.

    ``token`` continues the first namespace's list; the others start at their beginning.
    """
    for namespace in namespaces:
        async for page in context.kube.all_models(
            namespace,
            label_selector=selector,
            page_size=context.settings.list_page_size,
            continue_token=token,
        ):
            yield page
        token = None


async def _stream_pages(
    context: Context,
    first: Page[dict[str, Any]] | None,
    pages: AsyncIterator[Page[dict[str, Any]]],
) -> AsyncIterator[bytes]:
    """``{"models": [...], "count": N}`` from ``first`` and the ``pages`` after it.

    A page failing mid-stream ends the body unterminated: the status line is
    gone, and invalid JSON is better than a silently short list.

    One chunk per page: each chunk is a send through the server (a write, an
    await), which per model would cost more than reading the model. The next
    page is asked for before this one is read, so the apiserver prepares it
    meanwhile; at most two pages are held.
    """
    yield b'{"models":['
    count = 0
    page = first
    following: asyncio.Future[Page[dict[str, Any]] | None] | None = None
    try:
        while page is not None:
            following = asyncio.ensure_future(anext(pages, None))
            chunk = b",".join(dump(_summary(context, item)) for item in page.items)
            if chunk:
                yield (b"," if count else b"") + chunk
                count += len(page.items)
            try:
                page = await following
            except errors.ApiError as e:
                log.warning("model list aborted after %d models: %s", count, e.detail)
                return
    finally:
        # The reader went away (or a summary failed) while the next page was asked for.
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError, errors.ApiError):
                await following
        # A streamed list holds its apiserver connection until closed.
        close = getattr(pages, "aclose", None)
        if close is not None:
            await close()
    yield b'],"count":' + json.dumps(count).encode() + b"}"


async def get_model(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}``: the model's detail; 404 when absent.

    ``watch=true``: a stream of the model's changes instead (``streams``); the
    caller needs ``watch`` besides ``get``.
    """
    namespace, name = queries.path_model(params)
    watching = queries.flag(request, "watch")
    needs = permissions.WATCH if watching else permissions.READ
    await context.auth.authorize_for(request.caller, needs, namespace)
    if watching:
        return await watch_streams.model_stream(context, request, namespace, name)
    isvc = await context.kube.get(namespace, name)
    return json_response(200, await summaries.read_detail(context, isvc))


async def get_manifest(context: Context, request: Request, params: Mapping[str, str]) -> Response:
    """``GET /models/{namespace}/{name}/manifest``: the InferenceService as stored,
    without ``metadata.managedFields`` (the apiserver's bookkeeping); the caller
    needs ``get``, as for the model's detail."""
    namespace, name = queries.path_model(params)
    await context.auth.authorize_for(request.caller, permissions.READ, namespace)
    isvc = await context.kube.get(namespace, name)
    metadata = isvc.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return json_response(200, ModelManifest(manifest=isvc))
