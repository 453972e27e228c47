"""The namespace and image allowlists (``kserve_functions.auth.allowlists``)."""

from __future__ import annotations

import pytest
from kserve_functions.auth import allowlists
from kserve_functions.config import Settings
from kserve_functions.core import errors


@pytest.mark.parametrize(
    ("image", "patterns", "allowed"),
    [
        ("registry.example.com/team/model:v1", ["registry.example.com/team/"], True),
        ("registry.example.com/other/model:v1", ["registry.example.com/team/"], False),
        ("registry.example.com/team-evil/m:1", ["registry.example.com/team/"], False),
        ("nginx:1", ["docker.io/library/"], True),
        ("docker.io/library/nginx:1", ["docker.io/library/"], True),
        ("index.docker.io/library/nginx", ["docker.io/library/"], True),
        ("kserve/sklearnserver:latest", ["docker.io/library/"], False),
        ("kserve/sklearnserver:latest", ["docker.io/kserve/"], True),
        ("kserve/sklearnserver:latest", ["kserve/"], True),
        ("localhost:5000/m:1", ["localhost:5000/"], True),
        ("anything/at:all", [], True),
        ("a/b:1", ["x/", "a/"], True),
        # A pattern ends at a boundary, with or without its trailing slash.
        ("registry.example.com/team/model:v1", ["registry.example.com/team"], True),
        ("registry.example.com/team-evil/m:1", ["registry.example.com/team"], False),
        ("registry.example.com/m:1", ["registry.example.com"], True),
        ("registry.example.com.evil.io/m:1", ["registry.example.com"], False),
        (
            "registry.example.com/team/model@sha256:" + "a" * 64,
            ["registry.example.com/team/model"],
            True,
        ),
    ],
)
def test_image_allowlist_matches_prefixes(image: str, patterns: list[str], allowed: bool) -> None:
    assert allowlists.image_allowed(image, patterns) is allowed


@pytest.mark.parametrize(
    ("reference", "normalized"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1", "docker.io/library/nginx:1"),
        ("kserve/x", "docker.io/kserve/x"),
        ("docker.io/nginx", "docker.io/library/nginx"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx"),
        ("registry-1.docker.io/kserve/x", "docker.io/kserve/x"),
        ("localhost/m", "localhost/m"),
        ("registry.local:5000/m", "registry.local:5000/m"),
        ("ghcr.io/org/m", "ghcr.io/org/m"),
    ],
)
def test_docker_hub_references_are_spelled_out(reference: str, normalized: str) -> None:
    assert allowlists.normalize_image(reference) == normalized


def test_namespace_allowlist() -> None:
    assert allowlists.namespace_allowed("a", None)
    assert allowlists.namespace_allowed("a", frozenset({"a", "b"}))
    assert not allowlists.namespace_allowed("c", frozenset({"a", "b"}))


def test_allowlist_checks_name_the_rule() -> None:
    settings = Settings(allowed_namespaces=frozenset({"team"}), allowed_images=("r.io/t/",))
    with pytest.raises(errors.Forbidden, match="namespace other is not in ALLOWED_NAMESPACES"):
        allowlists.check_namespace(settings, "other")
    with pytest.raises(errors.Forbidden, match=r"image x/y:1 does not match ALLOWED_IMAGES"):
        allowlists.check_image(settings, "x/y:1")
    allowlists.check_namespace(settings, "team")
    allowlists.check_image(settings, "r.io/t/m:1")
    allowlists.check_image(settings, None)  # a ServingRuntime predictor names no image


def test_without_allowlists_everything_is_allowed() -> None:
    settings = Settings()
    allowlists.check_namespace(settings, "any")
    allowlists.check_image(settings, "any/image:1")
