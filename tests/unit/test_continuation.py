"""Continue tokens of lists over several namespaces (``kserve_functions.core.continuation``)."""

from __future__ import annotations

import pytest
from kserve_functions.core import continuation

APISERVER_TOKEN = "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"


@pytest.mark.parametrize(
    ("namespace", "token"),
    [("ns-a", APISERVER_TOKEN), ("b", ""), ("a" * 63, "x" * 500), ("ns", "with\nnewline")],
)
def test_continue_tokens_round_trip(namespace: str, token: str) -> None:
    encoded = continuation.encode_continue(namespace, token)

    assert continuation.decode_continue(encoded) == (namespace, token)


def test_continue_tokens_are_url_safe_and_unpadded() -> None:
    encoded = continuation.encode_continue("ns-a", APISERVER_TOKEN + "?&/+")

    assert encoded.startswith("ns.")
    assert all(c.isalnum() or c in "-_." for c in encoded)


@pytest.mark.parametrize(
    "value",
    [
        APISERVER_TOKEN,  # the apiserver's own token: no prefix
        "ns.!!!",  # not base64
        "ns." + "bm8tbmV3bGluZQ",  # base64 of "no-newline": no namespace part
        "ns.__8",  # base64 of bytes that are not UTF-8
        "",
    ],
    ids=["apiserver-token", "not-base64", "no-newline", "not-utf-8", "empty"],
)
def test_what_is_not_a_continue_token_decodes_to_none(value: str) -> None:
    assert continuation.decode_continue(value) is None
