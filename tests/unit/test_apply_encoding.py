"""The apply body's encoding: JSON that the apiserver's YAML reader reads as JSON does."""

from __future__ import annotations

import json

import yaml
from kserve_functions.kube.transport import yaml_safe_json


def test_characters_beyond_the_basic_plane_go_as_utf8_not_surrogate_escapes() -> None:
    body = yaml_safe_json({"env": "model \N{ROCKET} ready"})

    assert "\N{ROCKET}".encode() in body
    assert b"\\ud83d" not in body
    assert json.loads(body) == {"env": "model \N{ROCKET} ready"}


def test_what_yaml_refuses_raw_is_escaped_and_reads_back_the_same() -> None:
    value = {"text": "a\x85b\u2028c\x7fd\ufffee\x9ff"}

    body = yaml_safe_json(value)

    for raw in ("\x85", "\u2028", "\x7f", "\ufffe", "\x9f"):
        assert raw.encode() not in body
    assert yaml.safe_load(body.decode()) == value
    assert json.loads(body) == value
