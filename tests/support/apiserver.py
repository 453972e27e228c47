"""Send a ``kube.requests.KubeRequest`` value as a given identity, synchronously.

The least-privilege test replays the very request values the functions build
(``kserve_functions.kube.requests``) with each function's ServiceAccount token;
this is the test-side sender. It serializes like the library's sender (the
client's own ``param_serialize``, JSON body, the request's content type) and
never raises on a status, so a test can assert 403s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve_functions.kube import KubeRequest
from kubernetes import client


@dataclass(frozen=True)
class Answer:
    """The apiserver's answer: status, and the decoded JSON body (the last event of a watch)."""

    status: int
    body: dict[str, Any]


def send(
    api: client.ApiClient, request: KubeRequest, *, headers: Mapping[str, str] | None = None
) -> Answer:
    """Send ``request`` as ``api``'s identity (plus extra ``headers``); the answer as is."""
    serialized = api.param_serialize(
        method=request.method,
        resource_path=request.path,
        query_params=list(request.query),
        header_params={
            "Content-Type": request.content_type,
            "Accept": "application/json",
            **(headers or {}),
        },
        body=request.body,
        auth_settings=["BearerToken"],
    )
    method, url, sent_headers, payload, _ = serialized
    # The REST response's methods are unannotated: handle it as what it is, untyped.
    response: Any = api.call_api(
        method,
        url,
        header_params=sent_headers,
        body=payload,
        _request_timeout=10 + request.watch_seconds,
    )
    response.read()
    raw = (response.data or b"").decode().strip()
    if request.is_watch:
        # A stream of one JSON event per line: the last one says how it ended.
        raw = raw.splitlines()[-1] if raw else ""
    decoded = json.loads(raw or "{}")
    assert isinstance(decoded, dict), f"{request.method} {request.path}: not a JSON object"
    return Answer(status=int(response.status), body=decoded)
