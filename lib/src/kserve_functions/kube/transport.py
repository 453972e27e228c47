"""The one sender: ``KubeRequest`` values to the apiserver and back, errors mapped.

It sends through the official client's asyncio ``ApiClient``
(``kubernetes.aio``, shipped inside the ``kubernetes`` package since v37):
the same configuration loading, TLS, bearer-token refresh and connection pool
as the generated API classes, without their positional signatures. The client
is created on first use inside the running loop (its aiohttp session must
belong to that loop), from a kubeconfig file when one is named, else the
in-cluster ServiceAccount, else ``~/.kube/config``.

Reads (GET) that the apiserver answers with 429 or a 5xx carrying
``Retry-After`` are retried by the client itself, client-go's way
(``client_go_retries``), at most ``READ_ATTEMPTS`` times in all; writes are
never retried here, because a write's outcome after a lost answer is unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, NoReturn

import aiohttp
import orjson
from kubernetes import client as sync_client
from kubernetes import config as sync_config
from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException
from kubernetes.aio.utils import Backoff
from yarl import URL

from kserve_functions.core import errors
from kserve_functions.kube.answers import DEFAULT_RETRY_AFTER_SECONDS, map_status
from kserve_functions.kube.requests import APPLY_PATCH, KubeRequest, verb_and_resource
from kserve_functions.telemetry import metrics, spans, trace

# The client's own default (100) would let 100 open watch streams take every
# connection of a function instance.
DEFAULT_MAX_CONNECTIONS = 100
READ_ATTEMPTS = 3
"""How often a GET is tried when the apiserver answers "retry after" (client-go: 11)."""
# Retry-After alone sets the pause, as client-go does; no added backoff.
READ_RETRY_BACKOFF = Backoff(steps=READ_ATTEMPTS, duration=0.0, factor=1.0)
_NO_ANSWER = (aiohttp.ClientError, TimeoutError, OSError)
# How much of a watch is read at a time: about a hundred events of a model list.
WATCH_READ_BYTES = 64 * 1024


class KubeConfigError(Exception):
    """The Kubernetes client configuration cannot be loaded."""


class ApiStatusError(Exception):
    """An apiserver answer of 400 or more: kept as the cause of the API error it maps to."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"the apiserver answered {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status and decoded JSON body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch (``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK``) and its object."""

    type: str
    object: dict[str, Any]


def check_configuration(kubeconfig: str | None) -> str:
    """Validate the client configuration without any network call; describe it.

    Runs in ``start`` (synchronously, as func-python calls it) so a broken
    configuration fails readiness at once instead of the first request.

    Raises:
        KubeConfigError: naming the kubeconfig or in-cluster problem.
    """
    # A throw-away configuration object: loading must not touch the client's global default.
    scratch = sync_client.Configuration()
    try:
        if kubeconfig:
            sync_config.load_kube_config(
                config_file=kubeconfig, client_configuration=scratch, persist_config=False
            )
            return f"kubeconfig {kubeconfig}"
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            sync_config.load_incluster_config(client_configuration=scratch)
            return "in-cluster ServiceAccount"
        sync_config.load_kube_config(client_configuration=scratch, persist_config=False)
    except (sync_config.ConfigException, OSError, ValueError) as e:
        where = kubeconfig or "the in-cluster ServiceAccount or ~/.kube/config"
        raise KubeConfigError(f"cannot load Kubernetes configuration from {where}: {e}") from e
    return "kubeconfig ~/.kube/config"


async def load_configuration(kubeconfig: str | None) -> client.Configuration:
    """The asyncio client's configuration (as ``check_configuration`` describes), with retries.

    Raises:
        errors.Unavailable: it cannot be loaded.
    """
    configuration = client.Configuration()
    try:
        if kubeconfig:
            await config.load_kube_config(
                config_file=kubeconfig, client_configuration=configuration, persist_config=False
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            await config.load_kube_config(client_configuration=configuration, persist_config=False)
    except (config.ConfigException, OSError, ValueError) as e:
        raise errors.Unavailable("the function cannot load its Kubernetes configuration") from e
    configuration.client_go_retries = True
    # The client's session trusts the environment (aiohttp's trust_env): it then looks
    # up the proxy variables and ~/.netrc in a worker thread on every request, two
    # thread hops per call for an answer that cannot change while the function runs.
    # The session trusts nothing; the proxy the environment names for the apiserver
    # (with its netrc credentials), unless the kubeconfig names one, is found once here.
    configuration.client_session_kwargs = {"trust_env": False}
    if not configuration.proxy:
        proxy = environment_proxy(configuration.host)
        if proxy is not None:
            configuration.proxy, configuration.proxy_headers = proxy
    # Typed None in the generated Configuration; a Backoff is what it reads.
    configuration.client_go_retry_backoff = READ_RETRY_BACKOFF  # type: ignore[assignment]
    return configuration


def environment_proxy(url: str) -> tuple[str, dict[str, str]] | None:
    """The proxy URL and headers ``HTTPS_PROXY`` and friends name for ``url``, or None.

    What aiohttp's ``trust_env`` would use for it: ``NO_PROXY`` honoured, the
    proxy's credentials from its URL or ``~/.netrc`` sent as ``Proxy-Authorization``.
    """
    try:
        proxy, auth = aiohttp.helpers.get_env_proxy_for_url(URL(url))
    except LookupError:
        return None
    headers = {"Proxy-Authorization": auth.encode()} if auth is not None else {}
    return str(proxy), headers


class ApiServer:
    """Sends ``KubeRequest`` values; answers are dicts, failures the API's errors."""

    def __init__(
        self,
        *,
        kubeconfig: str | None,
        timeout_seconds: float,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._kubeconfig = kubeconfig
        self._timeout = timeout_seconds
        self._max_connections = max_connections
        self._api_client: client.ApiClient | None = None
        self._connecting = asyncio.Lock()

    async def _client(self) -> client.ApiClient:
        if self._api_client is not None:
            return self._api_client
        async with self._connecting:
            if self._api_client is None:
                configuration = await load_configuration(self._kubeconfig)
                # Each watch (a stream, a wait) holds a connection for its whole
                # life; the pool must hold them all and the calls beside them, or
                # the calls queue behind the watches until they time out.
                configuration.connection_pool_maxsize = self._max_connections
                self._api_client = client.ApiClient(configuration)
        return self._api_client

    async def close(self) -> None:
        """Release the HTTP session; the next request reconnects."""
        api_client, self._api_client = self._api_client, None
        if api_client is not None:
            await api_client.close()

    async def send(self, request: KubeRequest) -> Answer:
        """Send ``request``; its answer when the status is below 400.

        Raises:
            errors.ApiError: ``map_status`` of the apiserver's answer (its cause an
                ``ApiStatusError`` holding status and body), or Unavailable when
                the apiserver did not answer.
        """
        response = await self._open(request)
        try:
            raw = await response.read()
        except _NO_ANSWER as e:
            raise _no_answer(e, request) from e
        body = _decode(raw)
        if response.status >= 400:  # noqa: PLR2004 - HTTP client and server errors
            _raise_failure(response.status, body, request, reason=response.reason)
        return Answer(status=response.status, body=body)

    async def watch(self, request: KubeRequest) -> AsyncGenerator[WatchEvent, None]:
        """The events of a watch ``request``, as they arrive, until the server ends it.

        Raises:
            errors.Gone: the resourceVersion watched from is too old (410), as an
                answer or as the watch's ERROR event; watch again from a fresh read.
            errors.ApiError: any other refusal (``map_status``), Unavailable when
                the connection breaks off.
        """
        response = await self._open(request)
        whole = False
        resource = verb_and_resource(request)[1]
        open_watches = metrics.APISERVER_WATCHES.labels(resource)
        streamed = metrics.APISERVER_LIST_BYTES.labels(resource)
        open_watches.inc()
        try:
            if response.status >= 400:  # noqa: PLR2004 - HTTP client and server errors
                body = _decode(await response.read())
                whole = True
                _raise_failure(response.status, body, request, reason=response.reason)
            # One event per line, split here from what has arrived: aiohttp's readline
            # costs about 2 µs an event, half of what decoding it takes (measured on a
            # streamed list of 10,000). WATCH_READ_BYTES at most at a time: all that
            # is buffered (up to 4 MiB) would be held twice, as read and as lines.
            partial: list[bytes] = []
            async for chunk in response.response.content.iter_chunked(WATCH_READ_BYTES):
                streamed.inc(len(chunk))
                for line in complete_lines(chunk, partial):
                    yield _event(line, request)
            if partial:
                yield _event(b"".join(partial), request)
            whole = True
        except _NO_ANSWER as e:
            raise _no_answer(e, request) from e
        finally:
            open_watches.dec()
            _let_go(response, whole=whole)

    async def open_stream(
        self, request: KubeRequest, *, seconds: float
    ) -> AsyncGenerator[bytes, None]:
        """Send ``request`` and return its body as chunks, as they arrive (a log).

        The status is checked before this returns, so a refusal is an error here,
        not in the middle of the body. The answer is read for at most ``seconds``
        (plus the request timeout) and released when the chunks end or are closed.

        Raises:
            errors.ApiError: ``map_status`` of a refusal, Unavailable without an answer.
        """
        stretched = KubeRequest(
            request.method,
            request.path,
            request.what,
            query=request.query,
            body=request.body,
            content_type=request.content_type,
            watch_seconds=max(request.watch_seconds, int(seconds)),
        )
        response = await self._open(stretched)
        if response.status >= 400:  # noqa: PLR2004 - HTTP client and server errors
            try:
                body = _decode(await response.read())
            finally:
                response.response.release()
            _raise_failure(response.status, body, request, reason=response.reason)
        return self._chunks(response, request)

    async def _chunks(
        self,
        response: Any,  # noqa: ANN401 - the client's untyped RESTResponse
        request: KubeRequest,
    ) -> AsyncGenerator[bytes, None]:
        whole = False
        resource = verb_and_resource(request)[1]
        open_streams = metrics.APISERVER_WATCHES.labels(resource)
        streamed = metrics.APISERVER_LIST_BYTES.labels(resource)
        open_streams.inc()
        try:
            async for chunk in response.response.content.iter_any():
                streamed.inc(len(chunk))
                yield chunk
            whole = True
        except _NO_ANSWER as e:
            raise _no_answer(e, request) from e
        finally:
            open_streams.dec()
            _let_go(response, whole=whole)

    def _time_limit(self, request: KubeRequest) -> float | aiohttp.ClientTimeout:
        """How long ``request`` may take: the call timeout, or for a watch (or a log)
        its seconds on top, with the connection (TCP and TLS) still bounded by the
        call timeout, so an apiserver that accepts but never answers fails a watch
        as fast as a call (a streamed list would otherwise hang for its 300 s)."""
        if not request.watch_seconds:
            return self._timeout
        return aiohttp.ClientTimeout(
            total=self._timeout + request.watch_seconds, connect=self._timeout
        )

    async def _open(self, request: KubeRequest) -> Any:  # noqa: ANN401 - the client's untyped RESTResponse
        api_client = await self._client()
        content_type, payload = request.content_type, request.body
        if content_type == APPLY_PATCH and payload is not None:
            # The client would send json.dumps' ASCII escapes, whose surrogate pairs
            # (any character beyond U+FFFF, an emoji) the apiserver's YAML reader
            # refuses: the body goes as UTF-8 instead. The charset parameter makes
            # the client send these bytes as they are (the apiserver ignores it).
            content_type = f"{APPLY_PATCH}; charset=utf-8"
            payload = yaml_safe_json(payload)
        # Counted once per call, by its answer's code ("error": none), and timed until
        # the answer's headers (a watch's or a log's body is not its latency).
        code = "error"
        started = time.perf_counter()
        verb, resource = verb_and_resource(request)
        header_params = {"Content-Type": content_type, "Accept": "application/json"}
        # The request's trace goes on to the apiserver, as client-go passes it on: with
        # spans exported, the call's own span is the apiserver's parent.
        span = spans.client(verb, resource, request.method)
        parent = trace.current_traceparent() if span is None else trace.traceparent(span.context)
        try:
            method, url, headers, body, _ = await api_client.param_serialize(
                method=request.method,
                resource_path=request.path,
                query_params=list(request.query),
                header_params=header_params,
                body=payload,
                auth_settings=["BearerToken"],
            )
            if parent is not None:
                # Added to the serialized headers (the client's own dict of strings):
                # a plain string needs none of the type checks its sanitizing runs.
                headers["traceparent"] = parent
            response = await api_client.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                _request_timeout=self._time_limit(request),
            )
        except ApiException as e:
            # Only the client's own retries raise: the last "retry after" answer.
            code = str(e.status or "error")
            _raise_failure(int(e.status or 0), _retry_hint(e), request)
        except _NO_ANSWER as e:
            raise _no_answer(e, request) from e
        else:
            code = str(response.status)
            return response
        finally:
            spans.end_client(span, code)
            calls, duration = metrics.apiserver_call(verb, resource, code)
            calls.inc()
            duration.observe(time.perf_counter() - started)


def _let_go(response: Any, *, whole: bool) -> None:  # noqa: ANN401 - the client's RESTResponse
    """Give back a streamed answer's connection: to the pool when its body was read whole,
    else aborted.

    A watch or log left before its end cannot be reused. Closed gracefully, its
    TLS connection would wait for the apiserver's close_notify, a shutdown that
    outlives the session's close (aiohttp no longer tracks it) and, where the
    event loop ends first (a function stopping, a test), leaves the socket to the
    garbage collector. Aborted, the socket is closed on the loop's next turn,
    and the apiserver sees the client gone at once, as it does from client-go.
    """
    raw = response.response
    connection = raw.connection
    if not whole and connection is not None and connection.protocol is not None:
        connection.protocol.abort()
    raw.release()


# What YAML refuses raw or reads as a line break inside a string (C1 controls and
# DEL, NEL, the Unicode line and paragraph separators, the two non-characters, lone
# surrogates), which json.dumps(ensure_ascii=False) leaves raw; JSON's \u escapes
# of them mean the same to YAML. Such characters occur inside strings only.
_NOT_YAML_TEXT = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]")


def yaml_safe_json(value: object) -> bytes:
    """``value`` as UTF-8 JSON that a YAML reader (the apiserver's apply) reads as JSON does."""
    text = json.dumps(value, ensure_ascii=False)
    escaped = _NOT_YAML_TEXT.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return escaped.encode()


def complete_lines(chunk: bytes, partial: list[bytes]) -> list[bytes]:
    """The lines that ``chunk`` completes, without their newlines, in order.

    ``partial`` holds the pieces of a line begun in earlier chunks: it is
    joined to the first line ``chunk`` ends, and left holding what follows the
    last newline of ``chunk`` (empty when ``chunk`` ends with one).
    """
    *lines, tail = chunk.split(b"\n")
    if lines and partial:
        lines[0] = b"".join([*partial, lines[0]])
        partial.clear()
    if tail:
        partial.append(tail)
    return lines


def _event(line: bytes, request: KubeRequest) -> WatchEvent:
    """One line of a watch as its event; an ERROR event raised as its error."""
    event = _decode(line)
    kind, found = str(event.get("type", "")), event.get("object")
    obj = found if isinstance(found, dict) else {}
    if kind == "ERROR":
        _raise_failure(int(obj.get("code") or 500), obj, request)
    return WatchEvent(type=kind, object=obj)


# orjson reads an integer beyond 64 bits as a float, where json keeps it exact, and
# the apiserver writes such integers: a number it keeps as a float64 (one beyond
# int64 given to a field without a schema, such as under status) it writes without
# an exponent below 1e21 (-9223372036854776000). Such an integer has 19 digits or
# more; a body with a run of 19 digits anywhere (in a string too) goes to json.
_ALL_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _decode(raw: bytes) -> dict[str, Any]:
    """A JSON object answer as a dict; {} for anything else."""
    try:
        decoded = loads(raw or b"{}")
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def loads(raw: bytes) -> Any:  # noqa: ANN401 - any JSON value
    """``json.loads(raw)``, the same values for any input, mostly by orjson.

    orjson decodes the apiserver's JSON in about a third of ``json``'s time (a
    streamed list decodes one event per model); ``json`` decodes what orjson
    reads otherwise (long integers, above) or refuses where ``json`` does not
    (NaN, lone surrogate escapes, a byte order mark).

    Raises:
        ValueError: ``raw`` is not JSON.
    """
    if _LONG_NUMBER not in raw.translate(_ALL_DIGITS_AS_ZERO):
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(raw)
    return json.loads(raw)


def _raise_failure(
    status: int, body: dict[str, Any], request: KubeRequest, *, reason: str | None = None
) -> NoReturn:
    """Raise ``map_status`` of an answer, from an ``ApiStatusError`` (for logs, never shown)."""
    if not body.get("message") and reason:
        body = {**body, "message": reason}
    raise map_status(status, body, what=request.what) from ApiStatusError(status, body)


def _no_answer(e: BaseException, request: KubeRequest) -> errors.Unavailable:
    return errors.Unavailable(
        f"the Kubernetes API did not answer ({type(e).__name__}) for {request.what}",
        retry_after_seconds=DEFAULT_RETRY_AFTER_SECONDS,
    )


def _retry_hint(e: ApiException) -> dict[str, Any]:
    """A Status body for an answer whose body the client dropped: its reason and Retry-After."""
    body: dict[str, Any] = {"message": e.reason or ""}
    retry_after = str((e.headers or {}).get("Retry-After", "")).strip()
    if retry_after.isdigit():
        body["details"] = {"retryAfterSeconds": int(retry_after)}
    return body
