"""What every error answer of the API must be: problem+json, its status, no traceback, no token."""

from __future__ import annotations

from typing import Any

import httpx


def assert_problem(
    answer: httpx.Response, status: int, *, token: str | None = None
) -> dict[str, Any]:
    """Assert ``answer`` is an RFC 9457 problem with ``status``; return its body.

    The body names its status, a title and a detail; it carries no traceback
    and, when ``token`` is given, neither that token nor its tail.
    """
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in answer.text
    if token:
        assert token not in answer.text
        assert token[-16:] not in answer.text
    return problem
