"""The pure parts of caller authentication: the cache, header parsing, allowlists, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from kserve_functions import auth, errors
from kserve_functions.config import AuthMode, ConfigError, EventAuth, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cache_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: auth.TTLCache[str, bool] = auth.TTLCache(ttl=10, size=4, clock=clock)
    cache.store("k", False)
    assert cache.lookup("k") == (True, False)
    clock.now += 9.9
    assert cache.lookup("k") == (True, False)
    clock.now += 0.1
    assert cache.lookup("k") == (False, None)
    assert len(cache) == 0


def test_cache_keeps_at_most_size_entries_dropping_the_least_recently_used() -> None:
    clock = Clock()
    cache: auth.TTLCache[int, int] = auth.TTLCache(ttl=10, size=3, clock=clock)
    for key in range(3):
        cache.store(key, key)
    assert cache.lookup(0) == (True, 0)  # 0 is now the most recently used
    cache.store(3, 3)
    assert len(cache) == 3
    assert cache.lookup(1) == (False, None)
    assert [cache.lookup(k)[0] for k in (0, 2, 3)] == [True, True, True]


def test_storing_again_refreshes_the_ttl() -> None:
    clock = Clock()
    cache: auth.TTLCache[str, str] = auth.TTLCache(ttl=1, size=2, clock=clock)
    cache.store("k", "a")
    clock.now += 0.9
    cache.store("k", "b")
    clock.now += 0.9
    assert cache.lookup("k") == (True, "b")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def", "abc.def"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer a b", None),
        ("abc", None),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert auth.bearer_token(header) == token


def test_token_key_is_a_digest_never_the_token() -> None:
    key = auth.token_key("secret-token-value")
    assert "secret-token-value" not in key
    assert len(key) == 64
    assert key != auth.token_key("secret-token-value", ["deploy"])
    assert key == auth.token_key("secret-token-value")


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
    assert auth.image_allowed(image, patterns) is allowed


def test_namespace_allowlist() -> None:
    assert auth.namespace_allowed("a", None)
    assert auth.namespace_allowed("a", frozenset({"a", "b"}))
    assert not auth.namespace_allowed("c", frozenset({"a", "b"}))


def test_allowlist_checks_name_the_rule() -> None:
    settings = Settings(allowed_namespaces=frozenset({"team"}), allowed_images=("r.io/t/",))
    with pytest.raises(errors.Forbidden, match="namespace other is not in ALLOWED_NAMESPACES"):
        auth.check_namespace(settings, "other")
    with pytest.raises(errors.Forbidden, match=r"image x/y:1 does not match ALLOWED_IMAGES"):
        auth.check_image(settings, "x/y:1")
    auth.check_namespace(settings, "team")
    auth.check_image(settings, "r.io/t/m:1")
    auth.check_image(settings, None)  # a ServingRuntime predictor names no image


def test_continue_tokens_round_trip() -> None:
    token = auth.encode_continue("ns-a", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")
    assert auth.decode_continue(token) == ("ns-a", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")
    assert auth.decode_continue(auth.encode_continue("b", "")) == ("b", "")
    assert auth.decode_continue("eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ") is None
    assert auth.decode_continue("ns.!!!") is None


def test_auth_settings_defaults() -> None:
    settings = Settings.from_environment({})
    assert settings.auth_mode is AuthMode.KUBERNETES
    assert settings.auth_cache_ttl_seconds == 10.0
    assert settings.auth_cache_size == 1024
    assert settings.event_auth is EventAuth.OIDC
    assert settings.registry_secret_header == "X-Registry-Secret"
    assert settings.registry_secret is None
    assert settings.allowed_namespaces is None
    assert settings.allowed_images == ()


def test_auth_settings_are_read() -> None:
    settings = Settings.from_environment(
        {
            "AUTH_MODE": "kubernetes",
            "AUTH_CACHE_TTL_SECONDS": "1.5",
            "AUTH_CACHE_SIZE": "8",
            "EVENT_AUTH": "trust-broker",
            "EVENT_AUDIENCE": "kserve",
            "REGISTRY_SECRET": "s3cret",
            "REGISTRY_SECRET_HEADER": "X-Hook-Token",
            "ALLOWED_NAMESPACES": " team-a, team-b ,",
            "ALLOWED_IMAGES": "registry.example.com/team/, docker.io/library/",
        }
    )
    assert settings.auth_cache_ttl_seconds == 1.5
    assert settings.auth_cache_size == 8
    assert settings.event_auth is EventAuth.TRUST_BROKER
    assert settings.event_audience == "kserve"
    assert settings.registry_secret == "s3cret"
    assert settings.registry_secret_header == "X-Hook-Token"
    assert settings.allowed_namespaces == frozenset({"team-a", "team-b"})
    assert settings.allowed_images == ("registry.example.com/team/", "docker.io/library/")
    assert "s3cret" not in repr(settings)


def test_the_registry_secret_file_wins_over_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-file\n")
    settings = Settings.from_environment(
        {"REGISTRY_SECRET_FILE": str(path), "REGISTRY_SECRET": "from-env"}
    )
    assert settings.registry_secret == "from-file"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EVENT_AUTH", "none", "EVENT_AUTH='none' is not one of: oidc, trust-broker"),
        ("AUTH_CACHE_SIZE", "0", "AUTH_CACHE_SIZE='0' must be greater than 0"),
        ("AUTH_CACHE_TTL_SECONDS", "x", "AUTH_CACHE_TTL_SECONDS='x' is not a number of seconds"),
        ("ALLOWED_NAMESPACES", "Team", "ALLOWED_NAMESPACES: 'Team' is not a namespace name"),
        ("REGISTRY_SECRET_FILE", "/nonexistent/secret", "cannot be read"),
        ("REGISTRY_SECRET_HEADER", "X Bad", "is not a header name"),
    ],
)
def test_unusable_auth_settings_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_environment({variable: value})
