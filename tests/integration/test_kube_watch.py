"""The kube layer's one watch against the real apiserver: changes, re-list on 410, errors.

``Kube.follow_models`` is what ``wait=true`` follows a model with (through
``next_change``) and what live status builds on; these tests drive it with
changes made by the admin client while it watches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from controlplane.cluster import ControlPlane
from kserve_functions.core import errors
from kserve_functions.kube import Change, Kube
from support import sockets
from support.objects import inference_service

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

# A resourceVersion no watch cache still has: the apiserver answers 410 Expired.
FORGOTTEN = "1"


@pytest_asyncio.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[Kube]:
    kube = Kube(kubeconfig=str(control_plane.kubeconfig_path), timeout_seconds=10)
    yield kube
    await kube.close()


async def _changes_until(
    kube: Kube, namespace: str, resource_version: str, *, name: str
) -> list[Change]:
    """The changes (bookmarks left out) following ``namespace`` until one of model ``name``."""
    seen: list[Change] = []
    followed = kube.follow_models(
        namespace, resource_version=resource_version, deadline=time.monotonic() + 20
    )
    async for change in followed:
        if change.type != "BOOKMARK":
            seen.append(change)
        if change.object.get("metadata", {}).get("name") == name:
            break
    await followed.aclose()
    return seen


async def test_a_forgotten_resource_version_is_re_listed_then_followed(
    kube: Kube, namespace: str
) -> None:
    await kube.apply(inference_service(namespace, "a"), dry_run=False)
    await kube.apply(inference_service(namespace, "b"), dry_run=False)

    followed = asyncio.create_task(_changes_until(kube, namespace, FORGOTTEN, name="c"))
    await asyncio.sleep(1)  # the re-list is done; the watch runs from its resourceVersion
    await kube.apply(inference_service(namespace, "c"), dry_run=False)
    changes = await asyncio.wait_for(followed, 30)

    synced = {c.object["metadata"]["name"] for c in changes[:2]}
    assert [c.type for c in changes[:3]] == ["SYNC", "SYNC", "SYNCED"]
    assert synced == {"a", "b"}
    # After the re-list, the watch goes on from the list's resourceVersion: KServe's
    # status writes to a and b arrive as changes, and c's creation as ADDED.
    assert all(c.type == "MODIFIED" for c in changes[3:-1])
    assert changes[-1].type == "ADDED"


async def test_next_change_reports_a_deletion(kube: Kube, namespace: str) -> None:
    applied, _ = await kube.apply(inference_service(namespace, "gone"), dry_run=False)
    version = applied["metadata"]["resourceVersion"]

    await kube.delete(namespace, "gone")
    # KServe may write the model (its finalizer, a status) between the apply and the
    # delete: those changes come first, in order, each without a deletionTimestamp.
    for _ in range(5):
        change = await kube.next_change(
            namespace, "gone", resource_version=version, timeout_seconds=20
        )
        assert change is not None
        if change.type == "DELETED" or change.object["metadata"].get("deletionTimestamp"):
            break
        assert change.type == "MODIFIED"
        version = change.object["metadata"]["resourceVersion"]
    else:
        pytest.fail("no change of the five after the apply reported the deletion")

    # KServe's finalizer first (MODIFIED, deletionTimestamp set), then the deletion.
    assert change.type in {"MODIFIED", "DELETED"}


async def test_next_change_of_a_model_gone_while_forgotten_is_a_deletion(
    kube: Kube, namespace: str
) -> None:
    change = await kube.next_change(
        namespace, "never-was", resource_version=FORGOTTEN, timeout_seconds=5
    )

    assert change == Change(type="DELETED", object={})


async def test_next_change_of_an_existing_model_after_410_is_the_model_now(
    kube: Kube, namespace: str
) -> None:
    await kube.apply(inference_service(namespace, "here"), dry_run=False)

    change = await kube.next_change(
        namespace, "here", resource_version=FORGOTTEN, timeout_seconds=5
    )

    assert change is not None
    assert change.type == "SYNC"
    assert change.object["metadata"]["name"] == "here"


async def test_a_quiet_watch_ends_with_none_at_its_timeout(kube: Kube, namespace: str) -> None:
    listed = await kube.list_page(namespace, label_selector=None, limit=1, continue_token=None)

    started = time.monotonic()
    change = await kube.next_change(
        namespace, "absent", resource_version=listed.resource_version, timeout_seconds=1
    )

    assert listed.resource_version
    assert change is None
    assert time.monotonic() - started < 10


async def test_a_refused_watch_is_mapped(kube: Kube, namespace: str) -> None:
    with pytest.raises(errors.BadRequest) as refused:
        async for _ in kube.watch_models(
            namespace, resource_version="0", timeout_seconds=1, label_selector="a in (b"
        ):
            pass

    assert "a watch of the models" in refused.value.detail


async def test_watches_left_before_their_end_hold_no_socket_once_the_client_is_closed(
    kube: Kube, control_plane: ControlPlane, namespace: str
) -> None:
    port = int(control_plane.server.rsplit(":", 1)[1])
    # The test's own admin client keeps its connections: only the function's count.
    before = sockets.connections_to(port)
    await kube.apply(inference_service(namespace, "listed"), dry_run=False)
    # Left at its end-of-list bookmark: the streamed list GET /models reads.
    pages = kube.all_models(namespace, label_selector=None, page_size=10)
    listed = [item["metadata"]["name"] async for page in pages for item in page.items]
    # Left in the middle: a follower that stops at the change it waited for.
    followed = asyncio.create_task(_changes_until(kube, namespace, "0", name="late"))
    await asyncio.sleep(0.5)
    await kube.apply(inference_service(namespace, "late"), dry_run=False)
    await asyncio.wait_for(followed, 30)

    await kube.close()
    await asyncio.sleep(0)  # the loop's next turn, where closed sockets are released

    assert listed == ["listed"]
    # A watch closed gracefully would still wait for the apiserver's TLS close_notify
    # here, and a loop ending now (a function stopping) would leave its socket behind.
    assert sockets.connections_to(port) == before
