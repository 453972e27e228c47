"""``GET /health`` checks KServe's admission webhooks with a server-side dry run.

A deploy's create passes KServe's defaulting and validating webhooks (failure
policy Fail): when they do not answer, every deploy fails. The deploy and root
functions' ``/health`` dry-run a create of a minimal model in
``HEALTH_PROBE_NAMESPACE`` to notice; the functions that create nothing skip it.
Webhooks that do not answer are the ``kserve_webhook_down`` fixture's copy of
KServe's validator, scoped to one test namespace, so KServe itself keeps serving
the session's other tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.kube import ADMISSION_PROBE_NAME
from kubernetes import client
from support.functions import FunctionLauncher
from support.objects import inference_service, inference_service_names

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CREATORS = ["deploy", "root"]
NON_CREATORS = ["models", "delete", "health"]
DOWN = "KServe's admission webhooks do not answer: "

Launch = Callable[[str, str], httpx.AsyncClient]


@pytest.fixture
def launch(function_launcher: FunctionLauncher, function_env: dict[str, str]) -> Launch:
    """Start a function whose health probe dry-runs in a given namespace; a client for it."""

    def start(name: str, probe_namespace: str) -> httpx.AsyncClient:
        env = {**function_env, "HEALTH_PROBE_NAMESPACE": probe_namespace}
        return function_launcher.start(name, env)[0]

    return start


def _checks(answer: httpx.Response, status: int) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == ("healthy" if status == 200 else "unhealthy")
    checks: dict[str, str] = body["checks"]
    return checks


@pytest.mark.parametrize("function", CREATORS)
async def test_functions_that_create_report_kserves_webhooks_answering(
    api: Any, admin_api: client.ApiClient, function: str
) -> None:
    checks = _checks(await api(function).get("/health"), 200)

    assert checks["kserve_webhooks"] == "ok"
    # The default probe namespace; the dry run stored nothing there.
    assert ADMISSION_PROBE_NAME not in inference_service_names(admin_api, "default")


@pytest.mark.parametrize("function", NON_CREATORS)
async def test_functions_that_create_nothing_skip_the_check(api: Any, function: str) -> None:
    checks = _checks(await api(function).get("/health"), 200)

    assert set(checks) == {"apiserver", "inferenceservice_crd", "permissions"}


@pytest.mark.parametrize("function", CREATORS)
async def test_the_probe_runs_in_the_configured_namespace_and_stores_nothing(
    launch: Launch, namespace: str, admin_api: client.ApiClient, function: str
) -> None:
    checks = _checks(await launch(function, namespace).get("/health"), 200)

    assert checks["kserve_webhooks"] == "ok"
    assert inference_service_names(admin_api, namespace) == []


@pytest.mark.parametrize("function", CREATORS)
async def test_webhooks_that_do_not_answer_make_health_503_naming_them(
    launch: Launch, kserve_webhook_down: str, admin_api: client.ApiClient, function: str
) -> None:
    namespace = kserve_webhook_down

    checks = _checks(await launch(function, namespace).get("/health"), 503)

    assert checks["kserve_webhooks"].startswith(DOWN), checks
    # The apiserver's own words follow, naming the webhook it could not call.
    assert "failed calling webhook" in checks["kserve_webhooks"]
    assert "inferenceservice.kserve-webhook-server.validator" in checks["kserve_webhooks"]
    # Only this check failed: the cluster and the rights are fine.
    assert checks["inferenceservice_crd"] == checks["permissions"] == "ok"
    assert inference_service_names(admin_api, namespace) == []


async def test_a_model_named_like_the_probe_still_counts_as_answered(
    launch: Launch, namespace: str, admin_api: client.ApiClient
) -> None:
    # The apiserver finds the name taken (409) only after admission passed.
    client.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        INFERENCE_SERVICE.group,
        INFERENCE_SERVICE.version,
        namespace,
        INFERENCE_SERVICE.plural,
        inference_service(namespace, ADMISSION_PROBE_NAME),
    )

    checks = _checks(await launch("deploy", namespace).get("/health"), 200)

    assert checks["kserve_webhooks"] == "ok"


async def test_a_probe_namespace_that_does_not_exist_is_named(launch: Launch) -> None:
    checks = _checks(await launch("deploy", "no-such-namespace").get("/health"), 503)

    assert checks["kserve_webhooks"] == (
        f"cannot create a dry-run InferenceService no-such-namespace/{ADMISSION_PROBE_NAME}: "
        'namespaces "no-such-namespace" not found'
    )
