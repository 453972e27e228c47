"""Each function serves the OpenAPI document recorded in ``data/openapi/``, byte for byte.

The recorded documents are the API's contract as clients see it: a change to a
route, a schema or a description shows up here as a diff to review, and a
refactoring must leave them as they are. The documents are fetched the way a
client does, ``GET /openapi.json`` through the function object's ASGI entry
point, with the default settings (no cluster is needed to describe the API).
To accept an intended change, write the new documents with
``KSERVE_FUNCTIONS_WRITE_OPENAPI=1 pytest tests/unit/test_openapi_documents.py``
(each test whose document it rewrites fails, so such a run never passes), review
the diff, and run the tests again without the variable.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from support.functions import FUNCTION_ROOTS, new_function, unreachable_kubeconfig

RECORDED = Path(__file__).parent / "data" / "openapi"


async def _get_openapi(instance: Any) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/openapi.json",
        "raw_path": b"/openapi.json",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await instance.handle(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize("name", sorted(FUNCTION_ROOTS))
def test_each_function_serves_its_recorded_document(name: str, tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path)
    # Only what a function needs to start; the document depends on no other setting.
    config = {
        "KUBECONFIG": str(kubeconfig),
        "AUTH_MODE": "none",
        "K_SINK": "http://127.0.0.1:9/",
    }
    instance = new_function(name)
    instance.start(config)
    try:
        status, served = asyncio.run(_get_openapi(instance))
    finally:
        instance.stop()
    recorded = RECORDED / f"{name}.json"
    assert status == 200
    writing = os.environ.get("KSERVE_FUNCTIONS_WRITE_OPENAPI") == "1"
    if writing and (not recorded.exists() or served != recorded.read_bytes()):
        recorded.write_bytes(served)
        # A run that rewrites the record proves nothing about it: it never passes.
        pytest.fail(f"wrote {recorded}: review the diff, then run again without the variable")
    assert recorded.exists(), f"{name} has no recorded document: write it as the docstring says"
    assert served == recorded.read_bytes(), f"{name}'s OpenAPI document changed"
