"""Read a Server-Sent Events stream as a client does (the parsing rules of the HTML spec).

The API's watch streams are read with httpx, as a user's client would: each
``Event`` carries its ``event`` type, ``data`` (JSON decoded) and ``id``; lines
starting with ``:`` are comments (heartbeats); an ``id`` without data moves the
last event id without an event, as ``EventSource`` does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    """One dispatched event."""

    event: str
    data: Any
    id: str


@dataclass
class Stream:
    """What a stream delivered so far: its events, the last event id, heartbeats seen."""

    events: list[Event] = field(default_factory=list)
    last_id: str = ""
    heartbeats: int = 0
    ended: bool = False

    def of(self, kind: str) -> list[Event]:
        """The events of type ``kind``."""
        return [e for e in self.events if e.event == kind]


async def events(lines: AsyncIterator[str], stream: Stream) -> AsyncIterator[Event]:
    """Parse ``lines`` into ``stream`` (updated in place), yielding each event."""
    kind, data, pending_id = "message", "", None
    async for line in lines:
        if line == "":
            if pending_id is not None:
                stream.last_id = pending_id
            if data:
                event = Event(event=kind, data=json.loads(data.rstrip("\n")), id=stream.last_id)
                stream.events.append(event)
                yield event
            kind, data, pending_id = "message", "", None
        elif line.startswith(":"):
            stream.heartbeats += 1
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data += value + "\n"
            elif name == "id":
                pending_id = value
    stream.ended = True


async def follow(
    client: httpx.AsyncClient,
    path: str,
    *,
    until: Callable[[Stream], bool],
    timeout: float = 60,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    started: asyncio.Event | None = None,
    into: Stream | None = None,
) -> Stream:
    """Read the stream at ``path`` until ``until(stream)`` holds, it ends, or ``timeout``.

    ``started`` is set once the answer's status line arrived (and asserted 200).
    ``into``: the ``Stream`` to fill, so that a test can see the events while they
    arrive (``until_streamed``). Raises ``TimeoutError`` naming what was received
    when time runs out.
    """
    stream = Stream() if into is None else into

    async def read() -> None:
        async with client.stream(
            "GET", path, params=params, headers=headers, timeout=httpx.Timeout(timeout)
        ) as answer:
            body = "" if answer.status_code == 200 else (await answer.aread()).decode()
            assert answer.status_code == 200, body
            assert answer.headers["content-type"] == "text/event-stream"
            if started is not None:
                started.set()
            async for _ in events(answer.aiter_lines(), stream):
                if until(stream):
                    return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError as e:
        kinds = [
            (ev.event, ev.data.get("state") if isinstance(ev.data, dict) else None)
            for ev in stream.events
        ]
        raise TimeoutError(f"the stream at {path} did not get there in {timeout} s: {kinds}") from e
    return stream


async def until_streamed(
    stream: Stream, holds: Callable[[Stream], bool], *, timeout: float = 60
) -> None:
    """Return once ``holds(stream)``, for a stream ``follow`` fills in another task.

    Raises:
        TimeoutError: it did not hold within ``timeout`` seconds (the events so far named).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not holds(stream):
        if loop.time() > deadline:
            raise TimeoutError(f"not streamed within {timeout} s: {stream.events}")
        await asyncio.sleep(0.05)
