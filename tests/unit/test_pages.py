"""The one continue-token loop (``kube.pages``), with pages served from memory."""

from __future__ import annotations

import pytest
from kserve_functions.kube import Page, pages

pytestmark = pytest.mark.asyncio

# token -> page, as an apiserver would serve three pages of one list.
LIST = {
    None: Page(items=["a", "b"], continue_token="t1"),
    "t1": Page(items=["c", "d"], continue_token="t2"),
    "t2": Page(items=["e"], continue_token=""),
}


async def _collect(start: str | None) -> tuple[list[str], list[str | None]]:
    asked: list[str | None] = []

    async def fetch(token: str | None) -> Page[str]:
        asked.append(token)
        return LIST[token]

    items = [item async for page in pages(fetch, continue_token=start) for item in page.items]
    return items, asked


async def test_every_page_is_read_once_in_order_following_the_tokens() -> None:
    assert await _collect(None) == (["a", "b", "c", "d", "e"], [None, "t1", "t2"])


async def test_a_continue_token_starts_where_it_points() -> None:
    assert await _collect("t1") == (["c", "d", "e"], ["t1", "t2"])


async def test_pages_are_read_only_as_they_are_asked_for() -> None:
    asked: list[str | None] = []

    async def fetch(token: str | None) -> Page[str]:
        asked.append(token)
        return LIST[token]

    first = await anext(pages(fetch))

    assert (first.items, asked) == (["a", "b"], [None])
