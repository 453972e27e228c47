"""Continue tokens of a model list over several namespaces (``GET /models?namespace=*``).

A caller who may list models only in some namespaces gets them one namespace
after the other; the apiserver's own continue token is valid within one
namespace only. The token handed out names both: the namespace to go on in and
the apiserver's token there. It is an opaque, URL-safe string with the prefix
``ns.``, so it cannot be mistaken for an apiserver token.

The token is not signed: it only says where to resume, and the list that
resumes it refuses a namespace outside those the caller may list.

Pure: no I/O, and nothing from the project.
"""

from __future__ import annotations

import base64

_PREFIX = "ns."


def encode_continue(namespace: str, token: str) -> str:
    """A continue token of a list over several namespaces: where to go on."""
    raw = f"{namespace}\n{token}".encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(value: str) -> tuple[str, str] | None:
    """``(namespace, apiserver token)`` of ``encode_continue``'s token; None if not one."""
    if not value.startswith(_PREFIX):
        return None
    body = value[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    namespace, newline, token = raw.partition("\n")
    return (namespace, token) if newline else None
