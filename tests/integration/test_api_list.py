"""Listing models: namespaces, all namespaces, label selectors, apiserver pagination.

The functions here run with pages of ``LIST_PAGE_SIZE`` (2) models, so an
unlimited list of five models is streamed across three apiserver pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _deploy(
    api: Any, namespace: str, *names: str, labels: dict[str, str] | None = None
) -> None:
    deploy: httpx.AsyncClient = api("deploy")
    for name in names:
        body = {
            "name": name,
            "image": f"r/{name}:1",
            "namespace": namespace,
            "labels": labels or {},
        }
        answer = await deploy.post("/deploy", json=body)
        assert answer.status_code == 201, answer.text


def _names(answer: httpx.Response) -> list[str]:
    return [model["name"] for model in answer.json()["models"]]


async def test_unlimited_list_streams_every_page(api: Any, namespace: str) -> None:
    names = ["m1", "m2", "m3", "m4", "m5"]
    await _deploy(api, namespace, *names)

    answer = await api("models").get("/models", params={"namespace": namespace})

    assert answer.status_code == 200
    assert sorted(_names(answer)) == names
    assert answer.json()["count"] == 5
    assert "continue" not in answer.json()


async def test_limit_and_continue_page_through(api: Any, namespace: str) -> None:
    await _deploy(api, namespace, "p1", "p2", "p3")
    models: httpx.AsyncClient = api("models")

    first = await models.get("/models", params={"namespace": namespace, "limit": "2"})
    token = first.json()["continue"]
    second = await models.get(
        "/models", params={"namespace": namespace, "limit": "2", "continue": token}
    )

    assert (first.json()["count"], second.json()["count"]) == (2, 1)
    assert "continue" not in second.json()
    assert sorted(_names(first) + _names(second)) == ["p1", "p2", "p3"]


async def test_all_namespaces_and_label_selector(
    api: Any, make_namespace: Callable[[], str]
) -> None:
    team_a, team_b = make_namespace(), make_namespace()
    await _deploy(api, team_a, "shared-a", labels={"team": "vision"})
    await _deploy(api, team_b, "shared-b", labels={"team": "vision"})
    await _deploy(api, team_b, "other", labels={"team": "nlp"})

    answer = await api("models").get(
        "/models", params={"namespace": "*", "labelSelector": "team=vision"}
    )

    assert answer.status_code == 200
    found = {(m["namespace"], m["name"]) for m in answer.json()["models"]}
    assert {(team_a, "shared-a"), (team_b, "shared-b")} <= found
    assert (team_b, "other") not in found


async def test_empty_namespace_lists_nothing(api: Any, namespace: str) -> None:
    answer = await api("models").get("/models", params={"namespace": namespace})
    assert answer.json() == {"models": [], "count": 0}


async def test_garbage_continue_token_is_a_client_error(api: Any, namespace: str) -> None:
    answer = await api("models").get(
        "/models", params={"namespace": namespace, "limit": "1", "continue": "not-a-token"}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
