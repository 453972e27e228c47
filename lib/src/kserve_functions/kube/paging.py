"""The one continue-token loop: pages of any list, read as the caller asks for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Page(Generic[_Item]):
    """One page of a list: the items, the token for the next page ("" = last), and
    the list's resourceVersion ("" when not read from the apiserver), from which a
    watch continues."""

    items: list[_Item]
    continue_token: str
    resource_version: str = ""


async def pages(
    fetch: Callable[[str | None], Awaitable[Page[_Item]]], *, continue_token: str | None = None
) -> AsyncIterator[Page[_Item]]:
    """Every page ``fetch`` returns, from ``continue_token`` on.

    ``fetch`` gets the token of the page to read (None for the first) and
    returns it. Pages are read one at a time, as the caller asks for them, so a
    list of any length stays one page in memory.
    """
    token = continue_token
    while True:
        page = await fetch(token)
        yield page
        if not page.continue_token:
            return
        token = page.continue_token
