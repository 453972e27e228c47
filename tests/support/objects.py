"""Typing help for the custom-objects API, which returns plain ``object``."""

from __future__ import annotations

from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    """``value`` as the JSON object the apiserver returned (asserts it is one)."""
    assert isinstance(value, dict), f"expected a JSON object, got {type(value).__name__}"
    return value
