"""A served function stops within its bound, open streams and all.

Knative scales a function's pod down with SIGTERM, and the tests stop their
served functions the same way (``support.functions.stop_served``): SIGTERM,
``STOP_GRACE_SECONDS``, then SIGKILL. func-python's server ends on SIGTERM
within hypercorn's 3 s graceful timeout; an open watch stream, which would
run for as long as its client reads, must not hold it past the grace. (The
launcher's own stops are checked in ``test_launcher_lifecycle``.)
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from controlplane.processes import STOP_GRACE_SECONDS
from support.functions import ServedFunction

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.asyncio
async def test_a_function_with_an_open_watch_stream_ends_on_sigterm_within_the_grace(
    function_env: dict[str, str], namespace: str, tmp_path: Path
) -> None:
    served = ServedFunction("models", function_env, tmp_path / "models.log")
    try:
        served.wait_ready()
        async with (
            httpx.AsyncClient(base_url=served.url, timeout=30) as http,
            http.stream(
                "GET", "/models", params={"namespace": namespace, "watch": "true"}
            ) as stream,
        ):
            assert stream.status_code == 200
            async for line in stream.aiter_lines():  # listed; now watching
                if line == "event: synced":
                    break

            started = time.monotonic()
            # In a thread: the stream stays open, read by this loop, while the process stops.
            await asyncio.to_thread(served.stop)
            took = time.monotonic() - started
    finally:
        served.stop()

    # Ended by SIGTERM itself (status 0), not by the SIGKILL after the grace.
    assert served.process.returncode == 0, served.log()
    assert took < STOP_GRACE_SECONDS, served.log()
