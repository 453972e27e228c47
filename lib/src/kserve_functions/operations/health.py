"""``GET /health``: the function can reach the apiserver and holds every right its work needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kserve_functions.context import Context
from kserve_functions.core import errors
from kserve_functions.core.models import (
    HealthResponse,
)
from kserve_functions.core.resources import Right
from kserve_functions.http.asgi import Request, Response, json_response


def health_check(required: Sequence[Right]) -> Callable[..., Any]:
    """``GET /health`` for a function whose work needs the rights ``required``.

    Checks, each reported as ``ok`` or what failed: the apiserver answers, the
    InferenceService CRD is served, and this function's own identity has every
    right it needs (a SelfSubjectAccessReview each, cluster-wide; ``permissions``
    names the missing ones as RBAC writes them). A function that creates models
    also checks ``kserve_webhooks``: a dry-run create in
    ``HEALTH_PROBE_NAMESPACE`` passes KServe's admission webhooks, without which
    every deploy fails (functions without "create" may not dry-run one). 503 if
    any fails.
    """
    probes_admission = Right("create") in required

    async def health(context: Context, request: Request, params: Mapping[str, str]) -> Response:
        checks: dict[str, str] = {}
        try:
            version = await context.kube.server_version()
        except errors.ApiError as e:
            checks["apiserver"] = e.detail
            return _health_answer(checks)
        checks["apiserver"] = f"ok ({version})"
        try:
            served = await context.kube.crd_served()
            checks["inferenceservice_crd"] = "ok" if served else "not installed or not served"
        except errors.ApiError as e:
            checks["inferenceservice_crd"] = e.detail
        try:
            answers = await asyncio.gather(*(context.kube.can_i(right) for right in required))
            denied = [
                str(right) for right, allowed in zip(required, answers, strict=True) if not allowed
            ]
            checks["permissions"] = "ok" if not denied else f"may not {', '.join(denied)}"
        except errors.ApiError as e:
            checks["permissions"] = e.detail
        if probes_admission:
            try:
                await context.kube.probe_admission(context.settings.health_probe_namespace)
                checks["kserve_webhooks"] = "ok"
            except errors.ApiError as e:
                checks["kserve_webhooks"] = e.detail
        return _health_answer(checks)

    return health


def _health_answer(checks: dict[str, str]) -> Response:
    healthy = all(value.startswith("ok") for value in checks.values())
    answer = HealthResponse(status="healthy" if healthy else "unhealthy", checks=checks)
    return json_response(200 if healthy else 503, answer)
