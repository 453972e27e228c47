"""``GET /metrics``: what a known sequence of requests counts, and labels that stay bounded.

A root function of this module's own (func-python in its own process) is
scraped before and after each sequence, so its counts are this test's alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import metrics, workloads
from support.functions import ServedFunction
from support.metrics import delta, scrape

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def root(function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    function = ServedFunction("root", function_env, tmp_path_factory.mktemp("metrics") / "root.log")
    function.wait_ready()
    yield function.url
    function.stop()


def _deploy(url: str, body: dict[str, object], **params: str) -> httpx.Response:
    return httpx.post(f"{url}/deploy", json=body, params=params, timeout=90)


def test_a_known_sequence_is_counted(root: str, namespace: str) -> None:
    before = scrape(root)
    for name in ("a", "b", "c"):
        assert (
            _deploy(root, {"name": name, "namespace": namespace, "image": "r/m:1"}).status_code
            == 201
        )
    assert _deploy(root, {"name": "a", "namespace": namespace, "image": "r/m:2"}).status_code == 200
    dry = _deploy(root, {"name": "d", "namespace": namespace, "image": "r/m:1"}, dryRun="true")
    assert dry.status_code == 201
    waited = _deploy(
        root, {"name": "b", "namespace": namespace, "image": "r/m:3"}, wait="true", timeout="60"
    )
    assert waited.status_code == 200, waited.text
    assert _deploy(root, {"name": "Bad Name", "image": "r/m:1"}).status_code == 422
    assert httpx.get(f"{root}/models/{namespace}/a", timeout=30).status_code == 200
    assert httpx.get(f"{root}/models/{namespace}/nope", timeout=30).status_code == 404
    assert httpx.get(f"{root}/no/such/route", timeout=30).status_code == 404
    gone = httpx.delete(f"{root}/models/{namespace}/c", params={"wait": "true"}, timeout=90)
    assert gone.status_code == 200, gone.text
    after = scrape(root)

    def grew(name: str, **labels: str) -> float:
        return delta(before, after, name, **labels)

    assert grew("kserve_functions_deploys_total", action="created", outcome="ok") == 3
    assert grew("kserve_functions_deploys_total", action="updated", outcome="ok") == 2
    assert grew("kserve_functions_deploys_total", action="dry_run", outcome="ok") == 1
    assert grew("kserve_functions_waits_total", result="ready") == 1
    assert grew("kserve_functions_waits_total", result="gone") == 1
    duration = "http_server_request_duration_seconds_count"
    assert grew(duration, http_route="/deploy", http_request_method="POST") == 7
    assert grew(duration, http_route="/deploy", http_response_status_code="422") == 1
    get = {"http_route": "/models/{namespace}/{name}", "http_request_method": "GET"}
    assert grew(duration, **get, http_response_status_code="200") == 1
    assert grew(duration, **get, http_response_status_code="404") == 1
    assert grew(duration, http_route="unmatched", http_response_status_code="404") == 1
    # Every deploy is one apply (a server-side apply is a patch) of the model.
    applies = grew(
        "kserve_functions_apiserver_requests_total", verb="patch", resource="inferenceservices"
    )
    assert applies >= 5
    assert grew("kserve_functions_apiserver_requests_total", verb="get", code="404") >= 1
    assert (
        grew(
            "kserve_functions_apiserver_request_duration_seconds_count",
            verb="create",
            resource="controllerrevisions",
        )
        == 5
    )  # one revision per change made (the dry run records none)
    assert grew("kserve_functions_records_failed_total") == 0
    # The metrics of the process itself, the client library's defaults.
    assert metrics.value(after, "process_resident_memory_bytes") > 0


def _drive(url: str, namespaces: list[str], tag: str) -> None:
    """The same work in each namespace, under names of its own."""
    for namespace in namespaces:
        for index in range(3):
            name = f"{tag}-{index}"
            assert _deploy(url, {"name": name, "namespace": namespace, "image": "r/m:1"}).is_success
            assert httpx.get(f"{url}/models/{namespace}/{name}", timeout=30).status_code == 200
            assert httpx.get(f"{url}/models/{namespace}/{name}/revisions", timeout=30).is_success
            assert httpx.get(f"{url}/models/{namespace}/{name}x", timeout=30).status_code == 404
        assert httpx.get(f"{url}/models", params={"namespace": namespace}, timeout=30).is_success
        assert httpx.get(f"{url}/models/{namespace}", timeout=30).status_code == 404


def _own_series(url: str) -> set[metrics.Series]:
    """The series of the API's own metrics (the process's change on their own)."""
    return {s for s in scrape(url) if not s[0].startswith(("process_", "python_"))}


def test_no_label_takes_a_models_a_namespaces_or_a_paths_value(
    root: str, make_namespace: Callable[[], str]
) -> None:
    _drive(root, [make_namespace() for _ in range(3)], "first")
    first = {series for series in scrape(root) if not series[0].startswith(("process_", "python_"))}
    _drive(root, [make_namespace() for _ in range(4)], "second")
    second = {
        series for series in scrape(root) if not series[0].startswith(("process_", "python_"))
    }

    assert second == first, f"new series: {sorted(second - first)[:10]}"
    shown = "\n".join(f"{name} {dict(labels)}" for name, labels in first)
    for word in ("first-", "second-", "t-test"):
        assert word not in shown


def test_the_metrics_need_no_token_and_no_kubernetes_right(tmp_path: Path) -> None:
    # A function whose kubeconfig reaches nothing still answers /metrics: it is
    # computed in the process, asking the cluster nothing.
    from support.functions import unreachable_kubeconfig  # noqa: PLC0415

    env = {"KUBECONFIG": str(unreachable_kubeconfig(tmp_path)), "AUTH_MODE": "kubernetes"}
    function = ServedFunction("models", env, tmp_path / "models.log")
    try:
        function.wait_ready()
        answer = httpx.get(f"{function.url}/metrics", timeout=30)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "kserve_functions_info{" in answer.text
        refused = httpx.get(f"{function.url}/models", timeout=30)
        assert refused.status_code == 401
        open_metrics = httpx.get(
            f"{function.url}/metrics",
            headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            timeout=30,
        )
        assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
        assert open_metrics.text.endswith("# EOF\n")
    finally:
        function.stop()


def test_a_crash_loop_is_not_a_failed_record(root: str, namespace: str) -> None:
    before = scrape(root)
    body = {"name": "bad", "namespace": namespace, "image": "r/m:1", **workloads.crash_looping()}
    assert _deploy(root, body).status_code == 201
    after = scrape(root)
    assert delta(before, after, "kserve_functions_records_failed_total") == 0
    assert delta(before, after, "kserve_functions_deploys_total", outcome="ok") == 1
