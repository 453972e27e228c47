"""Caller authentication: header parsing, the review caches, settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest
from kserve_functions.auth import authorizer
from kserve_functions.config import AuthMode, ConfigError, EventAuth, Settings
from kserve_functions.core import errors
from kserve_functions.http.asgi import Request
from kserve_functions.kube import Caller, Kube
from kserve_functions.objects import audit

TTL = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Reviews:
    """A stand-in for ``Kube``'s TokenReview and SubjectAccessReview, counting the calls."""

    def __init__(self, callers: dict[str, Caller]) -> None:
        self.callers = callers
        self.token_reviews: list[tuple[str, tuple[str, ...] | None]] = []
        self.access_reviews: list[tuple[str, str, str]] = []
        self.permitted = True

    async def review_token(self, token: str, audiences: Sequence[str] | None) -> Caller | None:
        self.token_reviews.append((token, None if audiences is None else tuple(audiences)))
        return self.callers.get(token)

    async def subject_can(
        self, caller: Caller, verb: str, namespace: str, **resource: object
    ) -> bool:
        del resource  # the cache key's resource part is tested through the verbs
        self.access_reviews.append((caller.user, verb, namespace))
        return self.permitted


def _authorizer(reviews: Reviews, clock: Clock, *, size: int = 4) -> authorizer.Authorizer:
    settings = Settings(auth_cache_ttl_seconds=TTL, auth_cache_size=size)
    return authorizer.Authorizer(settings, cast(Kube, reviews), audience="deploy", clock=clock)


def _request(token: str) -> Request:
    return Request(
        method="GET", path="/models", query={}, headers={"authorization": f"Bearer {token}"}
    )


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
    assert authorizer.bearer_token(header) == token


def test_token_key_is_a_digest_never_the_token() -> None:
    key = authorizer.token_key("secret-token-value")
    assert "secret-token-value" not in key
    assert len(key) == 64
    assert key != authorizer.token_key("secret-token-value", ["deploy"])
    assert key == authorizer.token_key("secret-token-value")


@pytest.mark.asyncio
async def test_a_token_is_reviewed_once_per_ttl() -> None:
    clock = Clock()
    reviews = Reviews({"t": Caller(user="alice")})
    authorizer = _authorizer(reviews, clock)

    assert await authorizer.authenticate(_request("t")) == Caller(user="alice")
    clock.now += TTL - 0.1
    assert await authorizer.authenticate(_request("t")) == Caller(user="alice")
    assert len(reviews.token_reviews) == 1
    clock.now += 0.1  # an entry expires exactly TTL seconds after it was stored
    assert await authorizer.authenticate(_request("t")) == Caller(user="alice")
    assert len(reviews.token_reviews) == 2


@pytest.mark.asyncio
async def test_a_refused_token_stays_refused_for_the_ttl() -> None:
    clock = Clock()
    reviews = Reviews({})
    authorizer = _authorizer(reviews, clock)

    for _ in range(2):
        with pytest.raises(errors.Unauthorized, match="not accepted by the cluster"):
            await authorizer.authenticate(_request("bad"))
    assert reviews.token_reviews == [("bad", None)]
    clock.now += TTL
    reviews.callers["bad"] = Caller(user="now-valid")
    assert await authorizer.authenticate(_request("bad")) == Caller(user="now-valid")


@pytest.mark.asyncio
async def test_an_authenticated_request_carries_its_caller_and_is_the_same_otherwise() -> None:
    reviews = Reviews({"t": Caller(user="alice")})
    request = _request("t")

    authenticated = await _authorizer(reviews, Clock()).authenticated(request)

    assert authenticated.caller == Caller(user="alice")
    assert authenticated.actor == audit.Actor(by="alice", how="GET /models")
    assert dataclasses.replace(authenticated, caller=None) == request
    assert request.caller is None


@pytest.mark.asyncio
async def test_an_unauthenticated_request_is_refused_with_the_challenge() -> None:
    reviews = Reviews({})
    bare = Request(method="GET", path="/models", query={}, headers={})

    with pytest.raises(errors.Unauthorized) as caught:
        await _authorizer(reviews, Clock()).authenticated(bare)
    assert caught.value.headers == authorizer.CHALLENGE
    assert reviews.token_reviews == []


@pytest.mark.asyncio
async def test_without_authentication_a_request_has_no_caller_and_an_anonymous_actor() -> None:
    reviews = Reviews({"t": Caller(user="alice")})
    settings = Settings(auth_mode=AuthMode.NONE)
    off = authorizer.Authorizer(settings, cast(Kube, reviews), audience="deploy")
    request = _request("t")

    assert await off.authenticated(request) is request
    assert request.caller is None
    assert request.actor == audit.Actor(by=audit.ANONYMOUS, how="GET /models")
    assert reviews.token_reviews == []


@pytest.mark.asyncio
async def test_the_token_cache_drops_the_least_recently_used_past_its_size() -> None:
    clock = Clock()
    reviews = Reviews({f"t{i}": Caller(user=f"u{i}") for i in range(4)})
    authorizer = _authorizer(reviews, clock, size=3)
    for token in ("t0", "t1", "t2", "t0", "t3"):  # t0 used again: t1 is the least recent
        await authorizer.authenticate(_request(token))
    assert [token for token, _ in reviews.token_reviews] == ["t0", "t1", "t2", "t3"]

    for token in ("t0", "t2", "t3", "t1"):
        await authorizer.authenticate(_request(token))
    assert [token for token, _ in reviews.token_reviews] == ["t0", "t1", "t2", "t3", "t1"]


@pytest.mark.asyncio
async def test_the_audiences_are_part_of_a_tokens_cache_key() -> None:
    reviews = Reviews({"t": Caller(user="alice")})
    authorizer = _authorizer(reviews, Clock())

    await authorizer.authenticate(_request("t"))
    await authorizer.authenticate(_request("t"), audiences=["deploy"])
    await authorizer.authenticate(_request("t"), audiences=["deploy"])
    assert reviews.token_reviews == [("t", None), ("t", ("deploy",))]


@pytest.mark.asyncio
async def test_access_reviews_are_cached_per_caller_verb_and_namespace() -> None:
    clock = Clock()
    reviews = Reviews({})
    authorizer = _authorizer(reviews, clock)
    alice, bob = Caller(user="alice"), Caller(user="bob")

    for caller, verb, namespace in [
        (alice, "list", "a"),
        (alice, "list", "a"),
        (alice, "get", "a"),
        (alice, "list", "b"),
        (bob, "list", "a"),
    ]:
        assert await authorizer.allowed(caller, verb, namespace)
    assert reviews.access_reviews == [
        ("alice", "list", "a"),
        ("alice", "get", "a"),
        ("alice", "list", "b"),
        ("bob", "list", "a"),
    ]
    clock.now += TTL
    assert await authorizer.allowed(alice, "list", "a")
    assert len(reviews.access_reviews) == 5


@pytest.mark.asyncio
async def test_a_denial_is_cached_too() -> None:
    reviews = Reviews({})
    reviews.permitted = False
    authorizer = _authorizer(reviews, Clock())

    for _ in range(2):
        with pytest.raises(errors.Forbidden, match="alice may not delete"):
            await authorizer.authorize(Caller(user="alice"), ("delete",), "team")
    assert reviews.access_reviews == [("alice", "delete", "team")]


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
