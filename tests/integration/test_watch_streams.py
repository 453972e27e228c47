"""Watch streams (``watch=true``) against the real KServe controller and kwok.

Every stream is read over real HTTP from the models function served by
func-python (a streamed answer needs a real server), as a client reads
Server-Sent Events (``support.sse``). Models are deployed through the deploy
function; KServe, the controller-manager, the scheduler and kwok do the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from controlplane.cluster import ControlPlane
from support import workloads
from support.functions import FunctionLauncher
from support.problems import assert_problem
from support.sse import Stream, events, follow
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
    watching = asyncio.create_task(
        follow(
            models,
            "/models",
            params={"namespace": namespace, "watch": "true"},
            until=lambda s: bool(s.of("deleted")),
            started=started,
            timeout=120,
        )
    )
    await asyncio.wait_for(started.wait(), 30)
    body = {"name": "iris", "image": "r/m:1", "namespace": namespace}
    await _deploy(deploy, body)
    # Each step waits for the stream to show the last, as a user watching would.
    await _until_state(models, namespace, "iris", "ready", 1)
    await _deploy(deploy, {**body, "image": "r/m:2"})
    await _until_state(models, namespace, "iris", "ready", 2)
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
