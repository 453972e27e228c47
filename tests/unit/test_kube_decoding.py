"""Reading the apiserver: JSON decoded to json's values, watch streams split into lines."""

from __future__ import annotations

import json

import orjson
import pytest
from kserve_functions.kube.transport import complete_lines, loads

# The apiserver's own output (a model with numbers given to status, which has no
# schema), then what else json accepts: every case must decode as json decodes it.
CASES = [
    b'{"status":{"big":1.2345678901234568e+29,"neg":-9223372036854776000,'
    b'"u":18446744073709552000,"max":9223372036854775807,"x":1e+21,"e":1}}',
    b'{"type":"ADDED","object":{"metadata":{"name":"m","resourceVersion":"123",'
    b'"generation":1},"spec":{"predictor":{"minReplicas":0}}}}',
    b'{"n":123456789012345678901234567890}',
    b'{"n":-9223372036854775809}',
    b'{"n":18446744073709551616}',
    b'{"uid":"1234567890123456789012"}',
    b'{"f":0.1,"g":-0.0,"h":5e-324,"i":1.7976931348623157e308,"j":1e-400}',
    b'{"n":NaN,"i":Infinity}',
    b'{"s":"\\ud800 alone"}',
    b'{"s":"\\u00e9\\ud83d\\ude80 \xc3\xa9"}',
    b'\xef\xbb\xbf{"bom":true}',
    b'{"a":1,"a":2}',
    b"[1,2]",
    b"null",
]


@pytest.mark.parametrize("raw", CASES)
def test_answers_decode_to_the_values_json_gives(raw: bytes) -> None:
    # repr: a float where json gives an int (or the reverse) differs, and NaN is
    # not equal to itself.
    assert repr(loads(raw)) == repr(json.loads(raw))


def test_integers_beyond_64_bits_stay_integers_though_orjson_reads_them_as_floats() -> None:
    raw = b'{"neg":-9223372036854776000}'

    assert isinstance(orjson.loads(raw)["neg"], float)
    assert loads(raw)["neg"] == -9223372036854776000
    assert isinstance(loads(raw)["neg"], int)


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a":}', b"\xff{}"])
def test_what_is_not_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        loads(raw)


def _lines_of(chunks: list[bytes]) -> list[bytes]:
    partial: list[bytes] = []
    lines = [line for chunk in chunks for line in complete_lines(chunk, partial)]
    return [*lines, b"".join(partial)] if partial else lines


def test_a_line_split_over_chunks_is_joined() -> None:
    partial: list[bytes] = []

    assert complete_lines(b'{"type":"ADD', partial) == []
    assert complete_lines(b'ED","object":', partial) == []
    assert complete_lines(b'{}}\n{"type"', partial) == [b'{"type":"ADDED","object":{}}']
    assert partial == [b'{"type"']
    assert complete_lines(b"\n", partial) == [b'{"type"']
    assert partial == []


def test_every_way_of_cutting_a_stream_gives_its_lines() -> None:
    stream = b'{"a":1}\n{"b":2}\n\n{"c":3}\n{"d":4}'

    for first in range(len(stream) + 1):
        for second in range(first, len(stream) + 1):
            chunks = [stream[:first], stream[first:second], stream[second:]]

            assert _lines_of(chunks) == stream.split(b"\n")


def test_a_stream_ending_with_a_newline_leaves_nothing_pending() -> None:
    partial: list[bytes] = []

    assert complete_lines(b'{"a":1}\n{"b":2}\n', partial) == [b'{"a":1}', b'{"b":2}']
    assert partial == []
