"""One deep merge of JSON objects, as KServe (``mergo.Merge(WithOverride)``) and
server-side apply's field sets (``fieldsV1``) both need it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: objects merged key by key, everything else
    (lists too) replaced by ``override``'s value. Neither argument is changed."""
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = merged(current, value)
        else:
            result[key] = value
    return result
