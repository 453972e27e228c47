"""The namespace and image allowlists (``ALLOWED_NAMESPACES``, ``ALLOWED_IMAGES``).

They apply in every ``AUTH_MODE``, before any read or write: every operation
asks here (through ``auth``), and so do registry roll-outs. The decisions are
pure functions of the settings and the request; nothing here reads the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable

from kserve_functions.config import Settings
from kserve_functions.core import errors

DOCKER_HUB = "docker.io"


def normalize_image(reference: str) -> str:
    """An image reference with Docker Hub's implicit parts spelled out.

    ``nginx`` is ``docker.io/library/nginx`` and ``kserve/x`` is
    ``docker.io/kserve/x``, so an allowlist pattern matches however the image is written.
    """
    first, slash, rest = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if first in {"index.docker.io", "registry-1.docker.io"}:
            first = DOCKER_HUB
        if first == DOCKER_HUB and rest and "/" not in rest:
            rest = f"library/{rest}"
        return f"{first}/{rest}"
    if not slash:
        return f"{DOCKER_HUB}/library/{reference}"
    return f"{DOCKER_HUB}/{reference}"


def image_allowed(image: str, patterns: Iterable[str]) -> bool:
    """Whether ``image`` falls under one of the prefix ``patterns`` (none: every image).

    A pattern matches at a boundary only: ``registry.example.com/team`` and
    ``registry.example.com/team/`` both cover ``registry.example.com/team/m:1``
    but neither ``registry.example.com/team-evil/m`` nor (for a bare host
    pattern ``registry.example.com``) ``registry.example.com.evil.io/m``.
    """
    patterns = list(patterns)
    if not patterns:
        return True
    candidates = (image, normalize_image(image))
    return any(
        _under(candidate, prefix)
        for pattern in patterns
        for prefix in {pattern, normalize_image(pattern)}
        for candidate in candidates
    )


def _under(image: str, prefix: str) -> bool:
    if not image.startswith(prefix):
        return False
    rest = image[len(prefix) :]
    # The prefix must end where a reference's parts end: a path separator, the
    # tag or digest separator, or the end of the reference.
    return prefix.endswith("/") or not rest or rest[0] in "/:@"


def namespace_allowed(namespace: str, allowed: frozenset[str] | None) -> bool:
    """Whether ``namespace`` is in the allowlist (None: every namespace)."""
    return allowed is None or namespace in allowed


def check_namespace(settings: Settings, namespace: str) -> None:
    """Raises:
    errors.Forbidden: ``namespace`` is outside ``ALLOWED_NAMESPACES``.
    """
    if not namespace_allowed(namespace, settings.allowed_namespaces):
        raise errors.Forbidden(f"namespace {namespace} is not in ALLOWED_NAMESPACES")


def check_image(settings: Settings, image: str | None) -> None:
    """Raises:
    errors.Forbidden: ``image`` matches no ``ALLOWED_IMAGES`` prefix.
    """
    if image is not None and not image_allowed(image, settings.allowed_images):
        raise errors.Forbidden(f"image {image} does not match ALLOWED_IMAGES")
