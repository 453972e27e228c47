"""Kubernetes names and OCI image references (``kserve_functions.core.grammar``)."""

from __future__ import annotations

import re

import pytest
from kserve_functions.core import grammar

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


# -- Kubernetes names ----------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "0", "default", "1st-team", "a--b", "a" * 63, "9" * 63])
def test_dns1123_labels(value: str) -> None:
    assert grammar.is_dns1123_label(value)


@pytest.mark.parametrize(
    "value",
    ["", "a" * 64, "Default", "team-", "-team", "team_a", "my.team", " a", "a\n", "tëam"],
    ids=["empty", "64-characters", "uppercase", "trailing-dash", "leading-dash", "underscore",
         "dot", "leading-space", "trailing-newline", "non-ascii"],
)  # fmt: skip
def test_not_dns1123_labels(value: str) -> None:
    assert not grammar.is_dns1123_label(value)


@pytest.mark.parametrize("value", ["a", "iris", "model-2", "a-1-b", "a" * 63, "z" + "9" * 62])
def test_dns1035_labels(value: str) -> None:
    assert grammar.is_dns1035_label(value)


@pytest.mark.parametrize(
    "value",
    ["", "a" * 64, "1model", "0", "MyModel", "model-", "-model", "my_model", "my.model", "a\n"],
    ids=["empty", "64-characters", "leading-digit", "digit-only", "uppercase", "trailing-dash",
         "leading-dash", "underscore", "dot", "trailing-newline"],
)  # fmt: skip
def test_not_dns1035_labels(value: str) -> None:
    assert not grammar.is_dns1035_label(value)


def test_the_anchored_patterns_need_fullmatch() -> None:
    # The reason every check uses fullmatch: "$" also matches before a final newline.
    assert re.match(grammar.DNS1123_LABEL, "a\n")
    assert not re.fullmatch(grammar.DNS1123_LABEL, "a\n")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("kserve.sklearn-1", True),
        ("a", True),
        ("a.b.c", True),
        ("a..b", False),
        ("a.", False),
        (".a", False),
        ("A.b", False),
        ("a_b", False),
    ],
)
def test_dns1123_subdomains(value: str, valid: bool) -> None:
    assert (re.fullmatch(grammar.DNS1123_SUBDOMAIN, value) is not None) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("team", True),
        ("Team_1.x", True),
        ("example.com/team", True),
        ("a" * 63, True),
        ("a" * 253 + "/" + "b" * 63, True),  # the prefix's length is checked apart
        ("a" * 64, False),
        ("example.com/" + "b" * 64, False),
        ("example.com/", False),
        ("/team", False),
        ("-team", False),
        ("team-", False),
        ("Example.com/team", False),
    ],
)
def test_qualified_names(value: str, valid: bool) -> None:
    assert (re.fullmatch(grammar.QUALIFIED_NAME, value) is not None) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("v", True), ("v1.2_rc-3", True), ("-v", False), ("v.", False), ("a b", False)],
)
def test_label_values(value: str, valid: bool) -> None:
    assert (re.fullmatch(grammar.LABEL_VALUE, value) is not None) is valid


def test_the_maxima() -> None:
    assert grammar.LABEL_MAX == 63
    assert grammar.DNS1123_SUBDOMAIN_MAX == 253
    assert grammar.QUALIFIED_NAME_MAX == 253 + 1 + 63


# -- OCI image references --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "nginx",
        "kserve/sklearnserver:latest",
        "registry.example.com:5000/team/model:v1",
        "Registry.Example.com/model",
        "[::1]:5000/model:v1",
        "ghcr.io/org/repo__name/model-x.y:1.0_rc-1",
        f"nginx@{SHA256}",
        f"registry.example.com/team/model:v1@{SHA512}",
        "a" * 255,
    ],
)
def test_image_references(value: str) -> None:
    assert grammar.is_image_reference(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 256,
        "registry.example.com/MyModel:v1",
        "nginx:",
        "nginx:-x",
        "nginx:" + "v" * 129,
        "nginx@sha256:abc",
        "http://x/y",
        "nginx latest",
        "nginx\n",
        "nginx:tä",
    ],
    ids=["empty", "256-characters", "uppercase-path", "trailing-colon", "tag-leading-dash",
         "129-character-tag", "short-digest", "url", "space", "trailing-newline",
         "non-ascii-tag"],
)  # fmt: skip
def test_not_image_references(value: str) -> None:
    assert not grammar.is_image_reference(value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("team/app", True),
        ("a.b_c__d-e---f/g", True),
        ("Team/app", False),
        ("team/", False),
        ("/app", False),
        ("app_", False),
        ("a___b", False),
        ("team/app:v1", False),
    ],
)
def test_repositories(value: str, valid: bool) -> None:
    assert grammar.is_repository(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("v1", True),
        ("_x", True),
        ("V1.2_rc-3", True),
        ("t" * 128, True),
        ("t" * 129, False),
        ("", False),
        (".x", False),
        ("-x", False),
        ("tä", False),  # distribution's \w is ASCII, unlike Python's
    ],
)
def test_tags(value: str, valid: bool) -> None:
    assert grammar.is_tag(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (SHA256, True),
        (SHA512, True),
        (SHA256.upper(), False),
        (SHA256[:-1], False),
        (SHA256 + "0", False),
        ("sha384:" + "0" * 96, False),
    ],
)
def test_registered_digests(value: str, valid: bool) -> None:
    assert grammar.is_registered_digest(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("registry.example.com", True),
        ("localhost", True),
        ("registry.local:5000", True),
        ("registry.local:65535", True),
        ("[::1]:5000", True),
        ("a" * 253 + ":65535", True),
        ("registry.local:0", False),
        ("registry.local:65536", False),
        ("registry.local:123456", False),
        ("a" * 254 + ":65535", False),
        (":5000", False),
        ("user@registry.local", False),
        ("registry.local/team", False),
        ("-registry.local", False),
    ],
)
def test_registry_hosts(value: str, valid: bool) -> None:
    assert grammar.is_registry_host(value) is valid
