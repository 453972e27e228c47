"""Watch streams (``watch=true``) against the real KServe controller and kwok.

Every stream is read over real HTTP from the models function served by
func-python (a streamed answer needs a real server), as a client reads
Server-Sent Events (``support.sse``). Models are deployed through the deploy
function; KServe, the controller-manager, the scheduler and kwok do the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import RESTART_TOKEN_ANNOTATION
from kubernetes import client
from support import objects, workloads
from support.functions import FunctionLauncher
from support.problems import assert_problem
from support.sse import Stream, events, follow, until_streamed
from support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.fixture
def models(served_client: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return served_client("models")


@pytest.fixture
def deploy(served_client: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return served_client("deploy")


@pytest.fixture
def delete(served_client: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return served_client("delete")


def _states(stream: Stream, name: str) -> list[tuple[str, int | None]]:
    """The (state, generation) of each ``model`` event of ``name``, repeats folded."""
    seen: list[tuple[str, int | None]] = []
    for event in stream.of("model"):
        if event.data["name"] == name:
            step = (event.data["state"], event.data.get("generation"))
            if not seen or seen[-1] != step:
                seen.append(step)
    return seen


def _ready_at(name: str, generation: int) -> Callable[[Stream], bool]:
    return lambda stream: ("ready", generation) in _states(stream, name)


async def _deploy(deploy: httpx.AsyncClient, body: dict[str, Any]) -> None:
    answer = await deploy.post("/deploy", json=body)
    assert answer.status_code in {200, 201}, answer.text


async def test_a_namespace_stream_shows_create_ready_update_and_delete_in_order(
    models: httpx.AsyncClient,
    deploy: httpx.AsyncClient,
    delete: httpx.AsyncClient,
    namespace: str,
) -> None:
    started = asyncio.Event()
    seen = Stream()
    watching = asyncio.create_task(
        follow(
            models,
            "/models",
            params={"namespace": namespace, "watch": "true"},
            until=lambda s: bool(s.of("deleted")),
            started=started,
            timeout=120,
            into=seen,
        )
    )
    await asyncio.wait_for(started.wait(), 30)
    body = {"name": "iris", "image": "r/m:1", "namespace": namespace}
    await _deploy(deploy, body)
    # Each step waits for the stream to show the last, as a user watching would
    # (not for GET: a roll-out that completes without a write to the model shows
    # in the stream at its next re-read, up to a second after GET sees it).
    await until_streamed(seen, _ready_at("iris", 1))
    await _deploy(deploy, {**body, "image": "r/m:2"})
    await until_streamed(seen, _ready_at("iris", 2))
    gone = await delete.delete(f"/models/{namespace}/iris")
    assert gone.status_code == 200, gone.text
    stream = await watching

    assert stream.events[0].event == "synced"  # an empty namespace, listed
    states = _states(stream, "iris")
    assert states[0] == ("starting", 1)
    assert states.index(("ready", 1)) < states.index(("updating", 2)) < states.index(("ready", 2))
    assert stream.events[-1].event == "deleted"
    assert stream.events[-1].data == {"name": "iris", "namespace": namespace}
    # Every event carries the resourceVersion it reflects, never going back.
    versions = [int(e.id) for e in stream.events]
    assert versions == sorted(versions)


async def test_streams_show_a_roll_out_that_completes_without_a_write_to_the_model(
    models: httpx.AsyncClient,
    deploy: httpx.AsyncClient,
    namespace: str,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
) -> None:
    # The race of a real update, made certain: KServe applies the new spec to
    # the predictor Deployment before the Deployment controller has looked at
    # it (so KServe's status still says Ready, NewReplicaSetAvailable, from the
    # old pods), and the roll-out then completes while KServe writes nothing
    # more to the InferenceService. Frozen processes (SIGSTOP) order it: the
    # Deployment controller while KServe applies the spec, then KServe while
    # the roll-out runs. Only a re-read of the Deployment can show it ready.
    # KServe's pod mutator (a webhook KServe serves, failing closed) would keep
    # the frozen KServe from letting the new pod be created; it skips namespaces
    # labelled control-plane, and it has nothing to add to these models' pods
    # (no storage URI, no agent).
    client.CoreV1Api(admin_api).patch_namespace(
        namespace, {"metadata": {"labels": {"control-plane": "watch-stream-test"}}}
    )
    body = {"name": "quiet", "image": "r/m:1", "namespace": namespace}
    await _deploy(deploy, body)
    await _until_state(models, namespace, "quiet", "ready", 1)
    single, listing = Stream(), Stream()
    reading = [
        asyncio.create_task(
            _read(models, f"/models/{namespace}/quiet", {"watch": "true"}, single, "quiet")
        ),
        asyncio.create_task(
            _read(models, "/models", {"namespace": namespace, "watch": "true"}, listing, "quiet")
        ),
    ]
    try:
        await _until(lambda: bool(single.events and listing.of("synced")), "both streams open")
        with _frozen(control_plane, "kube-controller-manager") as deployment_controller:
            await _deploy(deploy, {**body, "image": "r/m:2"})
            token = _restart_token(admin_api, namespace, "quiet")
            await _until(
                lambda: _template_token(admin_api, namespace, "quiet") == token,
                "KServe applied the new spec to the Deployment",
            )
            await _until(
                lambda: all(("updating", 2) in _states(s, "quiet") for s in (single, listing)),
                "both streams showed the model updating",
            )
            with _frozen(control_plane, "kserve-controller"):
                isvc = objects.read_inference_service(admin_api, namespace, "quiet")
                # KServe copied the Deployment's status from before the update:
                # its own status reports no roll-out.
                assert _predictor_ready_reason(isvc) == "NewReplicaSetAvailable"
                deployment_controller.thaw()
                await _until(
                    lambda: _rolled_out(admin_api, namespace, "quiet"), "the Deployment rolled out"
                )
                # Each stream notices within its re-read interval (1 s), not at
                # a heartbeat (15 s).
                _, waiting = await asyncio.wait(reading, timeout=5)
                assert not waiting, (
                    "a stream did not show the model ready within 5 s of its roll-out: "
                    f"{_states(single, 'quiet')}, {_states(listing, 'quiet')}"
                )
                now = objects.read_inference_service(admin_api, namespace, "quiet")
                assert now["metadata"]["resourceVersion"] == isvc["metadata"]["resourceVersion"], (
                    "nothing wrote the InferenceService during the roll-out"
                )
    finally:
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)

    for stream in (single, listing):
        states = _states(stream, "quiet")
        assert states.index(("updating", 2)) < states.index(("ready", 2)), states
        versions = [int(e.id) for e in stream.events if e.id]
        assert versions == sorted(versions)
    model_version = isvc["metadata"]["resourceVersion"]
    # The ready event's id is where the stream's watch was: a client resuming
    # from it misses no change of the model after it.
    assert int(single.last_id) >= int(model_version)


async def _read(
    http: httpx.AsyncClient, path: str, params: dict[str, str], stream: Stream, name: str
) -> None:
    """Read the stream at ``path`` into ``stream`` until it shows ``name`` ready at generation 2."""
    async with http.stream("GET", path, params=params, timeout=httpx.Timeout(90)) as answer:
        assert answer.status_code == 200
        async for _event in events(answer.aiter_lines(), stream):
            if _ready_at(name, 2)(stream):
                return


def _predictor_ready_reason(isvc: dict[str, Any]) -> str | None:
    conditions = (isvc.get("status") or {}).get("conditions") or []
    return next((c.get("reason") for c in conditions if c.get("type") == "PredictorReady"), None)


class _Frozen:
    """A control-plane process stopped with SIGSTOP until ``thaw`` (idempotent)."""

    def __init__(self, pid: int) -> None:
        self._pid: int | None = pid
        os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pid, self._pid = self._pid, None
        if pid is not None:
            os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def _frozen(control_plane: ControlPlane, component: str) -> Iterator[_Frozen]:
    """``component`` frozen for the block (or until thawed), thawed whatever happens."""
    frozen = _Frozen(control_plane.components[component].pid)
    try:
        yield frozen
    finally:
        frozen.thaw()


async def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Until ``check()`` holds (polled every 0.1 s), else fail naming ``what``."""
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout:g} s")


def _restart_token(api: client.ApiClient, namespace: str, name: str) -> str:
    isvc = objects.read_inference_service(api, namespace, name)
    return str(isvc["spec"]["predictor"]["annotations"][RESTART_TOKEN_ANNOTATION])


def _template_token(api: client.ApiClient, namespace: str, name: str) -> str | None:
    found = workloads.deployment(api, namespace, name) or {}
    template = ((found.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return (template.get("annotations") or {}).get(RESTART_TOKEN_ANNOTATION)


def _rolled_out(api: client.ApiClient, namespace: str, name: str) -> bool:
    """The predictor Deployment's controller has rolled out its current template."""
    found = workloads.deployment(api, namespace, name) or {}
    generation = (found.get("metadata") or {}).get("generation")
    observed = (found.get("status") or {}).get("observedGeneration")
    conditions = (found.get("status") or {}).get("conditions") or []
    return observed == generation and any(
        c.get("type") == "Progressing" and c.get("reason") == "NewReplicaSetAvailable"
        for c in conditions
    )


async def _until_state(
    models: httpx.AsyncClient, namespace: str, name: str, state: str, generation: int
) -> None:
    """Until GET reports ``name`` in ``state`` at ``generation`` (bounded)."""
    for _ in range(600):
        answer = await models.get(f"/models/{namespace}/{name}")
        found = answer.json()
        if (found.get("state"), found.get("generation")) == (state, generation):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never reached {state} at generation {generation}: {found}")


async def test_a_model_stream_starts_with_its_state_and_ends_when_it_is_deleted(
    models: httpx.AsyncClient,
    deploy: httpx.AsyncClient,
    delete: httpx.AsyncClient,
    namespace: str,
) -> None:
    await _deploy(deploy, {"name": "one", "image": "r/m:1", "namespace": namespace})
    first = await follow(
        models, f"/models/{namespace}/one", params={"watch": "true"}, until=_ready_at("one", 1)
    )
    assert first.events[0].event == "model"
    assert first.events[0].data["name"] == "one"

    started = asyncio.Event()
    watching = asyncio.create_task(
        follow(
            models,
            f"/models/{namespace}/one",
            params={"watch": "true"},
            until=lambda s: s.ended,
            started=started,
        )
    )
    await asyncio.wait_for(started.wait(), 30)
    assert (await delete.delete(f"/models/{namespace}/one")).status_code == 200
    stream = await watching

    assert stream.events[0].data["state"] == "ready"
    assert stream.events[-1].event == "deleted"
    assert stream.ended, "a single model's stream ends when the model is gone"


async def test_a_crashing_model_shows_failed_with_the_containers_message(
    models: httpx.AsyncClient, deploy: httpx.AsyncClient, namespace: str
) -> None:
    message = "model file /mnt/models/model.joblib is corrupt"
    body = {
        "name": "broken",
        "image": "r/m:1",
        "namespace": namespace,
        **workloads.crash_looping(message, exit_code=3),
    }
    await _deploy(deploy, body)

    stream = await follow(
        models,
        f"/models/{namespace}/broken",
        params={"watch": "true"},
        until=lambda s: any(e.data.get("reason") == "ModelLoadFailed" for e in s.of("model")),
    )

    # The pod's crash loop may show before KServe reports the failed load; both
    # carry the container's message and exit code.
    failed = [e.data for e in stream.of("model") if e.data["state"] == "failed"]
    assert all(data["ready"] is False for data in failed)
    assert all(f"{message} (exit code 3)" in data["message"] for data in failed)
    assert failed[-1]["message"] == f"{message} (exit code 3)"
    assert {data["reason"] for data in failed} <= {"CrashLoopBackOff", "ModelLoadFailed"}
    states = [e.data["state"] for e in stream.of("model")]
    assert states.index("failed") == len(states) - len(failed), "once failed, it stays failed"


async def test_a_reconnect_with_last_event_id_loses_no_transition(
    models: httpx.AsyncClient, deploy: httpx.AsyncClient, namespace: str
) -> None:
    body = {"name": "resumed", "image": "r/m:1", "namespace": namespace}
    await _deploy(deploy, body)
    before = await follow(
        models,
        f"/models/{namespace}/resumed",
        params={"watch": "true"},
        until=_ready_at("resumed", 1),
    )
    # The client is gone (the connection closed) while the model is updated and rolls out.
    await _deploy(deploy, {**body, "image": "r/m:2"})
    await _until_state(models, namespace, "resumed", "ready", 2)

    after = await follow(
        models,
        f"/models/{namespace}/resumed",
        params={"watch": "true"},
        headers={"Last-Event-ID": before.last_id},
        until=_ready_at("resumed", 2),
    )

    # The watch resumes after the last event the client got: the update and its
    # roll-out arrive, nothing from before the disconnect comes again. (A replayed
    # change is read with the predictor Deployment as it is now, so a roll-out
    # that finished meanwhile may show only its end.)
    states = _states(after, "resumed")
    assert states[-1] == ("ready", 2)
    assert all(generation == 2 for _, generation in states), states
    assert int(after.events[0].id) > int(before.last_id)


async def test_the_stream_ends_at_its_maximum_and_a_resume_picks_up(
    tmp_path: Path, function_env: dict[str, str], deploy: httpx.AsyncClient, namespace: str
) -> None:
    launcher = FunctionLauncher("http", tmp_path)
    try:
        short, _ = launcher.start(
            "models", {**function_env, "STREAM_MAX_SECONDS": "2", "STREAM_HEARTBEAT_SECONDS": "1"}
        )
        body = {"name": "brief", "image": "r/m:1", "namespace": namespace}
        await _deploy(deploy, body)
        first = await follow(
            short,
            "/models",
            params={"namespace": namespace, "watch": "true"},
            until=lambda s: s.ended,
            timeout=20,
        )
        assert first.ended
        assert first.last_id
        await _deploy(deploy, {**body, "image": "r/m:2"})

        resumed = await follow(
            short,
            "/models",
            params={"namespace": namespace, "watch": "true"},
            headers={"Last-Event-ID": first.last_id},
            until=lambda s: any(e.data.get("generation") == 2 for e in s.of("model")),
            timeout=20,
        )
    finally:
        await launcher.aclose()

    assert not resumed.of("synced"), "a resumed stream does not list again"
    assert resumed.of("model")[0].data["generation"] == 2


async def test_streams_beyond_the_limit_are_refused_until_one_closes(
    tmp_path: Path, function_env: dict[str, str], namespace: str
) -> None:
    launcher = FunctionLauncher("http", tmp_path)
    try:
        limited, _ = launcher.start("models", {**function_env, "MAX_STREAMS": "1"})
        path, params = "/models", {"namespace": namespace, "watch": "true"}
        async with limited.stream("GET", path, params=params) as held:
            assert held.status_code == 200
            refused = await limited.get(path, params=params)
            assert_problem(refused, 503)
            assert refused.headers["Retry-After"] == "5"
        # The server frees the slot once it sees the client gone (its disconnect
        # arrives a moment after the close), so the next stream may need a retry.
        again = Stream()
        for _ in range(50):
            async with limited.stream("GET", path, params=params) as answer:
                if answer.status_code == 503:
                    await answer.aread()
                    await asyncio.sleep(0.1)
                    continue
                assert answer.status_code == 200
                async for _event in events(answer.aiter_lines(), again):
                    if again.of("synced"):
                        break
                break
    finally:
        await launcher.aclose()

    assert again.of("synced")


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/models", {"labelSelector": "a in (b", "watch": "true"}, {}, 422),
        ("/models/{namespace}/missing", {"watch": "true"}, {}, 404),
        ("/models", {"limit": "5", "watch": "true"}, {}, 422),
        ("/models", {"watch": "maybe"}, {}, 422),
        ("/models", {"watch": "true"}, {"Last-Event-ID": "not-a-version"}, 400),
    ],
    ids=["bad-selector", "missing-model", "limit", "bad-flag", "bad-last-event-id"],
)
async def test_bad_watch_requests_are_problems_before_any_stream(
    models: httpx.AsyncClient,
    namespace: str,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
) -> None:
    answer = await models.get(
        path.format(namespace=namespace),
        params={"namespace": namespace, **params} if path == "/models" else params,
        headers=headers,
    )

    assert_problem(answer, status)


async def test_an_apiserver_that_goes_away_ends_the_stream_with_an_error_and_a_resume_loses_nothing(
    tmp_path: Path,
    function_env: dict[str, str],
    control_plane: ControlPlane,
    deploy: httpx.AsyncClient,
    namespace: str,
) -> None:
    config = yaml.safe_load(control_plane.kubeconfig_path.read_text())
    upstream = int(config["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])
    launcher = FunctionLauncher("http", tmp_path)
    with TcpProxy(upstream) as proxy:
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        try:
            models, _ = launcher.start(
                "models",
                {**function_env, "KUBECONFIG": str(kubeconfig), "KUBE_TIMEOUT_SECONDS": "2"},
            )
            body = {"name": "steady", "image": "r/m:1", "namespace": namespace}
            await _deploy(deploy, body)
            path, params = "/models", {"namespace": namespace, "watch": "true"}
            started = asyncio.Event()
            watching = asyncio.create_task(
                follow(models, path, params=params, until=lambda s: s.ended, started=started)
            )
            await asyncio.wait_for(started.wait(), 30)
            await asyncio.sleep(1)  # listed and synced; now following
            proxy.cut()
            broken = await watching
            # While the function cannot reach the apiserver, the model changes.
            await _deploy(deploy, {**body, "image": "r/m:2"})
            proxy.restore()

            resumed = await follow(
                models,
                path,
                params=params,
                headers={"Last-Event-ID": broken.last_id},
                until=lambda s: any(e.data.get("generation") == 2 for e in s.of("model")),
            )
        finally:
            await launcher.aclose()

    [error] = broken.of("error")
    assert error.data["status"] == 503
    assert "did not answer" in error.data["detail"]
    assert broken.of("synced")
    assert resumed.of("model")[0].data["name"] == "steady"
