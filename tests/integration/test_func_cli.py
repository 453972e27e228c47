"""Every function run with the real Knative ``func`` CLI from a clean checkout.

For each function: copy what a checkout holds of it (its folder and ``lib/``,
in the repository's layout), ``func run --builder=host`` the copy (func makes
a virtualenv, pip-installs the function with the shared library and serves it
with func-python), then call it as a developer would, with ``func invoke`` and
with ``curl``, and check the answers against the cluster. The function is
stopped as Ctrl-C stops it, and the stop must leave nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from controlplane import binaries
from controlplane.errors import ControlPlaneError
from kserve_functions.core.models import DeployRequest
from kserve_functions.core.resources import INFERENCE_SERVICE
from kserve_functions.objects.manifests import build_inference_service
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from support import workloads
from support.event_sink import RecordingSink
from support.func_cli import FuncRun, checkout, curl, curl_stream, invoke
from support.objects import as_dict

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# func run pip-installs the function, the shared library and their dependencies
# into a fresh virtualenv before it serves: about a minute with an empty pip cache.
READY_TIMEOUT = 240.0
MODEL = "cli-model"
EVENT_MODEL = "cli-event-model"
IMAGE = "registry.example.com/m:v1"


@pytest.fixture(scope="session")
def func_binary() -> Path:
    """The func CLI the project builds (from its Go module, once; then cached)."""
    try:
        return binaries.ensure(binaries.FUNC)
    except ControlPlaneError as e:
        failure = str(e)
    pytest.fail(f"the func CLI could not be built: {failure}", pytrace=False)


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    """Where the notify function sends its events (its K_SINK)."""
    made = RecordingSink()
    yield made
    made.close()


@pytest.fixture
def start_function(
    func_binary: Path, function_env: dict[str, str], sink: RecordingSink, tmp_path: Path
) -> Iterator[Callable[[str], FuncRun]]:
    """Starts ``func run`` of a fresh copy of a function; stops whatever is left after the test."""
    runs: list[FuncRun] = []

    def start(name: str) -> FuncRun:
        root = checkout(name, tmp_path / "checkout")
        # Only notify reads K_SINK (the others ignore it); it is not ready without one.
        env = {**function_env, "K_SINK": sink.url}
        run = FuncRun(func_binary, root, env, tmp_path / "func-run.log")
        runs.append(run)
        try:
            run.wait_ready(timeout=READY_TIMEOUT)
        except RuntimeError as e:
            failure = str(e)
        else:
            return run
        pytest.fail(failure, pytrace=False)

    yield start
    for run in runs:
        run.stop()


@dataclass(frozen=True)
class Running:
    """One function under ``func run``, and what a scenario needs to call and check it."""

    func: Path
    run: FuncRun
    env: dict[str, str]
    namespace: str
    admin_api: client.ApiClient
    sink: RecordingSink

    def invoke(self, **flags: Any) -> Any:
        """``func invoke`` of this function; its answer, parsed."""
        return invoke(self.func, self.run.root, env=self.env, **flags).json()

    def read_model(self, name: str = MODEL) -> dict[str, Any] | None:
        """The InferenceService ``name`` as stored, or None when there is none."""
        try:
            return as_dict(
                client.CustomObjectsApi(self.admin_api).get_namespaced_custom_object(
                    INFERENCE_SERVICE.group,
                    INFERENCE_SERVICE.version,
                    self.namespace,
                    INFERENCE_SERVICE.plural,
                    name,
                )
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def seed_model(self) -> None:
        """Store ``cli-model`` as ``POST /deploy`` would (the manifest builder of lib)."""
        request = DeployRequest.model_validate(
            {"name": MODEL, "image": IMAGE, "namespace": self.namespace}
        )
        client.CustomObjectsApi(self.admin_api).create_namespaced_custom_object(
            INFERENCE_SERVICE.group,
            INFERENCE_SERVICE.version,
            self.namespace,
            INFERENCE_SERVICE.plural,
            build_inference_service(request, restart_token="seeded-by-test"),
        )

    def deploy_body(self) -> str:
        return json.dumps({"name": MODEL, "image": IMAGE, "namespace": self.namespace})

    def created(self) -> dict[str, Any]:
        return {
            "name": MODEL,
            "namespace": self.namespace,
            "action": "created",
            "status": "success",
            # KServe's Standard-mode URL, the local cluster's default mode.
            "url": f"http://{MODEL}-{self.namespace}.example.com",
            "generation": 1,
            "ready": False,
            # The model's first revision in its history (controllerrevisions).
            "revision": 1,
        }

    def stored_image(self) -> str:
        stored = self.read_model()
        assert stored is not None, f"no InferenceService {self.namespace}/{MODEL}"
        image: str = stored["spec"]["predictor"]["containers"][0]["image"]
        return image


def _assert_healthy(answer: Any, *, writes: bool = False) -> None:
    """Healthy, with every check ``ok``; a function that writes also probes KServe's webhooks."""
    assert answer["status"] == "healthy", answer
    checks = {"apiserver", "inferenceservice_crd", "permissions"}
    assert set(answer["checks"]) == (checks | {"kserve_webhooks"} if writes else checks)
    assert answer["checks"]["apiserver"].startswith("ok")
    others = set(answer["checks"]) - {"apiserver"}
    assert {name: answer["checks"][name] for name in others} == dict.fromkeys(others, "ok")


def _assert_lists_the_model(it: Running, listed: Any) -> None:
    assert listed["count"] == 1, listed
    [model] = listed["models"]
    assert (model["name"], model["namespace"], model["image"]) == (MODEL, it.namespace, IMAGE)


def _deploy(it: Running) -> None:
    url = it.run.url
    # No --target: func finds the instance it runs locally (.func/runs/<port>) and
    # POSTs to its own URL, as Knative would route to the function.
    assert it.invoke(data=it.deploy_body()) == it.created()
    assert it.stored_image() == IMAGE

    body = json.loads(it.deploy_body())
    updated = curl("POST", f"{url}/deploy", json_body=body)
    assert (updated.status, updated.content_type) == (200, "application/json"), updated.body
    assert (updated.json()["action"], updated.json()["generation"]) == ("updated", 2)

    _assert_healthy(it.invoke(target=f"{url}/health", request_type="GET"), writes=True)

    # A deploy event, as a Knative Trigger would deliver it: func invoke sends a
    # binary-mode CloudEvent and prints the reply event.
    event_body = json.dumps({"name": EVENT_MODEL, "image": IMAGE, "namespace": it.namespace})
    sent = invoke(
        it.func,
        it.run.root,
        env=it.env,
        data=event_body,
        event_type="dev.kserve-functions.model.deploy",
    )
    assert sent.returncode == 0, sent.stderr
    assert "type: dev.kserve-functions.model.deployed" in sent.stdout, sent.stdout
    assert f"subject: {it.namespace}/{EVENT_MODEL}" in sent.stdout, sent.stdout
    assert it.read_model(EVENT_MODEL) is not None


def _models(it: Running) -> None:
    url = it.run.url
    it.seed_model()
    # At the function's own URL (GET / lists), as Knative routes to it.
    listed = it.invoke(target=f"{url}/?namespace={it.namespace}", request_type="GET")
    _assert_lists_the_model(it, listed)
    shown = it.invoke(target=f"{url}/models/{it.namespace}/{MODEL}", request_type="GET")
    assert (shown["name"], shown["namespace"], shown["image"]) == (MODEL, it.namespace, IMAGE)

    listed_again = curl("GET", f"{url}/models?namespace={it.namespace}")
    assert (listed_again.status, listed_again.content_type) == (200, "application/json")
    _assert_lists_the_model(it, listed_again.json())
    detail = curl("GET", f"{url}/models/{it.namespace}/{MODEL}")
    assert (detail.status, detail.content_type) == (200, "application/json"), detail.body
    assert (detail.json()["image"], detail.json()["generation"]) == (IMAGE, 1)
    # A watch stream as curl -N reads it: the model, then synced, until curl stops.
    streamed = curl_stream(f"{url}/models?namespace={it.namespace}&watch=true", seconds=3)
    assert "event: model\n" in streamed
    assert f'"name":"{MODEL}"' in streamed
    assert "event: synced\n" in streamed

    # func invoke's default is a POST, which a read-only function refuses; func
    # reports the status and exits non-zero.
    refused = invoke(it.func, it.run.root, env=it.env)
    assert refused.returncode != 0
    assert "(HTTP 405)" in refused.stdout + refused.stderr
    problem = curl("POST", f"{url}/models", json_body={"message": "Hello World"})
    assert (problem.status, problem.content_type) == (405, "application/problem+json")
    assert problem.json()["status"] == 405


def _delete(it: Running) -> None:
    url = it.run.url
    it.seed_model()
    _assert_healthy(it.invoke(target=f"{url}/health", request_type="GET"))

    # wait=true: KServe's finalizer holds a deleted model until it has cleaned up.
    deleted = curl("DELETE", f"{url}/models/{it.namespace}/{MODEL}?wait=true")
    assert (deleted.status, deleted.content_type) == (200, "application/json"), deleted.body
    assert deleted.json() == {"name": MODEL, "namespace": it.namespace, "status": "deleted"}
    assert it.read_model() is None

    again = curl("DELETE", f"{url}/models/{it.namespace}/{MODEL}")
    assert (again.status, again.content_type) == (404, "application/problem+json")
    assert again.json()["detail"] == f"model {it.namespace}/{MODEL} not found"


def _health(it: Running) -> None:
    # No --target: func finds the local instance; GET / is the health check.
    _assert_healthy(it.invoke(request_type="GET"))

    answer = curl("GET", f"{it.run.url}/health")
    assert (answer.status, answer.content_type) == (200, "application/json"), answer.body
    _assert_healthy(answer.json())


def _root(it: Running) -> None:
    url = it.run.url
    assert it.invoke(target=f"{url}/deploy", data=it.deploy_body()) == it.created()
    assert it.stored_image() == IMAGE

    listed = it.invoke(target=f"{url}/models?namespace={it.namespace}", request_type="GET")
    _assert_lists_the_model(it, listed)
    detail = curl("GET", f"{url}/models/{it.namespace}/{MODEL}")
    assert (detail.status, detail.json()["image"]) == (200, IMAGE), detail.body

    deleted = curl("DELETE", f"{url}/models/{it.namespace}/{MODEL}?wait=true")
    assert deleted.status == 200, deleted.body
    assert deleted.json() == {"name": MODEL, "namespace": it.namespace, "status": "deleted"}
    assert it.read_model() is None

    _assert_healthy(it.invoke(target=f"{url}/health", request_type="GET"), writes=True)


def _notify(it: Running) -> None:
    url = it.run.url
    _assert_healthy(it.invoke(target=f"{url}/health", request_type="GET"))
    it.seed_model()

    def ready() -> dict[str, Any] | None:
        stored = it.read_model() or {}
        conditions = stored.get("status", {}).get("conditions", [])
        done = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return stored if done else None

    stored = workloads.wait_for(ready, what="KServe's Ready on the seeded model")
    # What the ApiServerSource sends through the Broker: func invoke sends it as a
    # binary-mode CloudEvent; the answer is empty (the status event goes to K_SINK).
    sent = invoke(
        it.func,
        it.run.root,
        env=it.env,
        data=json.dumps(stored),
        event_type="dev.knative.apiserver.resource.update",
    )
    # func warns that the function is an "http" one (it routes events itself), and
    # prints no reply event: there is none.
    assert sent.returncode == 0, sent.stderr + sent.stdout
    assert "type:" not in sent.stdout, sent.stdout
    [event] = workloads.wait_for(lambda: it.sink.events() or None, what="the ready event")
    assert (event.type, event.source) == (
        "dev.kserve-functions.model.ready",
        "/kserve-functions/notify",
    )
    assert event.subject == f"{it.namespace}/{MODEL}"
    assert (event.data["state"], event.data["image"]) == ("ready", IMAGE)


def _ui(it: Running) -> None:
    url = it.run.url
    shipped = it.run.root.parent.parent / "lib" / "src" / "kserve_functions" / "console"
    # Its /health asks the cluster nothing: the files it loaded are its health.
    health = it.invoke(target=f"{url}/health", request_type="GET")
    files = len(list((shipped / "static").iterdir()))
    assert health == {"status": "healthy", "checks": {"console": f"ok ({files} files)"}}

    # The console's page as the installed library ships it (no build step, nothing
    # fetched at run time): the checkout's file, byte for byte.
    page = curl("GET", f"{url}/ui/")
    assert (page.status, page.content_type) == (200, "text/html; charset=utf-8"), page.body
    assert page.body == (shipped / "static" / "index.html").read_text()
    moved = curl("GET", f"{url}/ui")
    assert moved.status == 308, moved.body


def _mcp(it: Running) -> None:
    url = it.run.url
    # Its tools are deploy's, models' and delete's routes: it checks their rights.
    _assert_healthy(it.invoke(target=f"{url}/health", request_type="GET"), writes=True)

    # A stateless tools/list as an MCP client sends it (the SDK is loaded on it).
    listing = curl(
        "POST",
        f"{url}/mcp",
        json_body={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert (listing.status, listing.content_type) == (200, "text/event-stream"), listing.body
    [data] = [line[6:] for line in listing.body.splitlines() if line.startswith("data: ")]
    tools = [tool["name"] for tool in json.loads(data)["result"]["tools"]]
    assert {"list_models", "deploy_model", "delete_model"} <= set(tools), tools


SCENARIOS: dict[str, Callable[[Running], None]] = {
    "deploy": _deploy,
    "models": _models,
    "delete": _delete,
    "health": _health,
    "notify": _notify,
    "ui": _ui,
    "mcp": _mcp,
    "root": _root,
}


def _installed_library_source(run: FuncRun) -> str:
    """Where the run's virtualenv installed the shared library from (PEP 610)."""
    found = list(run.run_dir.glob(".venv/lib/python*/site-packages/kserve_functions-*.dist-info"))
    assert len(found) == 1, f"kserve-functions is not installed in {run.run_dir}/.venv"
    url: str = json.loads((found[0] / "direct_url.json").read_text())["url"]
    return url


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_func_run_serves_the_function_from_a_clean_checkout(
    name: str,
    start_function: Callable[[str], FuncRun],
    func_binary: Path,
    function_env: dict[str, str],
    namespace: str,
    admin_api: client.ApiClient,
    sink: RecordingSink,
) -> None:
    run = start_function(name)

    assert run.announced() == {"address": run.url, "host": "127.0.0.1", "port": str(run.port)}
    checkout_root = run.root if name == "root" else run.root.parent.parent
    assert _installed_library_source(run) == (checkout_root / "lib").resolve().as_uri()

    SCENARIOS[name](Running(func_binary, run, function_env, namespace, admin_api, sink))

    assert run.stop() == []
